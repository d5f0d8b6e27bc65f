"""The pages the control API serves to a browser, from the files shipped in the package (`web/`, no build step
and no network at run time): the dashboard at `/`, the preview host at `/preview/<id>`, their static files under
`/static/`, and `/web/plugin-context/<id>` (what the preview's PluginContext holds). The API's guard stands in
front of all of them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
from aiohttp import web

from orchestrator.common.paths import resource_dir
from orchestrator.web.plugin_context import plugin_context

if TYPE_CHECKING:
    from orchestrator.api.server import Api

# module scripts must come with a JavaScript type whatever the machine's mime database says
CONTENT_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".html": "text/html",
                 ".json": "application/json", ".ttf": "font/ttf", ".txt": "text/plain", ".svg": "image/svg+xml"}
NO_CACHE = {"Cache-Control": "no-cache"}  # a new plugindev may ship new files under the same names
# the preview host's chunks and assets are named by their content hash: a browser keeps them for good, so a second
# view of a preview loads the shared packages from its cache without asking
IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
HASHED = ("preview/host/chunks/", "preview/host/assets/")
IDE_ENTRY = "/src/entry.ts"  # the only URL the IDE imports a dev plugin's UI from, whatever file the plugin has
# where the preview and the IDE necessarily differ, said on the page, a line each
PREVIEW_NOTES = (
    "@omniviewdev/* packages are stand-ins here: their components draw a labelled frame and their hooks return "
    "empty data (the IDE's are real).",
    "The theme is MUI's dark default: the IDE's own theme and CSS variables are not loaded here.",
)


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
        # what the page would otherwise ask for first, one request after another: the plugin's state, and where
        # its event stream starts (the newest event's id: it only wants what comes after)
        kept = self.api.history.since(0)
        config = {"pluginId": state["pluginID"], "entry": IDE_ENTRY, "notes": list(PREVIEW_NOTES), "state": state,
                  "lastEventId": kept[-1].id if kept else 0}
        return self._page("preview/index.html", plugin_id=state["pluginID"], config=config)

    async def static(self, request: web.Request) -> web.StreamResponse:
        file = (self.root / request.match_info["path"]).resolve()
        if not file.is_relative_to(self.root) or not file.is_file():
            raise web.HTTPNotFound()
        content_type = CONTENT_TYPES.get(file.suffix, "application/octet-stream")
        caching = IMMUTABLE if request.match_info["path"].startswith(HASHED) else NO_CACHE
        return web.FileResponse(file, headers={**caching, "Content-Type": content_type})

    async def plugin_context(self, request: web.Request) -> web.Response:
        context = await plugin_context(self.api, request.match_info["id"])  # an unknown plugin: the guard's 404
        return web.json_response(context.to_json(), headers=NO_CACHE)

    def _page(self, template: str, **context: object) -> web.Response:
        html = self.templates.get_template(template).render(**context)
        return web.Response(text=html, content_type="text/html", headers=NO_CACHE)


def add_web_routes(app: web.Application, api: Api) -> None:
    pages = WebPages(api, resource_dir("web"))
    app.add_routes([
        web.get("/", pages.dashboard),
        web.get("/preview/{id}", pages.preview),
        web.get("/static/{path:.+}", pages.static),
        web.get("/web/plugin-context/{id}", pages.plugin_context),
    ])
