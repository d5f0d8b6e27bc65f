"""Type errors where the author looks: `tsc --watch` beside Vite (real tsc, real Vite), each check's errors in the
terminal once, in `--json`, through the API and in the dashboard (Chromium), cleared once fixed; Vite's transform
errors in the terminal without a browser, once also when a browser asks too; `--no-typecheck` starts no tsc."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from api_support import ApiClient
from browser_driver import Browser
from conftest import plugindev
from run_support import RunHandle, recorded_groups, run_env, running
from terminal_support import TerminalRun, terminal_run
from web_support import open_page

from orchestrator.common.node import install_dir
from orchestrator.devloop.typecheck import TYPESCRIPT, CheckOutput, error_lines
from orchestrator.model.events import BuildError, BuildErrors, EventBus
from orchestrator.model.record import PluginRecord
from orchestrator.model.state import DevState

START = 300.0  # a first start installs the UI's dependencies
CHECK = 120.0  # a type check on a loaded machine

# real `tsc --noEmit --watch --preserveWatchOutput --pretty false` output: a first check, and one after a fix
TSC_OUTPUT = """
11:51:00 AM - Starting compilation in watch mode...

src/a.ts(2,19): error TS2322: Type 'number' is not assignable to type 'string'.
src/a.ts(4,7): error TS2322: Type '(x: { a: { b: string; }; }) => void' is not assignable to type '(x: { a: { b: number; }; }) => void'.
  Types of parameters 'x' and 'x' are incompatible.
    Type '{ a: { b: number; }; }' is not assignable to type '{ a: { b: string; }; }'.
error TS6053: File '/p/ui/nothere.ts' not found.
  The file is in the program because:
    Part of 'files' list in tsconfig.json

11:51:05 AM - Found 3 errors. Watching for file changes.

11:51:09 AM - File change detected. Starting incremental compilation...


