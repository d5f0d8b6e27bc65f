"""Small helpers shared by the `plugindev run` benchmarks (the test helpers in tests/ do the heavy lifting)."""

from __future__ import annotations

import math
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from go_support import use_sdk_proxy  # noqa: E402  (tests/ is on the path only now)

use_sdk_proxy()


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
