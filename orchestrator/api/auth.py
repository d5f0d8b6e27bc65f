"""How a browser gets into plugindev's two origins without ever holding the API token in a cookie.

The token (`Authorization: Bearer`, or `?token=` in the URL plugindev prints) opens the API's port. A browser
keeps a cookie instead, whose value is derived from the token for one port (HMAC-SHA256 of `cookie:<port>`):
browsers send a 127.0.0.1 cookie to every port of 127.0.0.1, so another local server may see it, but it learns
neither the token nor the cookie of the other origin. The cookie is HttpOnly (no script reads it),
SameSite=Strict (no other site's page makes the browser send it) and named after its port, so two plugindevs on
one machine keep their own.

A URL opened by a program (`run --open`, the dashboard's way into the preview's origin) carries a one-time code
instead of the token, since a command line is readable by every local user: random, good for one use within
60 s and for one port, exchanged for that port's cookie and a redirect to the same path without it.

A restarted plugindev keeps its token and port (orchestrator.statefiles.api_identity), so an open dashboard comes
back by itself; when the token is new (its file was deleted), the old cookie fails and the page says to open the URL
plugindev printed. A browser that asks for a page without the token (a preview's URL copied without it, a bookmark)
is told the same: where the URL that lets it in is.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

# every answer says it is never to be framed: a page of another origin cannot overlay plugindev's buttons
PAGE_HEADERS = {"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'"}
CODE_LIFETIME = 60.0  # seconds a one-time code can be exchanged: the time a browser takes to start
LIVE_CODES = 64  # codes kept at most: each costs a request that already had the right to make it

PREVIEW_PREFIX = "/preview/"  # the path of a plugin's preview, on either origin
WHY_NO_TOKEN = "none was given, its one-time link was used or expired, or plugindev has a new token"
TOKEN_FILE = "the token is in <code>&lt;state root&gt;/plugindev/api.json</code>"
UNAUTHORIZED_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>plugindev: {title}</title></head>
<body style="font-family: system-ui, sans-serif; margin: 3em">
<h1>{title}</h1>
<p>{text}</p>
</body></html>
"""


def cookie_name(port: int) -> str:
    return f"plugindev-{port}"


def cookie_value(token: str, port: int) -> str:
    """What the cookie of `port` holds: it opens that port alone and does not give the token away."""
    return hmac.new(token.encode(), f"cookie:{port}".encode(), hashlib.sha256).hexdigest()


def _equal(candidate: str | None, expected: str) -> bool:
    return candidate is not None and secrets.compare_digest(candidate.encode(), expected.encode())


def has_cookie(request: web.Request, token: str, port: int) -> bool:
    return _equal(request.cookies.get(cookie_name(port)), cookie_value(token, port))


def presented_token(request: web.Request, token: str, port: int) -> tuple[bool, bool]:
    """(authorised, by the URL): a Bearer header (tools), the cookie, or `?token=` on a GET (a page opened)."""
    by_url = request.method == "GET" and _equal(request.query.get("token"), token)
    bearer = request.headers.get("Authorization", "")
    by_header = bearer.startswith("Bearer ") and _equal(bearer.removeprefix("Bearer "), token)
    return by_url or by_header or has_cookie(request, token, port), by_url


def wants_page(request: web.Request) -> bool:
    """A browser navigating (it asks for HTML), as opposed to a tool or a script."""
    return request.method == "GET" and "text/html" in request.headers.get("Accept", "")


def unauthorized_page(request: web.Request, api_url: str) -> web.Response:
    """What a browser without the token gets instead of a page: the URL that lets it in (the API's at `api_url`),
    for a preview or for the dashboard."""
    path = request.rel_url.path
    if path.startswith(PREVIEW_PREFIX):
        plugin_id = html.escape(path.removeprefix(PREVIEW_PREFIX).split("/", 1)[0])
        title = "Open this preview from the dashboard"
        text = (f"This browser has no valid token for the preview of <code>{plugin_id}</code> ({WHY_NO_TOKEN}). "
                "Open it from the dashboard (the plugin's <em>preview</em> link), or open the preview URL plugindev "
                f"printed (<code>plugindev run</code> prints one per plugin): "
                f"<code>{api_url}/preview/{plugin_id}?token=…</code> ({TOKEN_FILE}).")
    else:
        title = "Open the dashboard from the URL plugindev printed"
        text = (f"This page has no valid token ({WHY_NO_TOKEN}): open the dashboard URL it printed, "
                f"<code>{api_url}/?token=…</code> ({TOKEN_FILE}).")
    return web.Response(status=401, text=UNAUTHORIZED_PAGE.format(title=title, text=text), content_type="text/html")


def remember(response: web.StreamResponse, token: str, port: int) -> None:
    """Give the browser the cookie of `port` (on a page opened with `?token=` or a one-time code)."""
    response.set_cookie(cookie_name(port), cookie_value(token, port), httponly=True, samesite="Strict", path="/")


async def add_page_headers(_request: web.Request, response: web.StreamResponse) -> None:
    """aiohttp's on_response_prepare: every answer, pages and errors alike, before its headers are sent."""
    response.headers.update(PAGE_HEADERS)


@dataclass
class OneTimeCodes:
    """Codes that stand for the token once, on one port, for a short while."""

    lifetime: float = CODE_LIFETIME
    clock: Callable[[], float] = time.monotonic
    _live: dict[str, tuple[int, float]] = field(default_factory=dict)  # code -> (the port it opens, expiry)

    def issue(self, port: int) -> str:
        now = self.clock()
        self._live = {code: kept for code, kept in self._live.items() if kept[1] > now}
        while len(self._live) >= LIVE_CODES:
            del self._live[next(iter(self._live))]  # the oldest
        code = secrets.token_urlsafe(24)
        self._live[code] = (port, now + self.lifetime)
        return code

    def redeem(self, code: str, port: int) -> bool:
        """True once for a live code of `port`; the code is spent whatever the answer."""
        kept = self._live.pop(code, None)
        return kept is not None and kept[0] == port and kept[1] > self.clock()


def exchange_code(request: web.Request, codes: OneTimeCodes, token: str, port: int, api_url: str
                  ) -> web.Response | None:
    """A GET with `?code=`: a live code gives the cookie of `port` and a redirect to the same URL without the code
    (so it leaves the address bar and the history); a spent or expired one, the page saying what to open (a URL
    of the API at `api_url`). None when the request has no code."""
    code = request.query.get("code")
    if request.method != "GET" or code is None:
        return None
    if not codes.redeem(code, port):
        return unauthorized_page(request, api_url)
    rest = [(name, value) for name, value in request.query.items() if name != "code"]
    response = web.Response(status=303, headers={"Location": str(request.rel_url.with_query(rest))})
    remember(response, token, port)
    return response
