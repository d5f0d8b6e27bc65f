"""Time UI edit → DOM updated by Fast Refresh in headless Chromium, state kept (SPEC §8: p95 < 100 ms).

Scaffolds a plugin into a temporary folder, `plugindev link`s it, starts its Vite (own process group, free
port on 127.0.0.1), and runs tests/browser/hmr_check.mjs: a real host page (like the IDE's) renders the
plugin, the counter is clicked 3 times, then HomePage.tsx is edited ROUNDS times; each round measures the
time from the file write to the new text in the DOM (MutationObserver) and to the next frame.
Prints p50/p95 and the ratio of p95 to the target. Needs /usr/bin/chromium (or $PLUGINDEV_CHROMIUM).

    python bench/hmr_browser.py [--rounds N]
"""

from __future__ import annotations

import math
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _bench import REPO, arguments  # also puts tests/ on sys.path
from browser_support import find_chromium, run_hmr_check
from vite_support import ViteProcesses, free_port

ROUNDS = 20
TARGET_MS = 100.0


def _plugindev(*args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "orchestrator", *args], cwd=REPO, capture_output=True,
                            text=True, timeout=600)
    if result.returncode != 0:
        raise SystemExit(f"plugindev {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(len(ordered) * p / 100) - 1))]


def main() -> None:
    rounds = arguments(ROUNDS, "edits timed").rounds
    if find_chromium() is None:
        raise SystemExit("no Chromium at /usr/bin/chromium (set PLUGINDEV_CHROMIUM)")
    work = Path(tempfile.mkdtemp(prefix="bench-hmr-browser-"))
    try:
        plugin = work / "hello-plugin"
        _plugindev("scaffold", str(plugin), "--id", "hello-plugin", "--name", "Hello Plugin")
        _plugindev("link", str(plugin))
        with ViteProcesses() as procs:
            host_port = free_port()  # the host page's: the scaffold's Vite lets in the origins this names
            server = procs.start(plugin / "ui", env={"PLUGINDEV_CORS_ORIGINS": f"http://127.0.0.1:{host_port}"})
            result = run_hmr_check(server.port, plugin / "ui" / "src" / "pages" / "HomePage.tsx", rounds=rounds,
                                   hostPort=host_port)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not result["ok"]:
        raise SystemExit(f"check failed: {result['failures']} {result['errors']}")
    dom, frame = result["latenciesMs"], result["frameLatenciesMs"]
    print(f"{rounds} edits; counter kept: {result['counterAfter']!r}; reloaded: {result['reloaded']}; "
          f"same useState: {result['sameUseState']}")
    print(f"write→DOM ms:   {dom}")
    print(f"write→frame ms: {frame}")
    print(f"{'measure':14} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'mean ms':>8} {'target ms':>10} "
          f"{'p95/target':>11}")
    for name, samples in (("write→DOM", dom), ("write→frame", frame)):
        p95 = _pct(samples, 95)
        print(f"{name:14} {_pct(samples, 50):7.0f} {p95:7.0f} {max(samples):7.0f} {statistics.mean(samples):8.1f} "
              f"{TARGET_MS:10.0f} {p95 / TARGET_MS:11.2f}")


if __name__ == "__main__":
    main()
