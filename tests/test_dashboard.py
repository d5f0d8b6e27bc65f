"""The dashboard (`/` of a real `plugindev serve`) in headless Chromium, Firefox and WebKit: one card per plugin
following its state through saves, builds and failures; the Rebuild button; the log's filters and search; build
errors as editor links; the token passed once in the URL then held in a cookie; the page coming back by itself
when plugindev restarts, and saying so when the token is new."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from api_support import ApiClient
from browser_driver import ENGINES, Browser
from go_support import copy_fixture, set_marker
from run_support import run_env, running
from web_support import BROKEN_LINE, CHIP_RECORDER, append_go_line, open_page

from orchestrator.diagnose.aggregate import COLOURS, aggregate_status
from orchestrator.statefiles.api_identity import identity_file

pytestmark = pytest.mark.integration

START = 240.0
STATUSES = ("idle", "starting", "building", "ready", "error", "stopped")


def _chip(status: str, pid: int | None = None) -> str:
    """A page function: the card's chip says `status` (and its pid is not `pid`, when given)."""
    return f"""() => {{
      const card = document.querySelector('[data-testid=card][data-plugin=testplugin]');
      if (!card || card.dataset.status !== {json.dumps(status)}) return false;
      const pid = Number(card.querySelector('[data-testid=pid]').textContent);
      return {json.dumps(pid)} === null || (pid > 0 && pid !== {json.dumps(pid)}) ? pid || true : false;
    }}"""


def _press(browser: Browser, card: str, action: str, old_pid: int) -> int:
    """Click a card's `action` button; once it says done, the card is ready with a process other than old_pid."""
    browser.click(f"{card} button[data-action={action}]")
    assert browser.wait(f"() => document.querySelector('{card} [data-testid=action-result]')?.textContent"
                        f".trim() === '{action}: done'", timeout=120) is True
    return int(browser.wait(_chip("ready", old_pid), timeout=120))


def _rows_when(browser: Browser, predicate: Callable[[list[dict[str, str]]], bool]) -> list[dict[str, str]]:
    """The log rows once `predicate` holds (a filter change reaches the view on its next redraw), or the last."""
    deadline = time.monotonic() + 10
    rows: list[dict[str, str]] = browser.evaluate(_rows())
    while not predicate(rows) and time.monotonic() < deadline:
        time.sleep(0.05)
        rows = browser.evaluate(_rows())
    return rows


def _rows() -> str:
    return """() => [...document.querySelectorAll('[data-plugin=testplugin] [data-testid=log-row]')].map(
      (row) => ({source: row.dataset.source, level: row.dataset.level,
                 message: row.querySelector('.log-message').textContent}))"""


@pytest.mark.parametrize("engine", ENGINES)
def test_aggregate_status_in_the_page_agrees_with_python(tmp_path: Path, engine: str) -> None:
    table = [{"viteStatus": vite, "goStatus": go, "grpcConnected": connected}
             for vite in STATUSES for go in STATUSES for connected in (False, True)]
    with running([], run_env(tmp_path / "state"), command="serve"), Browser(engine) as browser:
        api = ApiClient.wait_for(tmp_path / "state")
        open_page(browser, api)
        browser.wait("() => document.querySelector('[data-testid=connection]')?.textContent === 'live'")
        in_page = browser.evaluate("""async (table) => {
          const { aggregateStatus, COLOURS } = await import('/static/dashboard/aggregate.js');
          return { statuses: table.map(aggregateStatus), colours: COLOURS };
        }""", table)
    assert in_page["statuses"] == [str(aggregate_status(state)) for state in table]
    assert in_page["colours"] == {str(status): colour for status, colour in COLOURS.items()}


REFUSED = ("net::ERR_CONNECTION_REFUSED", "establish a connection to the server")  # Chromium's, Firefox's words


def _page_errors(messages: list[str]) -> list[str]:
    """Uncaught errors and console errors, less the browser's notes of connections refused while plugindev is
    away (the page's stream retrying, as it says it does)."""
    return [m for m in messages if m.startswith(("pageerror", "error")) and not any(r in m for r in REFUSED)]


CONNECTION = "() => document.querySelector('[data-testid=connection]')?.textContent"


