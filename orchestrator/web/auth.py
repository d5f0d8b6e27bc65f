"""How a browser holds the API token: passed once in the URL plugindev prints (`?token=`), then kept in a cookie.

The cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page makes the browser send it) and
host-only (sent to 127.0.0.1 alone; it has no Domain). Its name carries the port, so two plugindevs on one machine
keep their own. A restarted plugindev keeps its token and port (orchestrator.api.identity), so an open page comes
back by itself; when the token is new (its file was deleted), the old cookie fails and the page says to open the
URL plugindev printed.
"""

from __future__ import annotations

import secrets

from aiohttp import web

UNAUTHORIZED_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>plugindev</title></head>
<body style="font-family: system-ui, sans-serif; margin: 3em">
<h1>plugindev restarted</h1>
<p>This page has no valid token (none was given, or plugindev has a new one): open the dashboard URL it
printed, <code>http://127.0.0.1:PORT/?token=…</code> (also in <code>&lt;state root&gt;/plugindev/api.json</code>).</p>
</body></html>
"""


def cookie_name(port: int) -> str:
    return f"plugindev-{port}"


def token_matches(candidate: str | None, token: str) -> bool:
    return candidate is not None and secrets.compare_digest(candidate.encode(), token.encode())


def presented_token(request: web.Request, token: str, port: int) -> tuple[bool, bool]:
    """(authorised, by the URL): a Bearer header (tools), the cookie, or `?token=` on a GET (a page opened)."""
    by_url = request.method == "GET" and token_matches(request.query.get("token"), token)
    bearer = request.headers.get("Authorization", "")
    by_header = bearer.startswith("Bearer ") and token_matches(bearer.removeprefix("Bearer "), token)
    return by_url or by_header or token_matches(request.cookies.get(cookie_name(port)), token), by_url


def wants_page(request: web.Request) -> bool:
    """A browser navigating (it asks for HTML), as opposed to a tool or a script."""
    return request.method == "GET" and "text/html" in request.headers.get("Accept", "")


def unauthorized_page() -> web.Response:
    return web.Response(status=401, text=UNAUTHORIZED_PAGE, content_type="text/html")


def remember(response: web.StreamResponse, token: str, port: int) -> None:
    """Give the browser the cookie (on the page opened with `?token=`)."""
    response.set_cookie(cookie_name(port), token, httponly=True, samesite="Strict", path="/")