11:51:09 AM - Found 0 errors. Watching for file changes.
"""  # noqa: E501 (tsc's own line)


def test_tsc_watch_output_is_one_list_of_errors_per_check() -> None:
    checks: list[tuple[BuildError, ...]] = []
    output = CheckOutput(Path("/p/ui"), checks.append)
    for line in TSC_OUTPUT.splitlines():
        output.feed(line)
    assert checks == [(
        BuildError("/p/ui/src/a.ts", 2, 19, "TS2322: Type 'number' is not assignable to type 'string'.", "error",
                   "tsc"),
        BuildError("/p/ui/src/a.ts", 4, 7, "TS2322: Type '(x: { a: { b: string; }; }) => void' is not assignable to "
                   "type '(x: { a: { b: number; }; }) => void'.\nTypes of parameters 'x' and 'x' are incompatible.\n"
                   "  Type '{ a: { b: number; }; }' is not assignable to type '{ a: { b: string; }; }'.", "error",
                   "tsc"),
        BuildError("", 0, 0, "TS6053: File '/p/ui/nothere.ts' not found.\nThe file is in the program because:\n"
                   "  Part of 'files' list in tsconfig.json", "error", "tsc"),
    ), ()]
    # as the terminal says them: relative to the plugin, the message's next lines indented under it
    assert error_lines(checks[0][1], Path("/p")) == [
        "ui/src/a.ts:4:7: TS2322: Type '(x: { a: { b: string; }; }) => void' is not assignable to type "
        "'(x: { a: { b: number; }; }) => void'.",
        "  Types of parameters 'x' and 'x' are incompatible.",
        "    Type '{ a: { b: number; }; }' is not assignable to type '{ a: { b: string; }; }'."]
    assert error_lines(checks[0][2], Path("/p"))[0] == "TS6053: File '/p/ui/nothere.ts' not found."


GO = BuildError("/p/pkg/main.go", 1, 2, "undefined: x")
TS = BuildError("/p/ui/src/a.tsx", 3, 7, "TS2322: no", source="tsc")


def test_the_error_event_holds_every_sources_errors() -> None:
    async def scenario() -> list[BuildErrors]:
        bus = EventBus()
        queue = bus.subscribe()
        record = PluginRecord(bus, DevState(pluginID="p", devPath="/p"))
        record.report_errors("go", [])  # none before, none now: nothing to say
        record.report_errors("go", [GO])
        record.report_errors("tsc", [TS])
        record.report_errors("go", [])  # the Go build is fixed, the type error stays
        record.report_errors("tsc", [])
        record.report_errors("tsc", [])
        return [event.payload for event in (queue.get_nowait() for _ in range(queue.qsize()))
                if isinstance(event.payload, BuildErrors)]

    events = asyncio.run(scenario())
    assert [event.errors for event in events] == [(GO,), (GO, TS), (TS,), ()]
    assert events[1].to_json()["errors"][1] == {"file": "/p/ui/src/a.tsx", "line": 3, "column": 7,
                                                "message": "TS2322: no", "severity": "error", "source": "tsc"}


# -- real runs ---------------------------------------------------------------------------------------------------

TYPE_ERROR = "  const wrong: string = 42;\n"  # inserted before the page's first `const`: one TS2322 at its column 9


def _ui_plugin(tmp_path: Path, plugin_id: str = "typed") -> Path:
    plugin = tmp_path / plugin_id
    made = plugindev("scaffold", str(plugin), "--id", plugin_id, "--name", "Typed", "--template", "ui")
    assert made.returncode == 0, made.stderr
    return plugin


def _page(plugin: Path) -> Path:
    return plugin / "ui" / "src" / "pages" / "HomePage.tsx"


def _break_types(page: Path) -> int:
    """Add one type error to the page; its line."""
    lines = page.read_text().splitlines(keepends=True)
    at = next(i for i, text in enumerate(lines) if text.lstrip().startswith("const "))
    lines.insert(at, TYPE_ERROR)
    page.write_text("".join(lines))
    return at + 1


def _error_events(run: RunHandle) -> list[dict[str, Any]]:
    return [e["data"] for e in list(run.events) if e["event"] == "plugin/devserver/error"]


@pytest.mark.integration
def test_a_type_error_reaches_json_the_api_and_the_dashboard_and_clears_when_fixed(tmp_path: Path) -> None:
    plugin = _ui_plugin(tmp_path)
    page = _page(plugin)
    line = _break_types(page)
    where = {"file": str(page.resolve()), "line": line, "column": 9, "severity": "error", "source": "tsc"}
    state_root = tmp_path / "state"
    with running([], run_env(state_root), command="serve") as serve, Browser("chromium") as browser:
        api = ApiClient.wait_for(state_root)
        api.call("POST", "/api/plugins", {"path": str(plugin)})

        # --json: the error event and the log line, once
        def has_errors(run: RunHandle) -> list[dict[str, Any]]:
            return [e for e in _error_events(run) if e["errors"]]

        (event,) = serve.wait_for(has_errors, START, "the type error event")
        (error,) = event["errors"]
        assert {key: error[key] for key in where} == where and error["message"].startswith("TS2322: "), error
        said = f"ui/src/pages/HomePage.tsx:{line}:9: TS2322: Type 'number' is not assignable to type 'string'."
        assert [(e["level"], e["source"]) for e in serve.logs() if e["message"] == said] == [("error", "tsc")]

        # the API: its event stream, from what it kept
        stream = api.stream(last_event_id=0)
        try:
            kept = stream.next_event(lambda e: e.name == "plugin/devserver/error" and e.data["errors"], 30)
            assert kept.data["errors"] == [error]
        finally:
            stream.close()

        # the dashboard: the error with its source, as a link to the file, line and column
        open_page(browser, api)
        card = "[data-testid=card][data-plugin=typed]"
        shown = browser.wait(f"""() => {{
          const item = document.querySelector('{card} [data-testid=build-error][data-source=tsc]');
          return item && {{link: item.querySelector('a').getAttribute('href'), text: item.textContent}};
        }}""", timeout=60)
        assert shown["link"] == f"vscode://file{page.resolve()}:{line}:9", shown
        assert "tsc" in shown["text"] and "TS2322" in shown["text"], shown

        # the preview, opened after the error was found: its overlay says it
        open_page(browser, api, "/preview/typed")
        overlay = browser.wait(f"() => document.querySelector('{OVERLAY}')?.innerText", timeout=120)
        assert f"{page.resolve()}:{line}:9 TS2322" in overlay, overlay

        # fixed by a save: an empty error event; the overlay goes, and the dashboard has nothing left to show
        errors_before = len(_error_events(serve))
        page.write_text(page.read_text().replace(TYPE_ERROR, ""))
        serve.wait_for(lambda run: _error_events(run)[errors_before:] == [{"pluginID": "typed", "errors": []}],
                       CHECK, "the errors cleared")
        assert browser.wait(f"() => !document.querySelector('{OVERLAY}')", timeout=30)
        assert any(e["message"] == "type errors fixed" for e in serve.logs())
        open_page(browser, api)
        browser.wait(f"() => document.querySelector('{card} [data-testid=chip]')", timeout=30)
        assert browser.evaluate(f"() => document.querySelectorAll('{card} [data-testid=build-error]').length") == 0


OVERLAY = "[data-testid=build-overlay] [data-source=tsc]"


def _vite_port(run: TerminalRun) -> int:
    index, _at = run.wait_line(lambda text: "the IDE loads http://127.0.0.1:" in text, START, "Vite ready")
    return int(run.texts()[index].rsplit(":", 1)[1].split("/", 1)[0])


def _status(url: str) -> int:
    """What a browser's import of `url` gets."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


JSX_ERROR = "Expected corresponding JSX closing tag for 'h1'"  # Vite's (Oxc's) words for the broken save below
STRING_ERROR = "Unterminated string"


