"""The control API: JSON over REST on 127.0.0.1, mirroring the IDE's dev-server bindings, and the event stream.

Every request needs `Authorization: Bearer <token>` (the token is in `<state root>/plugindev/api.json`, mode
0600), or the dashboard's cookie, which a page gets once from `?token=` (orchestrator.web.auth); a request
naming another host or coming from another origin is refused, so a web page cannot reach the API through
DNS rebinding. Errors are `{"error": "..."}` saying what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from orchestrator.api.advert import api_file, running_api, write_api_file
from orchestrator.api.history import EventHistory
from orchestrator.common.errors import PlugindevError, UnknownPlugin
from orchestrator.devloop.events import Event, LogEntry
from orchestrator.devloop.manager import DevManager
from orchestrator.devloop.state import HOST, DevState
from orchestrator.web import auth
from orchestrator.web.routes import add_web_routes

HEARTBEAT = 15.0  # seconds between comments on an idle event stream, so proxies and clients keep it open
RECONNECT_MS = 1000  # how soon a browser's EventSource retries while plugindev is away
ADVERTISE_RETRY = 2.0  # seconds between looks at another plugindev's api.json, to take it over once it has gone
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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
    streams: set[web.StreamResponse] = field(default_factory=set)  # open event streams, ended cleanly at exit

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
        try:
            body = await request.json()
        except ValueError:
            raise PlugindevError('the body must be JSON: {"path": "<plugin folder>"}') from None
        path = body.get("path") if isinstance(body, dict) else None
        if not isinstance(path, str) or not path:
            raise PlugindevError('give the plugin folder: {"path": "<plugin folder>"}')
        session = self.manager.add(Path(path).expanduser())
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

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-Sent Events; `Last-Event-ID` (or `?lastEventId=`) resumes after that event."""
        raw = request.headers.get("Last-Event-ID") or request.query.get("lastEventId") or "0"
        last = int(raw) if raw.isdigit() else 0
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        # the first bytes at once: Firefox opens an EventSource on them, not on the headers (an idle stream would
        # say "connecting" until the first heartbeat); they also set the browser's retry delay
        await response.write(f"retry: {RECONNECT_MS}\n\n".encode())
        live = self.history.subscribe()  # before the replay: nothing falls between the two
        self.streams.add(response)
        try:
            for event in self.history.since(last):
                last = await _send(response, event)
            while True:
                try:
                    event = await asyncio.wait_for(live.get(), HEARTBEAT)
                except TimeoutError:
                    await response.write(b": heartbeat\n\n")
                    continue
                if event.id > last:
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
        hosts = {f"{HOST}:{self.port}", f"localhost:{self.port}"}
        if request.host not in hosts:
            return _error(403, f"host {request.host!r} is not this API's; use http://{HOST}:{self.port}")
        origin = request.headers.get("Origin")
        if origin is not None and origin not in {f"http://{host}" for host in hosts}:
            return _error(403, f"requests from {origin} are refused; the API serves local tools only")
        authorised, by_url = auth.presented_token(request, self.token, self.port)
        if not authorised:
            if auth.wants_page(request):
                return auth.unauthorized_page()
            return _error(401, "missing or wrong token: send 'Authorization: Bearer <token>' with the token "
                               "from <state root>/plugindev/api.json")
        try:
            response = await handler(request)
        except UnknownPlugin as exc:
            return _error(404, str(exc))
        except PlugindevError as exc:
            return _error(400, str(exc))
        if by_url and not response.prepared:  # a page opened from the printed URL: the cookie from now on
            auth.remember(response, self.token, self.port)
        return response

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.guard])
        app.add_routes([
            web.get("/api/plugins", self.list_plugins),
            web.post("/api/plugins", self.add_plugin),
            web.get("/api/plugins/{id}", self.get_plugin),
            web.delete("/api/plugins/{id}", self.remove_plugin),
            web.post("/api/plugins/{id}/{action:stop|restart|rebuild}", self.act),
            web.get("/api/plugins/{id}/logs", self.logs),
            web.get("/api/plugins/{id}/external", self.external_devinfo),
            web.get("/api/events", self.events),
        ])
        add_web_routes(app, self)
        return app


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _send(response: web.StreamResponse, event: Event) -> int:
    data = json.dumps(event.payload, separators=(",", ":"))
    await response.write(f"id: {event.id}\nevent: {event.name}\ndata: {data}\n\n".encode())
    return event.id


class ApiServer:
    """The API listening on 127.0.0.1, advertised in `<state root>/plugindev/api.json` while it runs."""

    def __init__(self, api: Api, state_root: Path) -> None:
        self.api = api
        self.state_root = state_root
        self.file = api_file(state_root)
        self._runner: web.AppRunner | None = None
        self._history_task: asyncio.Task[None] | None = None
        self._takeover_task: asyncio.Task[None] | None = None
        self.advertised = False

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.api.port}"

    async def start(self, port: int = 0, kept_port: int = 0) -> None:
        """Serve on `port`; with none given, on `kept_port` (the last run's) when it is free, else a free one."""
        self._history_task = asyncio.create_task(self.api.history.run())
        self._runner = web.AppRunner(self.api.app(), access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        try:
            if port or not kept_port:
                await self._listen(port)
            else:
                try:
                    await self._listen(kept_port)
                except OSError:
                    await self._listen(0)
        except OSError as exc:
            await self.close()
            raise PlugindevError(f"cannot serve the API on {HOST}:{port}: {exc.strerror}; choose another "
                                 "--api-port (or leave it out for a free one)") from None
        self.api.port = self._runner.addresses[0][1]
        self.advertised = self._advertise()
        if not self.advertised:
            self._takeover_task = asyncio.create_task(self._advertise_once_free())

    async def _advertise_once_free(self) -> None:
        """Take api.json over when the plugindev that owns it stops, so that tools find this one then."""
        while not self.advertised:
            await asyncio.sleep(ADVERTISE_RETRY)
            self.advertised = self._advertise()

    async def _listen(self, port: int) -> None:
        assert self._runner is not None
        await web.TCPSite(self._runner, HOST, port).start()

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
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await _cancel(self._history_task)


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
