"""The preview's load and edit times on a plugin in the shape of the real ones (tests/fixtures/previews/routes-mui:
MUI subpaths Vite pre-bundles with the shims, routes, PluginContext read on the first render), under a real
`plugindev serve`, in one run:

- first view: a new browser (empty cache) opens /preview/<id> → the plugin's own DOM is there;
- later views: the same browser opens it again (the shared packages come from its cache);
- UI edit → the preview's DOM updated by Fast Refresh.

Targets (issue 15): first view ≤ 2 s, later views ≤ 0.5 s, UI edit → DOM p95 < 100 ms.

    .venv/bin/python bench/preview.py [--rounds LOADS] [ENGINE]
"""

from __future__ import annotations

import shutil

from _bench import REPO, arguments, bench_dir, hint_edit_times, row
from api_support import ApiClient  # tests/ is on the path through _bench
from browser_driver import Browser
from run_support import run_env, running
from web_support import open_page

LOADS = 10
FIXTURE = REPO / "tests" / "fixtures" / "previews" / "routes-mui"
PLUGIN_DOM = "() => document.querySelector('[data-testid=plugin-title]') && performance.now()"


def view(browser: Browser, api: ApiClient) -> float:
    """Open the preview; ms from navigation start to the plugin's own DOM."""
    open_page(browser, api, "/preview/routes-mui")
    return float(browser.wait(PLUGIN_DOM, timeout=120))


def main() -> None:
    args = arguments(LOADS, "later views and UI edits timed", lambda parser: parser.add_argument(
        "engine", nargs="?", default="chromium", help="chromium (the default), firefox, webkit"))
    loads, engine = args.rounds, args.engine
    with bench_dir("bench-preview-") as work:
        plugin = work / "routes-mui"
        shutil.copytree(FIXTURE, plugin)
        shutil.copy(REPO / "tests" / "fixtures" / "uis" / "vite.config.ts", plugin / "ui" / "vite.config.ts")
        page_file = plugin / "ui" / "src" / "ItemList.tsx"
        state_root = work / "state"
        first: list[float] = []
        later: list[float] = []
        with running([], run_env(state_root), command="serve"):
            api = ApiClient.wait_for(state_root)
            api.call("POST", "/api/plugins", {"path": str(plugin)})
            api.wait_state("routes-mui", lambda s: bool(s["viteURL"]), 600, "Vite ready")
            with Browser(engine) as browser:  # warms Vite's transforms and pre-bundling, not measured
                view(browser, api)
            for _ in range(loads):
                with Browser(engine) as browser:
                    first.append(view(browser, api))
            with Browser(engine) as browser:
                view(browser, api)
                for _ in range(loads):
                    later.append(view(browser, api))
                edits = hint_edit_times(browser, page_file, loads)
        print(f"\n== {engine}: preview of {FIXTURE.name}, {loads} loads each")
        print(f"{'measure (ms)':34} {'p50':>8} {'p95':>8} {'max':>8} {'n':>5} {'p95/target':>11}")
        row("first view (empty cache)", first, 2000.0)
        row("later view (same browser)", later, 500.0)
        row("UI edit → preview DOM updated", edits, 100.0)


if __name__ == "__main__":
    main()