@pytest.mark.parametrize("engine", ENGINES)
def test_the_token_is_taken_once_then_a_cookie_and_a_new_token_is_said(tmp_path: Path, engine: str) -> None:
    state_root = tmp_path / "state"
    with Browser(engine) as browser:
        with running(["--api-port", "0"], run_env(state_root), command="serve"):
            api = ApiClient.wait_for(state_root)
            port = int(api.url.rsplit(":", 1)[1])
            browser.goto(f"{api.url}/")  # no token: the page says what to open, nothing else is served
            assert "open the dashboard URL it printed" in browser.evaluate("() => document.body.innerText")
            open_page(browser, api)
            browser.wait(f"() => ({CONNECTION})() === 'live'")
            assert browser.evaluate("() => location.href") == f"{api.url}/"  # the token left the address bar
            assert browser.evaluate("() => document.cookie") == ""  # HttpOnly: no script reads it
            status = browser.evaluate("async () => (await fetch('/api/plugins')).status")
            assert status == 200  # the cookie authorises the page's own requests
            # a page of another origin cannot use it: the Origin check refuses, SameSite keeps it at home
            assert api.call("GET", "/api/plugins", token="", headers={"Cookie": f"plugindev-{port}=x"})[0] == 401
        # the kept token deleted: plugindev starts with a new one, and the page says so instead of retrying forever
        identity_file(state_root).unlink()
        with running(["--api-port", str(port)], run_env(state_root), command="serve"):
            browser.wait(f"() => ({CONNECTION})().startsWith('plugindev restarted: open the URL it printed')",
                         timeout=60)
            assert ApiClient.wait_for(state_root).token != api.token
        # uncaught errors only: the browsers log the 401 answers this test provokes
        assert [m for m in _page_errors(browser.messages()) if m.startswith("pageerror")] == []


@pytest.mark.parametrize("engine", ENGINES)
def test_the_page_comes_back_by_itself_when_serve_restarts(tmp_path: Path, engine: str) -> None:
    plugin = copy_fixture(tmp_path / "testplugin")
    state_root = tmp_path / "state"
    built_rows = """() => [...document.querySelectorAll('[data-plugin=testplugin] [data-testid=log-row]')]
      .map((row) => row.querySelector('.log-message').textContent).filter((text) => text.includes('built in'))"""
    with Browser(engine) as browser:
        # a plugin run elsewhere (a live pid's hand-written .devinfo): shown now, gone before the next serve
        ghost = state_root / "plugins" / "ghost" / ".devinfo"
        ghost.parent.mkdir(parents=True)
        ghost.write_text(json.dumps({"pid": os.getpid(), "addr": str(tmp_path / "none.sock"), "pluginId": "ghost"}))
        with running([], run_env(state_root), command="serve"):
            api = ApiClient.wait_for(state_root)
            api.call("POST", "/api/plugins", {"path": str(plugin)})
            open_page(browser, api)
            first_pid = browser.wait(_chip("ready"), timeout=START)
            browser.wait("() => document.querySelector('[data-testid=card][data-plugin=ghost]')")
            browser.evaluate("() => { window.__noReload = true; }")
            assert len(browser.wait(built_rows)) == 1
        browser.wait(f"() => ({CONNECTION})().startsWith('plugindev is not answering')", timeout=30)
        ghost.unlink()
        # the next serve of this state root: same port and token, event ids above the last ones; it brings the
        # plugin back (managed.json) while the page retries, and the page resumes after the last event it saw
        with running([], run_env(state_root), command="serve"):
            again = ApiClient.wait_for(state_root)
            assert (again.url, again.token) == (api.url, api.token)
            browser.wait(_chip("ready", first_pid), timeout=START)
            assert browser.evaluate(CONNECTION) == "live"
            rows = browser.wait(f"() => {{ const rows = ({built_rows})(); return rows.length >= 2 && rows; }}")
            assert len(rows) == 2, rows  # one build per serve: nothing lost, nothing shown twice
            assert browser.evaluate("() => window.__noReload") is True  # no page load: it came back by itself
            # a plugin the new plugindev does not have is no longer shown
            browser.wait("() => !document.querySelector('[data-testid=card][data-plugin=ghost]')")
        assert _page_errors(browser.messages()) == []


