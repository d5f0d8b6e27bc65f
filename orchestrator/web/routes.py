"""The pages the control API serves to a browser, from the files shipped in the package (`web/`, no build step
and no network at run time): the dashboard at `/`, the preview host at `/preview/<id>`, their static files under
`/static/`, and `/web/cursor` (the id of the newest event, where a page that only wants new events starts its
stream). The API's guard stands in front of all of them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import jinja2
from aiohttp import web

from orchestrator.common.paths import resource_dir
from orchestrator.devloop.ui import entry_url

if TYPE_CHECKING:
    from orchestrator.api.server import Api

# module scripts must come with a JavaScript type whatever the machine's mime database says
CONTENT_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".html": "text/html",
                 ".json": "application/json", ".ttf": "font/ttf", ".txt": "text/plain", ".svg": "image/svg+xml"}
NO_CACHE = {"Cache-Control": "no-cache"}  # a new plugindev may ship new files under the same names


class WebPages:
    def __init__(self, api: Api, root: Path) -> None:
        self.api = api
        self.root = root.resolve()
        self.templates = jinja2.Environment(loader=jinja2.FileSystemLoader(self.root), autoescape=True,
                                            undefined=jinja2.StrictUndefined)

    async def dashboard(self, _request: web.Request) -> web.Response:
        return self._page("dashboard/index.html")

    async def preview(self, request: web.Request) -> web.Response:
        state = self.api.state(request.match_info["id"])  # an unknown plugin: the guard's 404
        entry = urlsplit(entry_url(Path(state["devPath"]), 0)).path if state["devPath"] else "/src/entry.ts"
        return self._page("preview/index.html", plugin_id=state["pluginID"], entry=entry)

    async def static(self, request: web.Request) -> web.StreamResponse:
        file = (self.root / request.match_info["path"]).resolve()
        if not file.is_relative_to(self.root) or not file.is_file():
            raise web.HTTPNotFound()
        content_type = CONTENT_TYPES.get(file.suffix, "application/octet-stream")
        return web.FileResponse(file, headers={**NO_CACHE, "Content-Type": content_type})

    async def cursor(self, _request: web.Request) -> web.Response:
        kept = self.api.history.since(0)
        return web.json_response({"lastEventId": kept[-1].id if kept else 0})

    def _page(self, template: str, **context: str) -> web.Response:
        html = self.templates.get_template(template).render(**context)
        return web.Response(text=html, content_type="text/html", headers=NO_CACHE)


def add_web_routes(app: web.Application, api: Api) -> None:
    pages = WebPages(api, resource_dir("web"))
    app.add_routes([
        web.get("/", pages.dashboard),
        web.get("/preview/{id}", pages.preview),
        web.get("/static/{path:.+}", pages.static),
        web.get("/web/cursor", pages.cursor),
    ])
