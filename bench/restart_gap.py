"""The moment the IDE has no live plugin during a Go reload, with and without `--overlap` (target: 0 ms).

For each mode, `plugindev run` on a scaffolded backend plugin (real SDK); ROUNDS times the build is asked
for again through the control API (`POST /api/plugins/<id>/rebuild`, as the IDE's RebuildPlugin), and
`.devinfo` is polled every millisecond until it names the new process. The gap of a round is how long no
`.devinfo` (or one whose process is not running) was there in between.

    python bench/restart_gap.py [--rounds N]
"""

from __future__ import annotations

import time
from pathlib import Path

from _bench import arguments, bench_dir, median, pct, scaffold_plugin  # also puts tests/ on sys.path
from api_support import ApiClient
from run_support import devinfo, ready, run_env, running

from orchestrator.common.process import is_alive

ROUNDS = 10
PLUGIN_ID = "gap"
MODES = (("--overlap (default)", []), ("--no-overlap", ["--no-overlap"]))


def _gap(api: ApiClient, state_root: Path) -> float:
    """One rebuild: seconds during which no live process was advertised."""
    old = devinfo(state_root, PLUGIN_ID)
    assert old is not None
    api.call("POST", f"/api/plugins/{PLUGIN_ID}/rebuild")
    gap, since = 0.0, None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        info = devinfo(state_root, PLUGIN_ID)
        live = info is not None and is_alive(info["pid"])
        now = time.monotonic()
        if not live and since is None:
            since = now
        elif live and since is not None:
            gap, since = gap + now - since, None
        if live and info is not None and info["pid"] != old["pid"]:
            return gap
        time.sleep(0.001)
    raise TimeoutError("no new process advertised within 60 s")


def main() -> None:
    rounds = arguments(ROUNDS, "rebuilds timed per mode").rounds
    with bench_dir("bench-restart-gap-") as work:
        plugin = scaffold_plugin(work, "backend", PLUGIN_ID)
        results = []
        for label, args in MODES:
            state_root = work / f"state{len(results)}"
            with running([str(plugin), *args], run_env(state_root)) as run:
                run.wait_status(ready, 300, "the plugin ready")
                api = ApiClient.wait_for(state_root)
                run.wait_for(lambda _, root=state_root: devinfo(root, PLUGIN_ID), 30, ".devinfo")
                gaps = []
                for _ in range(rounds):
                    gaps.append(_gap(api, state_root) * 1000)
                    time.sleep(0.3)
            results.append((label, gaps))
    print(f"{rounds} rebuilds each: time with no live plugin advertised in .devinfo (polled every 1 ms)")
    print(f"{'mode':22} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}")
    for label, gaps in results:
        print(f"{label:22} {median(gaps):10.1f} {pct(gaps, 95):8.1f} {max(gaps):8.1f}")


if __name__ == "__main__":
    main()
