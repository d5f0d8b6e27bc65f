"""Time `plugindev gen-shims` on the 63-specifier default list: cold, no-change, and full re-discovery.

cold: an empty output folder (names come from the bundled lock, no Node);
no-change: a second run over an up-to-date folder (must write nothing);
rediscover: every npm-published specifier imported again in Node (npm packages cached after the first run:
the median leaves that one out).
Prints medians and the ratio of each to the SPEC §8 target.

    python bench/gen_shims.py [--rounds RUNS]
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _bench import arguments

RUNS = 5
REDISCOVER_RUNS = 3


def _time(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "orchestrator", "gen-shims", *args], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    runs = arguments(RUNS, "runs of each case").rounds
    work = Path(tempfile.mkdtemp(prefix="bench-gen-shims-"))
    try:
        out = work / "pkg"
        cold, unchanged = [], []
        for _ in range(runs):
            shutil.rmtree(out, ignore_errors=True)
            cold.append(_time(["--out", str(out)]))
            unchanged.append(_time(["--out", str(out)]))
        rediscover = [_time(["--out", str(work / f"r{i}"), "--rediscover"]) for i in range(min(runs, REDISCOVER_RUNS))]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = [
        ("cold (bundled lock)", cold, 10.0),
        ("no change", unchanged, 1.0),
        ("rediscover 36 in Node", rediscover, 10.0),
    ]
    print(f"{'case':24} {'median s':>9} {'min s':>7} {'target s':>9} {'median/target':>14}")
    for name, samples, target in rows:
        median = statistics.median(samples)
        print(f"{name:24} {median:9.3f} {min(samples):7.3f} {target:9.1f} {median / target:14.2f}")


if __name__ == "__main__":
    main()
