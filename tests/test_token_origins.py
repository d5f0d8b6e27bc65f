"""The token stays with the API (issue 16, point 5), against a real `plugindev serve` / `run` over real HTTP:

- a browser's cookie holds a value derived from the token for one port, never the token, and opens that port
  only (browsers send 127.0.0.1 cookies to every port, so other local servers see them);
- pages refuse to be framed (`X-Frame-Options`, CSP `frame-ancestors`);
- `run --open` puts a one-time code on the browser's command line, not the token; a code is good once, for one
  port, for a minute;
- the preview runs plugin code on an origin of its own with read-only access: from there the API refuses
  everything, and the preview still renders (tests/test_preview*.py show the plugin in it);
- a plugin's Vite server (the scaffold's config) lets in the IDE's origins and the preview's, not another page.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from api_support import ApiClient
from browser_driver import Browser
from conftest import plugindev
from go_support import copy_fixture
from run_support import run_env, running

from orchestrator.api.auth import LIVE_CODES, OneTimeCodes, cookie_name

pytestmark = pytest.mark.integration

START = 240.0
FRAMING = {"x-frame-options": "DENY", "content-security-policy": "frame-ancestors 'none'"}
FOREIGN_ORIGIN = "http://127.0.0.1:9999"  # any other local page
OWN_PAGE_ORIGIN = "http://127.0.0.1:9998"  # a page the developer lets in through PLUGINDEV_CORS_ORIGINS


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-cased names
    cookies: dict[str, str]  # what Set-Cookie gave
    text: str


def http(method: str, url: str, *, headers: dict[str, str] | None = None, body: Any = None) -> Answer:
    """One request with aiohttp, redirects not followed, no cookie jar: the test says what is sent."""
    import aiohttp

    async def send() -> Answer:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session, \
                session.request(method, url, headers=headers, json=body, allow_redirects=False,
                                timeout=aiohttp.ClientTimeout(total=30)) as response:
            return Answer(response.status, {k.lower(): v for k, v in response.headers.items()},
                          {name: morsel.value for name, morsel in response.cookies.items()}, await response.text())

    return asyncio.run(send())


@dataclass
class BrowserLike:
    """Follows redirects and keeps cookies as a browser does for 127.0.0.1: one jar for every port."""

    jar: dict[str, str] = field(default_factory=dict)

    def get(self, url: str, **headers: str) -> tuple[str, Answer]:
        for _ in range(10):
            cookie = "; ".join(f"{name}={value}" for name, value in self.jar.items())
            answer = http("GET", url, headers={"Accept": "text/html", **({"Cookie": cookie} if cookie else {}),
                                               **headers})
            self.jar |= answer.cookies
            if answer.status not in (302, 303):
                return url, answer
            url = urljoin(url, answer.headers["location"])
        raise AssertionError(f"redirected more than 10 times, last to {url}")

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.jar.items())


def _port(url: str) -> int:
    return int(urlsplit(url).port or 0)


def _plugin_and_state_root(tmp_path: Path) -> tuple[Path, Path]:
    return copy_fixture(tmp_path / "testplugin"), tmp_path / "state"


def test_the_cookie_is_derived_from_the_token_and_opens_its_own_port_only(tmp_path: Path) -> None:
    plugin, state_root = _plugin_and_state_root(tmp_path)
    with running([], run_env(state_root), command="serve"):
        api = ApiClient.wait_for(state_root)
        assert api.call("POST", "/api/plugins", {"path": str(plugin)})[0] == 201
        preview = api.get("/api/preview")["url"]
        api_port, preview_port = _port(api.url), _port(preview)
        assert preview_port not in (0, api_port)

        opened = http("GET", f"{api.url}/?token={api.token}", headers={"Accept": "text/html"})
        assert opened.status == 200
        api_cookie = opened.cookies[cookie_name(api_port)]
        assert api_cookie != api.token and api.token not in opened.headers["set-cookie"]
        browser = BrowserLike()
        page_url, page = browser.get(f"{preview}/preview/testplugin?code=nonsense")
        assert page.status == 401  # a code plugindev did not issue opens nothing
        page_url, page = browser.get(f"{api.url}/preview/testplugin?token={api.token}")
        assert page.status == 200 and page_url == f"{preview}/preview/testplugin", (page_url, page.text[:300])
        preview_cookie = browser.jar[cookie_name(preview_port)]
        assert api.token not in (preview_cookie, *browser.jar.values())

        def api_with(cookie: str) -> int:
            return http("GET", f"{api.url}/api/plugins", headers={"Cookie": cookie}).status

        def preview_with(cookie: str) -> int:
            return http("GET", f"{preview}/web/plugin-context/testplugin", headers={"Cookie": cookie}).status

        assert api_with(f"{cookie_name(api_port)}={api_cookie}") == 200
        assert preview_with(f"{cookie_name(preview_port)}={preview_cookie}") == 200
        # each value opens its own port only, under whatever name it is sent; the token is no cookie
        assert api_with(f"{cookie_name(api_port)}={preview_cookie}") == 401
        assert preview_with(f"{cookie_name(preview_port)}={api_cookie}") == 401
        assert api_with(f"{cookie_name(api_port)}={api.token}") == 401
        assert preview_with(f"{cookie_name(preview_port)}={api.token}") == 401
        # nor does the token itself open the preview origin: it is the API's alone
        assert http("GET", f"{preview}/web/plugin-context/testplugin",
                    headers={"Authorization": f"Bearer {api.token}"}).status == 401


def test_pages_and_answers_refuse_to_be_framed(tmp_path: Path) -> None:
    plugin, state_root = _plugin_and_state_root(tmp_path)
    with running([], run_env(state_root), command="serve"):
        api = ApiClient.wait_for(state_root)
        assert api.call("POST", "/api/plugins", {"path": str(plugin)})[0] == 201
        browser = BrowserLike()
        answers = {"dashboard": browser.get(f"{api.url}/?token={api.token}")[1],
                   "preview": browser.get(f"{api.url}/preview/testplugin")[1],
                   "no token": http("GET", f"{api.url}/", headers={"Accept": "text/html"}),
                   "API": http("GET", f"{api.url}/api/plugins", headers={"Authorization": f"Bearer {api.token}"})}
        assert [answers["dashboard"].status, answers["preview"].status] == [200, 200]
        assert "plugindev preview" in answers["preview"].text
        for name, answer in answers.items():
            assert {k: answer.headers.get(k) for k in FRAMING} == FRAMING, name


def test_run_open_puts_a_one_time_code_on_the_browsers_command_line_not_the_token(tmp_path: Path) -> None:
    plugin, state_root = _plugin_and_state_root(tmp_path)
    argv = tmp_path / "argv"
    browser = tmp_path / "browser.sh"  # what $BROWSER names is what Python's webbrowser runs: its argv recorded
    browser.write_text(f'#!/bin/sh\nprintf "%s\\n" "$0" "$@" > {argv}.tmp && mv {argv}.tmp {argv}\n')
    browser.chmod(0o755)
    with running(["--open", str(plugin)], run_env(state_root, BROWSER=str(browser))) as run:
        api = ApiClient.wait_for(state_root)
        run.wait_for(lambda _: argv.exists(), 30, "the browser started")
        args = argv.read_text().splitlines()[1:]
        assert all(api.token not in arg for arg in args), args
        (url,) = args
        assert url.startswith(f"{api.url}/?code="), url
        assert [m for m in run.said() if "dashboard:" in m] == [f"dashboard: {api.url}/?token={api.token}"]

        # the code: once, for the cookie and a redirect to the same page without it
        exchanged = http("GET", url, headers={"Accept": "text/html"})
        assert exchanged.status == 303 and exchanged.headers["location"] == "/", exchanged
        cookie = exchanged.cookies[cookie_name(_port(api.url))]
        assert http("GET", f"{api.url}/api/plugins",
                    headers={"Cookie": f"{cookie_name(_port(api.url))}={cookie}"}).status == 200
        again = http("GET", url, headers={"Accept": "text/html"})
        assert again.status == 401 and "open the dashboard URL it printed" in again.text
        assert cookie_name(_port(api.url)) not in again.cookies


def test_a_code_is_good_once_for_one_port_within_its_lifetime() -> None:
    now = [100.0]
    codes = OneTimeCodes(lifetime=60.0, clock=lambda: now[0])
    first, second, other = codes.issue(15000), codes.issue(15000), codes.issue(15001)
    assert first != second
    assert codes.redeem(first, 15000) and not codes.redeem(first, 15000)  # spent
    assert not codes.redeem(other, 15000) and not codes.redeem(other, 15001)  # another port's, spent trying
    now[0] += 60.0
    assert not codes.redeem(second, 15000)  # expired
    # bounded: past LIVE_CODES unspent ones, the oldest go
    oldest = codes.issue(15000)
    newest = [codes.issue(15000) for _ in range(LIVE_CODES)]
    assert not codes.redeem(oldest, 15000) and codes.redeem(newest[-1], 15000)


def test_plugin_code_in_the_preview_cannot_change_anything_through_the_api(tmp_path: Path) -> None:
    plugin, state_root = _plugin_and_state_root(tmp_path)
    with running([], run_env(state_root), command="serve"), Browser("chromium") as chromium:
        api = ApiClient.wait_for(state_root)
        assert api.call("POST", "/api/plugins", {"path": str(plugin)})[0] == 201
        api.wait_state("testplugin", lambda s: s["goStatus"] == "ready", START, "the plugin ready")
        preview = api.get("/api/preview")["url"]

        # the dashboard's link leads to the preview origin, and a browser gets in without the token
        chromium.goto(f"{api.url}/?token={api.token}")
        link = chromium.wait("() => document.querySelector('[data-plugin=testplugin] .preview-link')?.href")
        assert link == f"{preview}/preview/testplugin"
        chromium.goto(link)
        assert chromium.evaluate("() => location.href") == link
        assert chromium.evaluate("() => document.title") == "testplugin · plugindev preview"
        # what plugin code there can send the API with the cookies the browser holds: a simple POST (no CORS
        # preflight), and a JSON one; neither gets through
        tried = chromium.evaluate("""async (api) => {
          const results = [];
          for (const [mode, type] of [['no-cors', 'text/plain'], ['cors', 'application/json']]) {
            try {
              const r = await fetch(`${api}/api/plugins/testplugin/stop`, { method: 'POST', mode,
                credentials: 'include', headers: { 'Content-Type': type }, body: '{}' });
              results.push(r.type === 'opaque' ? 'sent, answer unreadable' : r.status);
            } catch (error) {
              results.push('refused');
            }
          }
          return results;
        }""", api.url)
        assert tried == ["sent, answer unreadable", "refused"], tried
        assert api.get("/api/plugins/testplugin")["goStatus"] == "ready"  # not stopped

        # the same requests without a browser: the API refuses the preview's origin whatever cookies come along
        cookies = BrowserLike()
        cookies.get(f"{api.url}/preview/testplugin?token={api.token}")  # both cookies, as the browser has
        for method, path, body in (("POST", "/api/plugins", {"path": str(plugin)}),
                                   ("POST", "/api/plugins/testplugin/stop", None),
                                   ("DELETE", "/api/plugins/testplugin", None),
                                   ("GET", "/api/plugins", None)):
            refused = http(method, f"{api.url}{path}", body=body,
                           headers={"Origin": preview, "Cookie": cookies.cookie_header()})
            assert refused.status == 403, (method, path, refused)
        # and the preview origin itself has nothing that changes anything
        for method in ("POST", "DELETE", "PUT"):
            for path in ("/api/plugins", "/api/plugins/testplugin", "/preview/testplugin"):
                answer = http(method, f"{preview}{path}", body={"path": str(plugin)},
                              headers={"Cookie": cookies.cookie_header()})
                assert answer.status in (404, 405), (method, path, answer.status)
        assert api.get("/api/plugins/testplugin")["goStatus"] == "ready"


def test_the_scaffolds_vite_lets_in_the_ide_and_the_preview_and_no_other_page(tmp_path: Path) -> None:
    plugin = tmp_path / "corsplugin"
    scaffolded = plugindev("scaffold", str(plugin), "--id", "corsplugin", "--template", "ui")
    assert scaffolded.returncode == 0, scaffolded.stderr
    state_root = tmp_path / "state"
    with running([str(plugin)], run_env(state_root, PLUGINDEV_CORS_ORIGINS=OWN_PAGE_ORIGIN)) as run:
        up = run.wait_status(lambda s: s["viteStatus"] == "ready", START, "Vite ready")
        preview = ApiClient.wait_for(state_root).get("/api/preview")["url"]

        def allowed(origin: str) -> str | None:
            answer = http("GET", f"{up['viteURL']}/src/entry.ts", headers={"Origin": origin})
            assert answer.status == 200, answer
            return answer.headers.get("access-control-allow-origin")

        for origin in (preview, "wails://wails", "http://wails.localhost", OWN_PAGE_ORIGIN):
            assert allowed(origin) == origin, origin
        for origin in (FOREIGN_ORIGIN, "http://localhost:9999", "https://example.com", "http://wails.localhost:9999"):
            assert allowed(origin) is None, origin
