"""The control API: JSON over REST on 127.0.0.1, mirroring the IDE's dev-server bindings, and the event stream.

Every request needs `Authorization: Bearer <token>` (the token is in `<state root>/plugindev/api.json`, mode
0600), or the dashboard's cookie, which a page gets once from `?token=` or a one-time code (orchestrator.web.auth);
a request naming another host or coming from another origin is refused, so a web page cannot reach the API
through DNS rebinding. Errors are `{"error": "..."}` saying what to do.

The preview runs a plugin's own code, so it is served by a second listener, the preview origin
(127.0.0.1:<another port>): the browser keeps it apart from the API's origin, it has its own cookie, and it
answers only what a preview reads (the page, its static files, the plugin's state and status events, its
PluginContext), so a plugin's code there can change nothing. The plugin's Vite server learns that origin from
PLUGINDEV_CORS_ORIGINS (see the scaffold's vite.config.ts).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from orchestrator.api.advert import api_file, running_api, write_api_file
from orchestrator.api.history import EventHistory
from orchestrator.api.parsing import PLUGIN_BODY, json_body, plugin_folder, resume_after
from orchestrator.common.errors import PlugindevError, UnknownPlugin
from orchestrator.devloop.events import EVENT_DROPPED, Event, Level, LogEntry
from orchestrator.devloop.manager import DevManager, checked_manifest
from orchestrator.devloop.state import HOST, DevState
from orchestrator.devloop.supervisor import keep_running
from orchestrator.web import auth
from orchestrator.web.routes import PREVIEW_PAGE, add_dashboard_routes, add_preview_routes

HEARTBEAT = 15.0  # seconds between comments on an idle event stream, so proxies and clients keep it open
RECONNECT_MS = 1000  # how soon a browser's EventSource retries while plugindev is away
ADVERTISE_RETRY = 2.0  # seconds between looks at another plugindev's api.json, to take it over once it has gone
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# the origins (space-separated) besides the IDE's that may read a plugin's Vite server: the Vite servers started
# after the API inherit it, with this plugindev's preview origin added to whatever the environment had
CORS_ORIGINS_ENV = "PLUGINDEV_CORS_ORIGINS"


class ExternalView(Protocol):
    """What the API reads of the external-mode monitor (orchestrator.devloop.external)."""

    def states(self) -> dict[str, DevState]: ...

    def devinfo(self, plugin_id: str) -> dict[str, Any] | None: ...

    def logs(self, plugin_id: str, count: int = 0) -> list[LogEntry]: ...


@dataclass
class Api:
    manager: DevManager
    history: EventHistory
    external: ExternalView | None = None
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))  # the kept one, in a real run
    port: int = 0
    preview_port: int = 0  # the preview origin's
    codes: auth.OneTimeCodes = field(default_factory=auth.OneTimeCodes)
    streams: set[web.StreamResponse] = field(default_factory=set)  # open event streams, ended cleanly at exit

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def preview_url(self) -> str:
        return f"http://{HOST}:{self.preview_port}"

    # -- reading --------------------------------------------------------------------------------------------
    def states(self) -> list[dict[str, Any]]:
        managed = [state.to_json() for state in self.manager.states()]
        external = self.external.states() if self.external else {}
        return managed + [state.to_json() for plugin_id, state in external.items()
                          if plugin_id not in self.manager.ids()]

    def state(self, plugin_id: str) -> dict[str, Any]:
        for state in self.states():
            if state["pluginID"] == plugin_id:
                return state
        raise UnknownPlugin(f"no plugin {plugin_id!r}: add it with POST /api/plugins {{\"path\": DIR}}")

    # -- handlers -------------------------------------------------------------------------------------------
    async def list_plugins(self, _request: web.Request) -> web.Response:
        return web.json_response(self.states())

    async def add_plugin(self, request: web.Request) -> web.Response:
        folder = plugin_folder(await json_body(request, PLUGIN_BODY))
        # validating reads the plugin's files: off the event loop (the set itself changes on it, after)
        session = self.manager.add(folder, await asyncio.to_thread(checked_manifest, folder))
        self.manager.start(session.manifest.id)
        return web.json_response(session.state.to_json(), status=201)

    async def get_plugin(self, request: web.Request) -> web.Response:
        return web.json_response(self.state(request.match_info["id"]))

    async def act(self, request: web.Request) -> web.Response:
        plugin_id, action = request.match_info["id"], request.match_info["action"]
        if action == "stop":
            await self.manager.stop(plugin_id)
        elif action == "restart":
            await self.manager.restart(plugin_id)
        else:
            self.manager.rebuild(plugin_id)
        return web.json_response(self.manager.session(plugin_id).state.to_json())

    async def remove_plugin(self, request: web.Request) -> web.Response:
        await self.manager.remove(request.match_info["id"])
        return web.json_response({"removed": request.match_info["id"]})

    async def logs(self, request: web.Request) -> web.Response:
        plugin_id = request.match_info["id"]
        try:
            count = int(request.query.get("count", "0"))
        except ValueError:
            raise PlugindevError("count must be a whole number (0 or less: every kept entry)") from None
        if plugin_id in self.manager.ids():
            entries = self.manager.session(plugin_id).recent_logs(count)
        elif self.external is not None and plugin_id in self.external.states():
            entries = self.external.logs(plugin_id, count)
        else:
            self.state(plugin_id)  # raises the one-line error
            entries = []
        return web.json_response([entry.to_json() for entry in entries])

    async def external_devinfo(self, request: web.Request) -> web.Response:
        plugin_id = request.match_info["id"]
        info = self.external.devinfo(plugin_id) if self.external else None
        if info is None:
            raise UnknownPlugin(f"plugindev is not attached to an external {plugin_id!r}: no valid "
                                 f"plugins/{plugin_id}/.devinfo in the state root")
        return web.json_response(info)

    async def preview_origin(self, _request: web.Request) -> web.Response:
        return web.json_response({"url": self.preview_url})

    async def events(self, request: web.Request) -> web.StreamResponse:
        return await self.stream(request, lambda _event: True)

    async def stream(self, request: web.Request, wanted: Callable[[Event], bool]) -> web.StreamResponse:
        """Server-Sent Events of the `wanted` ones; `Last-Event-ID` (or `?lastEventId=`) resumes after that
        event."""
        last = resume_after(request)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        # the first bytes at once: Firefox opens an EventSource on them, not on the headers (an idle stream would
        # say "connecting" until the first heartbeat); they also set the browser's retry delay
        await response.write(f"retry: {RECONNECT_MS}\n\n".encode())
        live = self.history.subscribe()  # before the replay: nothing falls between the two
        self.streams.add(response)
        try:
            for event in self.history.since(last):
                if wanted(event):
                    last = await _send(response, event)
            while True:
                try:
                    event = await asyncio.wait_for(live.get(), HEARTBEAT)
                except TimeoutError:
                    await response.write(b": heartbeat\n\n")
                    continue
                if event.name == EVENT_DROPPED:  # it fell too far behind: its client resumes after `last`
                    await _send(response, replace(event, id=last))
                    break
                if event.id > last and wanted(event):
                    last = await _send(response, event)
        except (ConnectionResetError, ConnectionError):
            pass  # the client left
        finally:
            self.history.bus.unsubscribe(live)
            self.streams.discard(response)
        return response

    # -- the guard ------------------------------------------------------------------------------------------
    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        refused = _foreign(request, self.port) or auth.exchange_code(request, self.codes, self.token, self.port)
        if refused is not None:
            return refused
        authorised, by_url = auth.presented_token(request, self.token, self.port)
        if not authorised:
            if auth.wants_page(request):
                return auth.unauthorized_page()
            return _error(401, "missing or wrong token: send 'Authorization: Bearer <token>' with the token "
                               "from <state root>/plugindev/api.json")
        response = await _answer(request, handler)
        if by_url and not response.prepared:  # a page opened from the printed URL: the cookie from now on
            auth.remember(response, self.token, self.port)
        return response

    @web.middleware
    async def preview_guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """The preview origin's: its own cookie (got with a code from the API), never the token."""
        port = self.preview_port
        refused = _foreign(request, port) or auth.exchange_code(request, self.codes, self.token, port)
        if refused is not None:
            return refused
        if not auth.has_cookie(request, self.token, port):
            if auth.wants_page(request) and request.match_info.route.name == PREVIEW_PAGE:
                # the way in: the API's /preview/<id> sends a browser holding the dashboard's cookie back with a code
                return web.Response(status=303, headers={"Location": f"{self.url}{request.rel_url.raw_path}"})
            return _error(401, "this is a plugin preview's origin: open the preview from the dashboard")
        return await _answer(request, handler)

    def issue_preview_code(self) -> str:
        return self.codes.issue(self.preview_port)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.guard])
        app.on_response_prepare.append(auth.add_page_headers)
        app.add_routes([
            web.get("/api/plugins", self.list_plugins),
            web.post("/api/plugins", self.add_plugin),
            web.get("/api/plugins/{id}", self.get_plugin),
            web.delete("/api/plugins/{id}", self.remove_plugin),
            web.post("/api/plugins/{id}/{action:stop|restart|rebuild}", self.act),
            web.get("/api/plugins/{id}/logs", self.logs),
            web.get("/api/plugins/{id}/external", self.external_devinfo),
            web.get("/api/events", self.events),
            web.get("/api/preview", self.preview_origin),
        ])
        add_dashboard_routes(app, self)
        return app

    def preview_app(self) -> web.Application:
        app = web.Application(middlewares=[self.preview_guard])
        app.on_response_prepare.append(auth.add_page_headers)
        add_preview_routes(app, self)
        return app


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _foreign(request: web.Request, port: int) -> web.Response | None:
    """The refusal of a request naming another host (DNS rebinding) or sent by a page of another origin."""
    hosts = {f"{HOST}:{port}", f"localhost:{port}"}
    if request.host not in hosts:
        return _error(403, f"host {request.host!r} is not this server's; use http://{HOST}:{port}")
    origin = request.headers.get("Origin")
    if origin is not None and origin not in {f"http://{host}" for host in hosts}:
        return _error(403, f"requests from {origin} are refused; this server answers its own pages and local "
                           "tools only")
    return None


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except UnknownPlugin as exc:
        return _error(404, str(exc))
    except PlugindevError as exc:
        return _error(400, str(exc))


