"""Small helpers shared by the `plugindev run` benchmarks (the test helpers in tests/ do the heavy lifting)."""

from __future__ import annotations

import argparse
import math
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from go_support import use_sdk_proxy  # noqa: E402  (tests/ is on the path only now)

use_sdk_proxy()


def arguments(rounds: int, what: str = "rounds", more: Callable[[argparse.ArgumentParser], object] | None = None
              ) -> argparse.Namespace:
    """The bench's command line: `--rounds N` (`rounds` by default; scripts/test.sh runs every bench with
    `--rounds 1` so that none breaks unseen), and what `more` adds."""
    main = sys.modules["__main__"]
    parser = argparse.ArgumentParser(description=(main.__doc__ or "").split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=rounds, metavar="N", help=f"{what} (default: {rounds})")
    if more is not None:
        more(parser)
    return parser.parse_args()


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0-100)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(len(ordered) * p / 100) - 1))]


def median(values: list[float]) -> float:
    return statistics.median(values)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def bench_dir(prefix: str) -> Iterator[Path]:
    """A temporary folder removed afterwards; SIGTERM/SIGHUP unwind like Ctrl+C so every `finally` runs."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupt)
    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def plugindev(*args: str, timeout: float = 600) -> None:
    result = subprocess.run([sys.executable, "-m", "orchestrator", *args], cwd=REPO, capture_output=True,
                            text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise SystemExit(f"plugindev {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def scaffold_plugin(work: Path, template: str, plugin_id: str = "hello") -> Path:
    """`plugindev scaffold <work>/work/<id>`: a plugin on the real Omniview SDK (from the Go module proxy)."""
    plugin = work / "work" / plugin_id
    plugindev("scaffold", str(plugin), "--id", plugin_id, "--template", template)
    return plugin


def set_hint(page_file: Path, text: str) -> None:
    """Write `text` into the `data-testid="hint"` paragraph of a scaffolded page (a UI edit)."""
    source = page_file.read_text()
    start = source.index('data-testid="hint">') + len('data-testid="hint">')
    page_file.write_text(source[:start] + text + source[source.index("</p>", start):])


HINT_WATCH = """(text) => { window.__seen = new Promise((resolve) => {
  const check = () => document.querySelector('[data-testid=hint]')?.textContent === text;
  const observer = new MutationObserver(() => {
    if (check()) { observer.disconnect(); resolve(Date.now()); }
  });
  observer.observe(document.body, { subtree: true, childList: true, characterData: true });
  setTimeout(() => resolve(document.querySelector('[data-testid=hint]')?.textContent ?? 'no hint'), 10000);
}); }"""
"""Arms window.__seen: the wall-clock time the preview's hint shows `text` (its text after 10 s if never)."""


def hint_edit_times(browser: Any, page_file: Path, rounds: int) -> list[float]:
    """ms from writing a new text into the `data-testid="hint"` paragraph of `page_file` to the page showing it,
    `rounds` times, in the page `browser` (a tests/browser_driver.Browser) has open."""
    times = []
    for round_ in range(rounds):
        text = f"bench edit {round_}"
        browser.evaluate(HINT_WATCH, text)
        start = time.time() * 1000
        set_hint(page_file, text)
        seen = browser.evaluate("() => window.__seen")
        if not isinstance(seen, int | float):
            raise SystemExit(f"UI edit {round_}: the page's hint still says {seen!r} after 10 s; "
                             f"console: {browser.messages()[-5:]}")
        times.append(seen - start)
        time.sleep(0.1)  # as hmr_check.mjs: Vite re-reads a file it saw empty for up to 100 ms
    return times


def row(name: str, samples: list[float], target: float | None = None) -> None:
    ratio = f"{pct(samples, 95) / target:11.2f}" if target else f"{'':11}"
    print(f"{name:34} {median(samples):8.0f} {pct(samples, 95):8.0f} {max(samples):8.0f} {len(samples):5} {ratio}")
