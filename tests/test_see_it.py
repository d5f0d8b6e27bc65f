"""Seeing a plugin (issue 18, point 3), against a real `plugindev run` / `serve` and real browsers:

- `run` prints the dashboard's URL and one `/preview/<id>` URL per plugin with a UI, and every URL it prints
  answers 200 to a browser that opens it (cookies kept, redirects followed), in Chromium too;
- `serve DIR` starts with that plugin; `plugindev add DIR` (relative to the caller's folder) and `plugindev remove
  ID` change the running serve through api.json, one line each, and say so in one line when they cannot;
- a page opened without the token says how to get in, not that plugindev restarted;
- Ctrl+C ends run and serve with one "stopped" line, printed once everything has ended;
- plugindev's own lines (`plugindev/system`) are in the dashboard's log view.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
from api_support import ApiClient
from browser_driver import ENGINES, Browser
from conftest import plugindev
from go_support import PLUGIN_ID, copy_fixture
from run_support import RunHandle, devinfo, ready, recorded_groups, run_env, running, wait_until
from web_support import open_page

from orchestrator.common.process import group_alive, is_alive

pytestmark = pytest.mark.integration

START = 400.0  # a first run installs the UI's dependencies
URL = re.compile(r"https?://[^\s,)]+")
PREVIEW_READY = "() => window.__preview?.ready || window.__preview?.error || window.__preview?.refused"
STOPPED = "stopped"


@dataclass(frozen=True)
class Opened:
    status: int
    url: str  # where the redirects ended
    text: str


def open_like_a_browser(url: str) -> Opened:
    """GET `url` as a browser that has never been to plugindev: it asks for HTML, follows redirects and keeps the
    cookies it is given (for 127.0.0.1, which aiohttp's jar takes only when told to)."""
    import aiohttp

    async def get() -> Opened:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session, \
                session.get(url, headers={"Accept": "text/html"}, timeout=aiohttp.ClientTimeout(total=30)) as answer:
            return Opened(answer.status, str(answer.url), await answer.text())

    return asyncio.run(get())


def printed_urls(run: RunHandle) -> list[str]:
    """Every URL the run printed (plugindev's own lines and the log lines shown without -v)."""
    shown = run.said() + [entry["message"] for entry in run.logs() if entry["level"] != "debug"]
    return [url for message in shown for url in URL.findall(message)]


def _scaffold_ui(tmp_path: Path) -> Path:
    plugin = tmp_path / "hello-plugin"
    result = plugindev("scaffold", str(plugin), "--id", "hello-plugin", "--name", "Hello", "--template", "ui")
    assert result.returncode == 0, result.stderr
    return plugin


def _refused(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_run_prints_the_dashboard_and_preview_urls_and_every_url_it_prints_answers(tmp_path: Path) -> None:
    plugin = _scaffold_ui(tmp_path)
    state_root = tmp_path / "state"
    with running([str(plugin)], run_env(state_root)) as run:
        api = ApiClient.wait_for(state_root)
        up = run.wait_status(lambda s: s["viteStatus"] == "ready", START, "Vite ready")
        run.wait_for(lambda r: any(m.startswith("ready: the IDE loads") for m in (e["message"] for e in r.logs())),
                     30, "Vite's ready line")
        pages = [m for m in run.said() if m.startswith(("dashboard: ", "preview of "))]
        assert pages == [f"dashboard: {api.url}/?token={api.token}",
                         f"preview of hello-plugin: {api.url}/preview/hello-plugin?token={api.token}"]
        preview_origin = api.get("/api/preview")["url"]
        urls = printed_urls(run)
        assert len(urls) == 3, urls  # the dashboard, the preview, the entry the IDE loads
        dashboard, preview, entry = (open_like_a_browser(url) for url in urls)  # each in a browser new to them
        assert [opened.status for opened in (dashboard, preview, entry)] == [200, 200, 200], (dashboard, preview, entry)
        assert "/static/dashboard/app.js" in dashboard.text
        assert preview.url == f"{preview_origin}/preview/hello-plugin"  # the preview's own origin, no code left
        assert '"pluginId": "hello-plugin"' in preview.text
        assert entry.url == f"http://127.0.0.1:{up['vitePort']}/src/entry.ts" and "plugin" in entry.text

        with Browser("chromium") as browser:  # and a real browser gets to the plugin rendered, as printed
            browser.goto(urls[1])
            assert browser.wait(PREVIEW_READY, timeout=120) is True, browser.evaluate("() => window.__preview")
            assert browser.evaluate("() => location.href") == f"{preview_origin}/preview/hello-plugin"

        groups = recorded_groups(state_root)
        run.process.send_signal(signal.SIGINT)
        run.wait_for(lambda r: STOPPED in r.said(), 30, "the stopped line")
        # said once everything ended: Vite's process group and its port are gone
        assert _refused(up["vitePort"]) and not any(group_alive(int(g["pgid"])) for g in groups)
        assert run.process.wait(30) == 0
        run.interrupt()  # it has exited: this only waits until its output is read
    assert run.events[-1]["event"] == "plugindev/system" and run.events[-1]["data"]["message"] == STOPPED
    assert run.said().count(STOPPED) == 1


@contextmanager
def _watchdog(process: subprocess.Popen[str], seconds: float) -> Iterator[None]:
    """Kill `process`'s group if the test is still reading it after `seconds` (its reads then end)."""
    timer = threading.Timer(seconds, lambda: _kill_group(process))
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        _kill_group(process)


def _kill_group(process: subprocess.Popen[str]) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def test_ctrl_c_ends_the_printed_lines_with_one_stopped_line_once_the_plugin_ended(tmp_path: Path) -> None:
    plugin = copy_fixture(tmp_path / "testplugin")
    state_root = tmp_path / "state"
    # -v: the lines of the stop itself are printed too (the process's status, the .devinfo removed), all before
    process = subprocess.Popen([sys.executable, "-m", "orchestrator", "run", "-v", str(plugin)],
                               env=run_env(state_root), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert process.stdout is not None
    lines: list[str] = []
    plugin_pid = 0
    with _watchdog(process, 120):
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if found := re.search(r"\[system\] ready in .* plugin pid (\d+)", line):
                plugin_pid = int(found[1])
                assert devinfo(state_root, PLUGIN_ID) is not None
                process.send_signal(signal.SIGINT)
            elif line.endswith(f"[system] {STOPPED}\n"):  # printed once the plugin and its .devinfo are gone
                assert plugin_pid and not is_alive(plugin_pid) and devinfo(state_root, PLUGIN_ID) is None
        assert process.wait(30) == 0
    assert plugin_pid, lines
    assert re.fullmatch(rf"\d\d:\d\d:\d\d \[system\] {STOPPED}", lines[-1]), lines
    assert any(line.endswith(f"removed {state_root / 'plugins' / PLUGIN_ID / '.devinfo'}") for line in lines), lines
    assert sum(line.endswith(f"] {STOPPED}") for line in lines) == 1, lines


def test_serve_starts_its_folders_and_add_and_remove_change_it_from_another_shell(tmp_path: Path) -> None:
    plugin = copy_fixture(tmp_path / "testplugin")
    not_a_plugin = tmp_path / "empty"
    not_a_plugin.mkdir()
    state_root = tmp_path / "state"
    env = run_env(state_root)
    with running([str(plugin)], env, command="serve") as serve:
        api = ApiClient.wait_for(state_root)
        first = api.wait_state(PLUGIN_ID, ready, 240, "the folder serve was given, ready")
        saved = json.loads((state_root / "plugindev" / "managed.json").read_text())
        assert saved["plugins"] == [str(plugin.resolve())]  # kept for the next serve, as an added plugin is
        where = f"the plugindev at {api.url} (pid {api.pid})"

        removed = plugindev("remove", PLUGIN_ID, env=env, timeout=120)
        assert (removed.returncode, removed.stdout, removed.stderr) == (0, f"removed {PLUGIN_ID} from {where}\n", "")
        assert api.get("/api/plugins") == []
        wait_until(lambda: not is_alive(first["pid"]), 10, "the removed plugin's process ended")

        # a relative folder is the caller's: serve runs in another folder
        added = plugindev("add", "testplugin", cwd=tmp_path, env=env, timeout=120)
        assert (added.returncode, added.stdout, added.stderr) == (
            0, f"added {PLUGIN_ID} from {plugin.resolve()} to {where}\n", "")
        again = api.wait_state(PLUGIN_ID, ready, 240, "the added plugin ready")
        assert again["pid"] != first["pid"]
        twice = plugindev("add", str(plugin), env=env, timeout=120)  # already there: said so, nothing changes
        assert (twice.returncode, twice.stdout, twice.stderr) == (
            0, f"{PLUGIN_ID} from {plugin.resolve()} is in {where} already\n", "")
        assert [state["pid"] for state in api.get("/api/plugins")] == [again["pid"]]

        unknown = plugindev("remove", "nope", env=env, timeout=120)
        assert (unknown.returncode, unknown.stdout) == (1, "")
        assert unknown.stderr == f"plugindev: error: no plugin 'nope' in {where}; it has {PLUGIN_ID}\n"
        refused = plugindev("add", str(not_a_plugin), env=env, timeout=120)
        assert (refused.returncode, refused.stdout) == (1, "")
        assert len(refused.stderr.splitlines()) == 1 and str(not_a_plugin) in refused.stderr, refused.stderr
        assert serve.interrupt() == 0
    said = serve.said()  # the serve's own terminal says what was changed from elsewhere
    changes = [m for m in said if m.startswith(("added ", "removed ", "preview of "))]
    assert changes == [f"removed {PLUGIN_ID}", f"added {PLUGIN_ID} from {plugin.resolve()}"]  # no UI: no preview
    assert said[-1] == STOPPED

    for args in (["add", "testplugin"], ["remove", PLUGIN_ID]):
        alone = plugindev(*args, cwd=tmp_path, env=env)
        assert (alone.returncode, alone.stdout) == (1, "")
        assert alone.stderr == (f"plugindev: error: no plugindev serve is running on the state root {state_root} "
                                f"(no live {state_root / 'plugindev' / 'api.json'}): start one with `plugindev "
                                "serve`\n")


def test_a_page_opened_without_the_token_says_how_to_get_in(tmp_path: Path) -> None:
    state_root = tmp_path / "state"
    with running([], run_env(state_root), command="serve"):
        api = ApiClient.wait_for(state_root)
        preview_origin = api.get("/api/preview")["url"]
        # a preview's URL without its token: the preview origin sends the browser to the API, which has no token
        preview = open_like_a_browser(f"{preview_origin}/preview/hello-plugin")
        assert preview.status == 401 and preview.url == f"{api.url}/preview/hello-plugin"
        assert "restarted" not in preview.text
        assert "<h1>Open this preview from the dashboard</h1>" in preview.text
        assert ("Open it from the dashboard (the plugin's <em>preview</em> link), or open the preview URL plugindev "
                "printed (<code>plugindev run</code> prints one per plugin): "
                f"<code>{api.url}/preview/hello-plugin?token=…</code>") in preview.text
        dashboard = open_like_a_browser(f"{api.url}/")
        assert dashboard.status == 401 and "restarted" not in dashboard.text
        assert f"open the dashboard URL it printed, <code>{api.url}/?token=…</code>" in dashboard.text


SYSTEM_ROWS = """() => [...document.querySelectorAll('[data-testid=system-log] [data-testid=log-row]')]
  .map((row) => ({source: row.dataset.source, message: row.querySelector('.log-message').textContent}))"""


@pytest.mark.parametrize("engine", ENGINES)
def test_the_dashboard_shows_plugindevs_own_lines_in_its_log(tmp_path: Path, engine: str) -> None:
    state_root = tmp_path / "state"
    saved = state_root / "plugindev" / "managed.json"
    saved.parent.mkdir(parents=True)
    saved.write_text(json.dumps({"plugins": [str(tmp_path / "gone")]}))  # a line said before the API listens
    with running([], run_env(state_root), command="serve"), Browser(engine) as browser:
        api = ApiClient.wait_for(state_root)
        open_page(browser, api)
        rows = browser.wait(f"() => {{ const rows = ({SYSTEM_ROWS})(); return rows.length >= 3 && rows; }}")
        messages = [row["message"] for row in rows]
        assert messages[0].startswith("not restarted: ") and str(tmp_path / "gone") in messages[0], messages
        assert f"dashboard: {api.url}/?token={api.token}" in messages, messages
        assert any(m.startswith(f"control API at {api.url}") for m in messages), messages
        assert {row["source"] for row in rows} == {"system"}
        # the log's source filter knows them
        browser.select("[data-testid=system-log] [data-testid=filter-source]", "system")
        assert browser.evaluate(f"() => ({SYSTEM_ROWS})().length") == len(rows)
        browser.select("[data-testid=system-log] [data-testid=filter-source]", "plugin")
        browser.wait(f"() => ({SYSTEM_ROWS})().length === 0")
        assert [m for m in browser.messages() if m.startswith(("pageerror", "error"))] == []