async def _send(response: web.StreamResponse, event: Event) -> int:
    data = json.dumps(event.payload, separators=(",", ":"))
    await response.write(f"id: {event.id}\nevent: {event.name}\ndata: {data}\n\n".encode())
    return event.id


class ApiServer:
    """The API listening on 127.0.0.1, advertised in `<state root>/plugindev/api.json` while it runs, and the
    preview origin beside it."""

    def __init__(self, api: Api, state_root: Path) -> None:
        self.api = api
        self.state_root = state_root
        self.file = api_file(state_root)
        self._runner: web.AppRunner | None = None
        self._preview_runner: web.AppRunner | None = None
        self._origins_before: str | None = None  # PLUGINDEV_CORS_ORIGINS before start, put back at close
        self._history_task: asyncio.Task[None] | None = None
        self._takeover_task: asyncio.Task[None] | None = None
        self.advertised = False

    @property
    def url(self) -> str:
        return self.api.url

    def sign_in_url(self, path: str = "/") -> str:
        """The URL of a page of the API for a program to open: a one-time code stands for the token, which a
        command line would show to every local user."""
        return f"{self.url}{path}?code={self.api.codes.issue(self.api.port)}"

    async def start(self, port: int = 0, kept_port: int = 0, kept_preview_port: int = 0) -> None:
        """Serve on `port`; with none given, on `kept_port` (the last run's) when it is free, else a free one.
        The preview origin listens on `kept_preview_port` when it is free (an open preview comes back by itself
        after a restart, and keeps its browser cache, which is per origin), else on a free one."""
        self._history_task = self._kept_running("the API's event history", self.api.history.run)
        self._runner = web.AppRunner(self.api.app(), access_log=None, shutdown_timeout=0.5)
        self._preview_runner = web.AppRunner(self.api.preview_app(), access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await self._preview_runner.setup()
        try:
            if port or not kept_port:
                self.api.port = await _listen(self._runner, port)
            else:
                try:
                    self.api.port = await _listen(self._runner, kept_port)
                except OSError:
                    self.api.port = await _listen(self._runner, 0)
        except OSError as exc:
            await self.close()
            raise PlugindevError(f"cannot serve the API on {HOST}:{port}: {exc.strerror}; choose another "
                                 "--api-port (or leave it out for a free one)") from None
        try:
            self.api.preview_port = await _listen(self._preview_runner, kept_preview_port)
        except OSError:
            self.api.preview_port = await _listen(self._preview_runner, 0)
        self._origins_before = os.environ.get(CORS_ORIGINS_ENV)
        os.environ[CORS_ORIGINS_ENV] = " ".join(filter(None, [self._origins_before, self.api.preview_url]))
        self.advertised = await asyncio.to_thread(self._advertise)  # files: off the event loop
        if not self.advertised:
            self._takeover_task = self._kept_running("the API's takeover of api.json", self._advertise_once_free)

    def _kept_running(self, what: str, run: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        """A task of the server's, run again after an unexpected error (said on the event bus)."""
        return asyncio.create_task(keep_running(what, run, lambda line: self.api.manager.log(Level.ERROR, line)))

    async def _advertise_once_free(self) -> None:
        """Take api.json over when the plugindev that owns it stops, so that tools find this one then."""
        while not self.advertised:
            await asyncio.sleep(ADVERTISE_RETRY)
            self.advertised = await asyncio.to_thread(self._advertise)  # files: off the event loop

    def _advertise(self) -> bool:
        """Write api.json unless another live plugindev's is there (then that one stays what tools find)."""
        owner = running_api(self.state_root)
        if owner is not None and owner.pid != os.getpid():
            return False
        write_api_file(self.state_root, self.url, self.api.token)
        return True

    async def close(self) -> None:
        await _cancel(self._takeover_task)  # first: it must not advertise a server that is going
        # a stream cut off mid-chunk is a network error to a browser; ended, it is a close its EventSource retries
        for stream in list(self.api.streams):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await stream.write_eof()
        if self.advertised:
            self.file.unlink(missing_ok=True)
            self.advertised = False
        for runner in (self._runner, self._preview_runner):
            if runner is not None:
                await runner.cleanup()
        self._runner = self._preview_runner = None
        if self.api.preview_port:
            if self._origins_before is None:
                os.environ.pop(CORS_ORIGINS_ENV, None)
            else:
                os.environ[CORS_ORIGINS_ENV] = self._origins_before
        await _cancel(self._history_task)


async def _listen(runner: web.AppRunner, port: int) -> int:
    """Listen on 127.0.0.1:`port` (0: a free one); the port listened on."""
    await web.TCPSite(runner, HOST, port).start()
    return int(runner.addresses[0][1])  # a site that failed to listen has no address


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