@pytest.mark.integration
def test_the_terminal_says_each_type_check_and_vite_error_once_without_a_browser(tmp_path: Path) -> None:
    plugin = _ui_plugin(tmp_path)
    page = _page(plugin)
    line = _break_types(page)
    said = f"[error] ui/src/pages/HomePage.tsx:{line}:9: TS2322: Type 'number' is not assignable to type 'string'."
    with terminal_run([str(plugin), "-v"], run_env(tmp_path / "state")) as run:
        port = _vite_port(run)
        first, _at = run.wait_line(lambda text: text == said, CHECK, "the type error")
        run.wait_line(lambda text: text == "[tsc] 1 type error (the UI still runs: Vite does not check types)",
                      CHECK, "the summary", after=first)

        # a save that leaves the same error: tsc checks again (its own line, with -v), nothing is said again
        before = len(run.texts())
        page.write_text(page.read_text() + "\n// saved again\n")
        run.wait_line(lambda text: text.endswith("Found 1 error. Watching for file changes."), CHECK,
                      "the check after a save", after=before)
        assert run.count(lambda text: text == said) == 1

        # a broken JSX save, no browser open: Vite's error, once
        original = page.read_text()
        page.write_text(original.replace("</h1>", "</h2>", 1))
        run.wait_line(lambda text: text.startswith("[vite]") and JSX_ERROR in text, CHECK, "Vite's error")
        # ... and not again when a browser asks for the module (after the save's HMR, with a timestamp; or anew)
        stamp = int(time.time() * 1000)
        assert _status(f"http://127.0.0.1:{port}/src/pages/HomePage.tsx?t={stamp}") == 500
        assert _status(f"http://127.0.0.1:{port}/src/pages/HomePage.tsx") == 500
        # another error, in the module that imports it (Vite's watcher drops a second change of one file within
        # 50 ms): said in its turn, after anything the browser's requests made Vite say
        entry = plugin / "ui" / "src" / "entry.ts"
        entry_source = entry.read_text()
        entry.write_text(entry_source + "export const broken = 'x;\n")
        run.wait_line(lambda text: text.startswith("[vite]") and STRING_ERROR in text, CHECK, "the next error")
        assert run.count(lambda text: text.startswith("[vite]") and JSX_ERROR in text) == 1, run.texts()

        # all fixed: said once
        entry.write_text(entry_source)
        page.write_text(original.replace(TYPE_ERROR, ""))
        run.wait_line(lambda text: text == "[tsc] type errors fixed", CHECK, "the errors fixed")


@pytest.mark.integration
def test_a_ui_without_typescript_is_checked_by_plugindevs_and_a_tsc_that_exits_is_restarted(tmp_path: Path) -> None:
    plugin = _ui_plugin(tmp_path)
    manifest = plugin / "ui" / "package.json"
    package = json.loads(manifest.read_text())
    del package["devDependencies"]["typescript"]
    manifest.write_text(json.dumps(package, indent=2) + "\n")
    page = _page(plugin)
    line = _break_types(page)
    said = f"[error] ui/src/pages/HomePage.tsx:{line}:9: TS2322: Type 'number' is not assignable to type 'string'."
    state_root = tmp_path / "state"
    with terminal_run([str(plugin), "-v"], run_env(state_root)) as run:
        run.wait_line(lambda text: text == said, START, "the type error")
        assert not (plugin / "ui" / "node_modules" / ".bin" / "tsc").exists()
        started = [text for text in run.texts() if text.startswith("[tsc] ") and " --noEmit --watch " in text]
        assert len(started) == 1 and str(install_dir("typescript", TYPESCRIPT)) in started[0], started

        # tsc killed: said, started again; it finds the same error (said no more), then its fix
        (tsc,) = [int(group["pgid"]) for group in recorded_groups(state_root) if group["kind"] == "tsc"]
        os.killpg(tsc, signal.SIGKILL)
        index, _at = run.wait_line(lambda text: text.startswith("[tsc] tsc exited with code -9; restarting it in"),
                                   CHECK, "the exit said")
        run.wait_line(lambda text: text.endswith("Found 1 error. Watching for file changes."), CHECK,
                      "the restarted tsc's check", after=index)
        page.write_text(page.read_text().replace(TYPE_ERROR, ""))
        run.wait_line(lambda text: text == "[tsc] type errors fixed", CHECK, "the fix", after=index)
        assert run.count(lambda text: text == said) == 1


@pytest.mark.integration
def test_no_typecheck_starts_no_tsc(tmp_path: Path) -> None:
    plugin = _ui_plugin(tmp_path)
    page = _page(plugin)
    state_root = tmp_path / "state"
    with terminal_run([str(plugin), "--no-typecheck"], run_env(state_root)) as run:
        port = _vite_port(run)
        assert _status(f"http://127.0.0.1:{port}/src/pages/HomePage.tsx") == 200  # in Vite's module graph now
        _break_types(page)
        run.wait_line(lambda text: "hmr update /src/pages/HomePage.tsx" in text, CHECK, "Vite's update")
        # tsc would have been started (and recorded) when Vite was ready, before this save
        assert [group["kind"] for group in recorded_groups(state_root) if group["kind"] == "tsc"] == []
        assert run.count(lambda text: "[tsc]" in text or "TS2322" in text) == 0, run.texts()

