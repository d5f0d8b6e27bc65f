"""The pages plugindev serves to a browser, from the files shipped in the package (`web/`, no build step and no
network at run time).

The API's origin: the dashboard at `/`, its static files under `/static/`, `/web/plugin-context/<id>` for tools,
and `/preview/<id>`, the way into the preview origin (a one-time code for its cookie). The preview origin runs a
plugin's own code, so it answers only what a preview reads: the page at `/preview/<id>`, its static files under
`/static/preview/`, the plugin's status and error events at `/preview/<id>/events`, and
`/web/plugin-context/<id>` (what the preview's PluginContext holds). Each origin's guard stands in front of its
routes (orchestrator.web.server)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import jinja2
from aiohttp import web

from orchestrator.api.handlers import PREVIEW_PAGE
from orchestrator.common.paths import resource_dir
from orchestrator.devloop.vite import ENTRY_PATH
from orchestrator.model.events import BuildErrors, StatusChanged
from orchestrator.web.plugin_context import plugin_context

if TYPE_CHECKING:
    from orchestrator.api.handlers import Api

# module scripts must come with a JavaScript type whatever the machine's mime database says
CONTENT_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".html": "text/html",
                 ".json": "application/json", ".ttf": "font/ttf", ".txt": "text/plain", ".svg": "image/svg+xml"}
NO_CACHE = {"Cache-Control": "no-cache"}  # a new plugindev may ship new files under the same names
# the preview host's chunks and assets are named by their content hash: a browser keeps them for good, so a second
# view of a preview loads the shared packages from its cache without asking
IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
HASHED = ("preview/host/chunks/", "preview/host/assets/")
PREVIEW_EVENTS = (StatusChanged, BuildErrors)  # what a preview follows of its plugin
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

    async def preview_way_in(self, request: web.Request) -> web.Response:
        """The API's `/preview/<id>`: a browser that holds the dashboard's cookie goes on to the preview origin
        with a one-time code for that origin's cookie."""
        plugin_id = self.api.state(request.match_info["id"]).pluginID  # an unknown plugin: the guard's 404
        target = f"{self.api.preview_url}/preview/{quote(plugin_id)}?code={self.api.issue_preview_code()}"
        return web.Response(status=303, headers={"Location": target, **NO_CACHE})

    async def preview(self, request: web.Request) -> web.Response:
        state = self.api.state(request.match_info["id"])  # an unknown plugin: the guard's 404
        # what the page would otherwise ask for first, one request after another: the plugin's state, and where
        # its event stream starts (the newest event's id: it only wants what comes after)
        kept = self.api.history.since(0)
        events = f"/preview/{quote(state.pluginID)}/events?lastEventId={kept[-1].id if kept else 0}"
        # its current errors (a type error found before the page opened), as the last error event said them
        errors: list[dict[str, object]] = next((event.payload.to_json()["errors"] for event in reversed(kept)
                                                if isinstance(event.payload, BuildErrors)
                                                and event.plugin_id == state.pluginID), [])
        config = {"pluginId": state.pluginID, "entry": ENTRY_PATH, "notes": list(PREVIEW_NOTES),
                  "state": state.to_json(), "events": events, "errors": errors}
        return self._page("preview/index.html", plugin_id=state.pluginID, config=config)

    async def preview_events(self, request: web.Request) -> web.StreamResponse:
        plugin_id = request.match_info["id"]  # whether or not it runs now: a preview waits for its plugin
        return await self.api.stream(request, lambda event: event.plugin_id == plugin_id
                                     and isinstance(event.payload, PREVIEW_EVENTS))

    def static(self, folder: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """The files under `web/<folder>`, at `/static/<folder>/...`."""
        top = (self.root / folder).resolve()

        async def serve(request: web.Request) -> web.StreamResponse:
            path = f"{folder}/{request.match_info['path']}".lstrip("/")
            file = (self.root / path).resolve()
            if not file.is_relative_to(top) or not file.is_file():
                raise web.HTTPNotFound()
            content_type = CONTENT_TYPES.get(file.suffix, "application/octet-stream")
            caching = IMMUTABLE if path.startswith(HASHED) else NO_CACHE
            return web.FileResponse(file, headers={**caching, "Content-Type": content_type})

        return serve

    async def plugin_context(self, request: web.Request) -> web.Response:
        context = await plugin_context(self.api, request.match_info["id"])  # an unknown plugin: the guard's 404
        return web.json_response(context.to_json(), headers=NO_CACHE)

    def _page(self, template: str, **context: object) -> web.Response:
        html = self.templates.get_template(template).render(**context)
        return web.Response(text=html, content_type="text/html", headers=NO_CACHE)


def add_dashboard_routes(app: web.Application, api: Api) -> None:
    pages = WebPages(api, resource_dir("web"))
    app.add_routes([
        web.get("/", pages.dashboard),
        web.get("/preview/{id}", pages.preview_way_in),
        web.get("/static/{path:.+}", pages.static("")),
        web.get("/web/plugin-context/{id}", pages.plugin_context),
    ])


def add_preview_routes(app: web.Application, api: Api) -> None:
    pages = WebPages(api, resource_dir("web"))
    app.add_routes([
        web.get("/preview/{id}", pages.preview, name=PREVIEW_PAGE),
        web.get("/preview/{id}/events", pages.preview_events),
        web.get("/static/preview/{path:.+}", pages.static("preview")),
        web.get("/web/plugin-context/{id}", pages.plugin_context),
    ])
