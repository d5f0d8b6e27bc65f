"""Time the dashboard and the preview host in headless browsers (issue 10), against a real `plugindev serve`:

- Go save → the dashboard card shows `building`, then `ready` with the new process (p50, p95);
- UI edit → the preview's DOM updated by Fast Refresh (p95, target < 100 ms as bench/hmr_browser.py);
- Go save → the preview's plugin subtree re-mounted (p50, p95);
- the preview's first load: navigation → the plugin rendered (once);
- the dashboard with 10 plugins x 5000 kept log lines (the real API and event history in this process, fed
  synthetic events): first contentful paint, every line received and shown, and frame times while following
  10 x 100 new lines a second.

    python bench/dashboard.py [--rounds N] [ENGINE ...]    (engines: chromium, the default; firefox; webkit)

Each engine is measured in the same run, one after the other, so their numbers can be compared.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from _bench import arguments, bench_dir, hint_edit_times, median, pct, row, scaffold_plugin
from api_support import ApiClient  # tests/ is on the path through _bench
from browser_driver import Browser
from run_support import run_env, running
from web_support import CHIP_RECORDER, open_page

if TYPE_CHECKING:
    from orchestrator.model.events import LogAppended

ROUNDS = 10
PLUGINS = 10
LINES = 5000
FOLLOW_SECONDS = 5.0
FOLLOW_RATE = 100  # new lines a second per plugin while following


def _go_touch(main_go: Path, round_: int) -> None:
    main_go.write_text(main_go.read_text() + f"\n// bench save {round_}\n")


def card_and_preview(work: Path, rounds: int, engine: str) -> None:
    plugin = scaffold_plugin(work, "full", "hello")
    main_go, page_file = plugin / "pkg" / "main.go", plugin / "ui" / "src" / "pages" / "HomePage.tsx"
    state_root = work / "state"
    building, ready, remount = [], [], []
    with running([], run_env(state_root), command="serve"), Browser(engine) as dashboard, \
            Browser(engine) as preview:
        api = ApiClient.wait_for(state_root)
        api.call("POST", "/api/plugins", {"path": str(plugin)})
        api.wait_state("hello", lambda s: s["goStatus"] == "ready" and bool(s["viteURL"]), 600, "ready")
        open_page(dashboard, api)
        dashboard.wait("() => document.querySelector('[data-plugin=hello]')?.dataset.status === 'ready'")
        dashboard.evaluate(CHIP_RECORDER)
        opened = time.time() * 1000
        open_page(preview, api, "/preview/hello")
        first_load = preview.wait("() => window.__preview?.ready && Date.now()", timeout=120) - opened
        for round_ in range(rounds):
            seen = len(dashboard.evaluate("() => window.__chips"))
            mounts = preview.evaluate("() => window.__preview.view.mounts")
            start = time.time() * 1000
            _go_touch(main_go, round_)
            dashboard.wait(f"() => window.__chips.slice({seen}).some(([, s]) => s === 'building') && "
                           f"window.__chips.slice({seen}).at(-1)[1] === 'ready'", timeout=120)
            chips = dashboard.evaluate("() => window.__chips")[seen:]
            building.append(next(t for _id, s, t in chips if s == "building") - start)
            ready.append(chips[-1][2] - start)
            shown = preview.wait(f"() => window.__preview.view.mounts > {mounts} && Date.now()", timeout=120)
            remount.append(shown - start)
        ui = hint_edit_times(preview, page_file, rounds)
    print(f"{'measure (ms)':34} {'p50':>8} {'p95':>8} {'max':>8} {'n':>5} {'p95/target':>11}")
    row("Go save → card shows building", building)
    row("Go save → card shows ready", ready)
    row("UI edit → preview DOM updated", ui, 100.0)
    row("Go save → preview re-mounted", remount)
    row("preview opened → plugin rendered", [first_load])


def _line(plugin_id: str, n: int) -> LogAppended:
    from orchestrator.model.events import Level, LogAppended, LogEntry, Source

    source = (Source.VITE, Source.GO_BUILD, Source.MANAGER, Source.PLUGIN)[n % 4]
    level = (Level.INFO, Level.DEBUG, Level.WARN, Level.ERROR)[n % 7 % 4]
    return LogAppended(LogEntry("2025-01-01T00:00:00.000Z", source, level, f"line {n} of {plugin_id} " + "x" * 40,
                                plugin_id))


def many_plugins(work: Path, engine: str) -> None:
    """The real Api (guard, routes, history) on 127.0.0.1 in this process; its bus gets synthetic events."""
    from orchestrator.api.handlers import Api
    from orchestrator.api.history import EventHistory
    from orchestrator.devloop.context import RunOptions
    from orchestrator.devloop.manager import DevManager
    from orchestrator.model.events import StatusChanged
    from orchestrator.model.state import DevState, Status
    from orchestrator.web.server import ApiServer

    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, ApiServer] = {}

    async def serve() -> None:
        manager = DevManager(work, RunOptions(), fail_fast=False)
        server = ApiServer(Api(manager, EventHistory(manager.bus)), work)
        await server.start()
        for p in range(PLUGINS):
            plugin_id = f"plugin-{p}"
            state = DevState(plugin_id, f"/tmp/{plugin_id}", viteStatus=Status.READY, goStatus=Status.READY,
                             grpcConnected=True)
            manager.bus.publish(StatusChanged(state))
            for n in range(LINES):
                manager.bus.publish(_line(plugin_id, n))
        holder["server"] = server
        started.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(serve()), loop.run_forever()), daemon=True)
    thread.start()
    started.wait(60)
    server = holder["server"]

    def publish_live(stop: threading.Event) -> None:
        n = LINES
        while not stop.is_set():
            for p in range(PLUGINS):
                loop.call_soon_threadsafe(server.api.manager.bus.publish, _line(f"plugin-{p}", n))
            n += 1
            time.sleep(1 / FOLLOW_RATE)

    total = PLUGINS * LINES
    with Browser(engine) as browser:
        start = time.time() * 1000
        browser.goto(f"{server.url}/?token={server.api.token}")
        fcp = browser.wait("() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? "
                           "(document.readyState === 'complete' && 'n/a')")
        loaded = browser.wait(f"""() => {{
          const store = window.__dashboard;
          const kept = [...store.logs.values()].reduce((n, k) => n + k.entries.length, 0);
          return kept >= {total} && document.querySelectorAll('[data-testid=card]').length === {PLUGINS}
            && Date.now();
        }}""", timeout=120)
        rows = browser.evaluate("() => document.querySelectorAll('[data-testid=log-row]').length")
        stop = threading.Event()
        feeder = threading.Thread(target=publish_live, args=(stop,), daemon=True)
        feeder.start()
        frames = browser.evaluate(f"""() => new Promise((resolve) => {{
          const deltas = []; let last = performance.now(); const end = last + {FOLLOW_SECONDS * 1000};
          const tick = (now) => {{ deltas.push(now - last); last = now;
            if (now < end) requestAnimationFrame(tick); else resolve(deltas); }};
          requestAnimationFrame(tick);
        }})""")
        stop.set()
        feeder.join()
    loop.call_soon_threadsafe(loop.stop)
    print(f"\ndashboard, {PLUGINS} plugins x {LINES} kept lines ({total} events replayed):")
    paint = f"{fcp:.0f} ms" if isinstance(fcp, int | float) else "not reported by this engine"
    print(f"  first contentful paint {paint}; every line received and the cards shown {loaded - start:.0f} ms "
          f"after navigation; log rows in the DOM: {rows} (virtualised)")
    print(f"  following {PLUGINS} x {FOLLOW_RATE} lines/s for {FOLLOW_SECONDS:.0f} s: {len(frames)} frames, frame time "
          f"p50 {median(frames):.1f} ms, p95 {pct(frames, 95):.1f} ms, max {max(frames):.1f} ms")


def main() -> None:
    args = arguments(ROUNDS, "saves and edits timed", lambda parser: parser.add_argument(
        "engines", nargs="*", default=["chromium"], metavar="ENGINE", help="chromium (the default), firefox, webkit"))
    for engine in args.engines:
        print(f"\n== {engine}")
        with bench_dir(f"bench-dashboard-{engine}-") as work:
            card_and_preview(work, args.rounds, engine)
            many_plugins(work / "many", engine)


if __name__ == "__main__":
    main()
