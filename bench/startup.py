"""Time `plugindev run` on a full plugin (UI + Go), caches warm → ready (SPEC §8: < 3 s).

Scaffolds `--template full` (a plugin on the real Omniview SDK) into a temporary folder and does one cold run:
an empty Go build cache (GOCACHE pointed at a new folder), npm packages and Node env as they are. Then one
unmeasured warm-up run, then RUNS times starts `plugindev run --json` on the same folder and state root, and
measures, from just before the process is spawned:

  .devinfo      until `<state>/plugins/hello/.devinfo` exists (polled every 5 ms)
  "ready in"    until the "ready in" log line (its timestamp, ms resolution)
  self-reported the seconds in that line (plugindev's own clock, from its session start)
  go build      lastBuildDuration of the initial build (reported apart: it is Go's share)

Each run is stopped with Ctrl+C (SIGINT) before the next. Prints medians and median / 3 s.

    python bench/startup.py [--rounds RUNS] [--no-cold]
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path

from _bench import arguments, bench_dir, median, scaffold_plugin  # also puts tests/ on sys.path
from run_support import RunHandle, devinfo, run_env, running

RUNS = 5
TARGET_S = 3.0
PLUGIN_ID = "hello"
TIMEOUT_S = 60.0
WARMUP_TIMEOUT_S = 900.0
_READY = re.compile(r"^ready in ([0-9.]+) s")


def _ready_line(run: RunHandle) -> dict[str, str] | None:
    return next((e for e in run.logs() if _READY.match(e["message"])), None)


def _one_run(plugin: Path, state_root: Path, timeout: float, **env: str) -> dict[str, float]:
    if devinfo(state_root, PLUGIN_ID) is not None:
        raise RuntimeError("a .devinfo from the previous run is still there")
    wall0, t0 = time.time(), time.perf_counter()
    with running([str(plugin)], run_env(state_root, **env)) as run:
        deadline = t0 + timeout
        while devinfo(state_root, PLUGIN_ID) is None:
            if time.perf_counter() > deadline or run.process.poll() is not None:
                raise RuntimeError(f"no .devinfo after {time.perf_counter() - t0:.1f} s; "
                                   f"last logs: {run.last_logs()}; stderr: {run.stderr[-5:]}")
            time.sleep(0.005)
        t1 = time.perf_counter()
        line = run.wait_for(_ready_line, 10, "the ready line")
        if run.interrupt() != 0:
            raise RuntimeError(f"plugindev run did not exit 0 on Ctrl+C: {run.stderr[-5:]}")
    stamp = datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00")).timestamp()
    match = _READY.match(line["message"])
    assert match is not None
    build_ns = next(s["lastBuildDuration"] for s in reversed(run.statuses()) if s["lastBuildDuration"])
    return {"devinfo": t1 - t0, "ready log": stamp - wall0, "self-reported": float(match.group(1)),
            "go build": build_ns / 1e9}


def main() -> None:
    args = arguments(RUNS, "warm starts timed", lambda parser: parser.add_argument(
        "--no-cold", action="store_true", help="skip the cold start (its go build compiles the whole SDK: minutes)"))
    with bench_dir("bench-startup-") as work:
        plugin = scaffold_plugin(work, "full", PLUGIN_ID)
        state_root = work / "state"
        cold = None if args.no_cold else _one_run(plugin, state_root, WARMUP_TIMEOUT_S,
                                                  GOCACHE=str(work / "empty-gocache"))
        _one_run(plugin, state_root, WARMUP_TIMEOUT_S)  # the user's Go cache now holds this plugin's build too
        samples = [_one_run(plugin, state_root, TIMEOUT_S) for _ in range(args.rounds)]
    if cold is not None:
        print(f"cold start (empty Go build cache): .devinfo after {cold['devinfo']:.2f} s, of which go build "
              f"{cold['go build']:.2f} s; without it {cold['devinfo'] - cold['go build']:.2f} s")
    print(f"{args.rounds} warm starts of `plugindev run` on a scaffolded full plugin (Vite + Go, real SDK)")
    print(f"{'start →':16} {'median s':>9} {'min s':>7} {'max s':>7} {'target s':>9} {'median/target':>14}")
    for key in ("devinfo", "ready log", "self-reported", "go build"):
        values = [s[key] for s in samples]
        print(f"{key:16} {median(values):9.2f} {min(values):7.2f} {max(values):7.2f} {TARGET_S:9.1f} "
              f"{median(values) / TARGET_S:14.2f}")
    print("per run .devinfo s: " + ", ".join(f"{s['devinfo']:.2f}" for s in samples))


if __name__ == "__main__":
    main()
