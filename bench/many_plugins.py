"""Many plugins under one `plugindev serve`: the time from a restart to the first and to the last plugin ready,
with the build pool (`--jobs` by default: one Go build per core, the plugins in the order they were added) and
without it (`--jobs <plugins>`: every build at once, as before the pool), and the peak memory of serve and all
it runs meanwhile.

The plugins are copies of the go-plugin test fixture (real Go builds and processes, no Vite). A first `serve`
starts them all once (it fills Go's build cache for each copy); then, per mode and round, `serve` starts again
on the same state root, restores the saved set, and each plugin's time is that of its "ready in" line (its
timestamp) counted from just before `serve` was started; "go build" is the median of the builds' own times
(`built in`). Rounds alternate the modes.

    python bench/many_plugins.py [--rounds N] [--plugins N]
"""

from __future__ import annotations

import os
import time
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psutil
from _bench import arguments, bench_dir, median  # also puts tests/ on sys.path
from go_support import copy_fixture
from run_support import RunHandle, run_env, running

from orchestrator.statefiles.managed import SavedSet, encode_saved_set

ROUNDS = 2
PLUGINS = 30
READY_TIMEOUT = 600.0  # seconds for all plugins to be ready (the first serve builds every copy)


def _plugins(work: Path, count: int) -> list[Path]:
    plugins = []
    for i in range(count):
        plugin = copy_fixture(work / f"p{i}")
        manifest = plugin / "plugin.yaml"
        manifest.write_text(manifest.read_text().replace("testplugin", f"p{i}"))
        plugins.append(plugin)
    return plugins


def _logged(serve: RunHandle, prefix: str) -> dict[str, tuple[float, str]]:
    """Each plugin's line that starts with `prefix`: its wall-clock time and its text."""
    return {event["pluginID"]: (datetime.fromisoformat(entry["timestamp"]).timestamp(), entry["message"])
            for event in list(serve.events) if event["event"] == "plugin/devserver/log"
            for entry in event["data"] if entry["message"].startswith(prefix)}


def _tree_rss_mb(pid: int) -> float:
    """The memory of a process and everything it runs (go builds, compilers, linkers, plugins)."""
    total = 0
    with suppress(psutil.Error):
        root = psutil.Process(pid)
        for process in [root, *root.children(recursive=True)]:
            with suppress(psutil.Error):
                total += process.memory_info().rss
    return total / 2**20


@dataclass
class Restart:
    ready: list[float]  # each plugin's seconds from starting serve to its ready line, sorted
    builds: list[float]  # each plugin's go build, seconds (the time it waited for the pool left out)
    peak_mib: float  # the most memory serve and all it ran held at once


def _restart(state_root: Path, count: int, jobs: int) -> Restart:
    """One `serve` on the saved set, until every plugin is ready."""
    env = run_env(state_root, TESTPLUGIN_ID_FROM_COOKIE="1")
    started = time.time()
    with running(["--jobs", str(jobs)], env, command="serve") as serve:
        peak = 0.0
        deadline = time.monotonic() + READY_TIMEOUT
        while len(_logged(serve, "ready in ")) < count:
            if time.monotonic() > deadline or serve.process.poll() is not None:
                raise SystemExit(f"{len(_logged(serve, 'ready in '))} of {count} plugins ready; last: "
                                 f"{serve.last_logs()}")
            peak = max(peak, _tree_rss_mb(serve.process.pid))
            time.sleep(0.1)
        ready = sorted(at - started for at, _line in _logged(serve, "ready in ").values())
        builds = [float(line.split()[2]) for _at, line in _logged(serve, "built in ").values()]  # "built in 1.26 s"
        if serve.interrupt() != 0:
            raise SystemExit(f"serve did not stop cleanly: {serve.stderr[-5:]}")
    return Restart(ready, builds, peak)


def main() -> None:
    args = arguments(ROUNDS, "restarts per mode",
                     lambda parser: parser.add_argument("--plugins", type=int, default=PLUGINS, metavar="N",
                                                        help=f"plugins under serve (default: {PLUGINS})"))
    cores = os.cpu_count() or 1
    modes = {f"--jobs {cores} (the pool, one per core)": cores, f"--jobs {args.plugins} (all at once)": args.plugins}
    results: dict[str, list[Restart]] = {label: [] for label in modes}
    with bench_dir("bench-many-plugins-") as work:
        plugins = _plugins(work, args.plugins)
        state_root = work / "state"
        saved = state_root / "plugindev" / "managed.json"
        saved.parent.mkdir(parents=True)
        saved.write_bytes(encode_saved_set(SavedSet(tuple(plugins))))
        _restart(state_root, args.plugins, cores)  # fills Go's build cache for every copy
        for round_ in range(args.rounds):
            for label, jobs in (modes.items() if round_ % 2 == 0 else reversed(modes.items())):
                results[label].append(_restart(state_root, args.plugins, jobs))
    print(f"{args.plugins} plugins under serve (copies of the go-plugin test fixture), {args.rounds} restart(s) per "
          f"mode, {cores} cores; seconds from starting serve to a plugin's ready line (medians over the restarts)")
    print(f"{'mode':36} {'first':>7} {'median':>7} {'last':>7} {'go build':>9} {'peak MiB':>9}")
    for label, runs in results.items():
        print(f"{label:36} {median([run.ready[0] for run in runs]):7.1f} "
              f"{median([median(run.ready) for run in runs]):7.1f} {median([run.ready[-1] for run in runs]):7.1f} "
              f"{median([median(run.builds) for run in runs]):9.2f} {median([run.peak_mib for run in runs]):9.0f}")


if __name__ == "__main__":
    main()