@pytest.mark.parametrize("engine", ENGINES)
def test_cards_follow_saves_builds_errors_and_buttons(tmp_path: Path, engine: str) -> None:
    plugin = copy_fixture(tmp_path / "testplugin")
    main_go = plugin / "pkg" / "main.go"
    state_root = tmp_path / "state"
    with running([], run_env(state_root), command="serve"), Browser(engine) as browser:
        api = ApiClient.wait_for(state_root)
        open_page(browser, api)
        # started from the page: the folder, then the card goes to ready
        browser.fill(".add input", str(plugin))
        browser.click(".add button")
        first_pid = browser.wait(_chip("ready"), timeout=START)
        card = "[data-testid=card][data-plugin=testplugin]"
        assert browser.evaluate(f"() => document.querySelector('{card} [data-testid=chip]').style.background") \
            == "rgb(63, 185, 80)"  # #3fb950
        assert browser.evaluate(f"() => document.querySelector('{card} [data-testid=grpc]').textContent") \
            .startswith("healthy")

        # a Go save: building, then ready with a new process
        browser.evaluate(CHIP_RECORDER)
        set_marker(plugin, "marker-1")
        second_pid = browser.wait(_chip("ready", first_pid), timeout=120)
        shown = [status for _id, status, _t in browser.evaluate("() => window.__chips")]
        assert shown[shown.index("building"):][-1] == "ready", shown
        assert "building" in shown, shown

        # a broken save: error, the message, and the errors as editor links to the file and line
        line = append_go_line(main_go, BROKEN_LINE)
        browser.wait(_chip("error"), timeout=120)
        last_error = browser.evaluate(f"() => document.querySelector('{card} [data-testid=last-error]').textContent")
        assert "main.go" in last_error
        links = browser.wait(f"""() => {{
          const links = [...document.querySelectorAll('{card} [data-testid=build-error]')];
          return links.length && links.map((li) => ({{href: li.querySelector('a').getAttribute('href'),
            text: li.querySelector('a').textContent, severity: li.querySelector('.severity').textContent}}));
        }}""")
        path = str(main_go.resolve())
        assert links[0]["href"].startswith(f"vscode://file{path}:{line}:"), links
        assert links[0]["text"].startswith(f"{path}:{line}:") and links[0]["severity"] == "error"
        # the link scheme is the user's, and stays
        browser.fill("[data-testid=editor-link]", "idea://open?file={path}&line={line}")
        browser.evaluate("() => document.querySelector('[data-testid=editor-link]')"
                         ".dispatchEvent(new Event('change', {bubbles: true}))")
        href = browser.wait(f"() => document.querySelector('{card} [data-testid=build-error] a')"
                            ".getAttribute('href').startsWith('idea:') && "
                            f"document.querySelector('{card} [data-testid=build-error] a').getAttribute('href')")
        assert href == f"idea://open?file={path}&line={line}"
        assert browser.evaluate("() => localStorage.getItem('plugindev.editorLink')") == \
            "idea://open?file={path}&line={line}"

        # fixed: ready again, the errors gone
        set_marker(plugin, "marker-2")
        main_go.write_text(main_go.read_text().replace("func broken() {\n" + BROKEN_LINE + "}\n", ""))
        third_pid = browser.wait(_chip("ready", second_pid), timeout=120)
        assert browser.evaluate(f"() => document.querySelectorAll('{card} [data-testid=build-error]').length") == 0

        # the Rebuild and Restart buttons: their result is shown (the final one, not the "…" while the request
        # runs), and a new process serves
        rebuilt_pid = _press(browser, card, "rebuild", third_pid)
        restarted_pid = _press(browser, card, "restart", rebuilt_pid)

        # the log: source filter, level filter, text search
        browser.select(f"{card} [data-testid=filter-source]", "go-build")
        rows = _rows_when(browser, lambda rows: bool(rows) and {row["source"] for row in rows} == {"go-build"})
        assert rows and {row["source"] for row in rows} == {"go-build"}
        browser.fill(f"{card} [data-testid=filter-search]", "BUILT IN")
        rows = _rows_when(browser, lambda rows: len(rows) >= 3 and all("built in" in r["message"] for r in rows))
        assert len(rows) >= 3 and all("built in" in row["message"] for row in rows), rows
        browser.select(f"{card} [data-testid=filter-source]", "all")
        browser.fill(f"{card} [data-testid=filter-search]", "")
        browser.select(f"{card} [data-testid=filter-level]", "error")
        rows = _rows_when(browser, lambda rows: bool(rows) and {row["level"] for row in rows} == {"error"})
        assert rows and {row["level"] for row in rows} == {"error"}
        assert any("this is not Go" in row["message"] or "main.go" in row["message"] for row in rows), rows

        # stop: the card says stopped; start: it serves again
        browser.click(f"{card} button[data-action=stop]")
        browser.wait(_chip("stopped"), timeout=60)
        _press(browser, card, "start", restarted_pid)
        assert _page_errors(browser.messages()) == []
