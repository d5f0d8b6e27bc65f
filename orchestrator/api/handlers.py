"""The control API's handlers and guards: what each request gets (the listeners and routes are in
orchestrator.web.server).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import quote

from aiohttp import web

from orchestrator.api import auth
from orchestrator.api.history import EventHistory
from orchestrator.api.parsing import PLUGIN_BODY, json_body, plugin_folder, resume_after
from orchestrator.common.errors import PlugindevError, UnknownPlugin
from orchestrator.common.net import HOST
from orchestrator.devloop.manager import DevManager, checked_manifest
from orchestrator.devloop.session import PluginSession
from orchestrator.model.events import Dropped, Event, LogEntry, SystemMessage
from orchestrator.model.state import DevState

PREVIEW_PAGE = "preview-page"  # the route's name: the preview origin sends a browser without its cookie to get one
HEARTBEAT = 15.0  # seconds between comments on an idle event stream, so proxies and clients keep it open
RECONNECT_MS = 1000  # how soon a browser's EventSource retries while plugindev is away
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ExternalView(Protocol):
    """What the API reads of the external-mode monitor (orchestrator.external.monitor)."""

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

    def signed_in(self, path: str) -> str:
        """A page of the API as plugindev prints it: `?token=` lets a browser in, which keeps a cookie from then
        on (a one-time code, as `run --open` gives the browser, would be spent or expired before a reader of the
        terminal opens it)."""
        return f"{self.url}{path}?token={self.token}"

    def say_preview(self, session: PluginSession) -> None:
        """The line with the URL of a plugin's preview, when it has one: a UI that a Vite server serves (the
        preview loads it from there)."""
        if session.uses_vite:
            plugin_id = session.manifest.id
            self._say(f"preview of {plugin_id}: {self.signed_in(f'/preview/{quote(plugin_id)}')}")

    def _say(self, message: str) -> None:
        self.manager.bus.publish(SystemMessage(message))

    # -- reading --------------------------------------------------------------------------------------------
    def states(self) -> list[DevState]:
        """Every plugin's: managed, then external ones that are not managed too."""
        external = self.external.states() if self.external else {}
        managed = self.manager.ids()
        return self.manager.states() + [state for plugin_id, state in external.items() if plugin_id not in managed]

    def state(self, plugin_id: str) -> DevState:
        for state in self.states():
            if state.pluginID == plugin_id:
                return state
        raise UnknownPlugin(f"no plugin {plugin_id!r}: add it with POST /api/plugins {{\"path\": DIR}}")

    # -- handlers -------------------------------------------------------------------------------------------
    async def list_plugins(self, _request: web.Request) -> web.Response:
        return web.json_response([state.to_json() for state in self.states()])

    async def add_plugin(self, request: web.Request) -> web.Response:
        folder = plugin_folder(await json_body(request, PLUGIN_BODY))
        # validating reads the plugin's files: off the event loop (the set itself changes on it, after)
        manifest = await asyncio.to_thread(checked_manifest, folder)
        known = manifest.id in self.manager.plugins  # from this folder: another folder with its id is refused
        session = self.manager.add(folder, manifest)
        self.manager.start(session.manifest.id)
        if known:
            return web.json_response(session.state.to_json(), status=200)
        self._say(f"added {session.manifest.id} from {session.state.devPath}")
        self.say_preview(session)
        return web.json_response(session.state.to_json(), status=201)

    async def get_plugin(self, request: web.Request) -> web.Response:
        return web.json_response(self.state(request.match_info["id"]).to_json())

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
        self._say(f"removed {request.match_info['id']}")
        return web.json_response({"removed": request.match_info["id"]})

    async def logs(self, request: web.Request) -> web.Response:
        plugin_id = request.match_info["id"]
        try:
            count = int(request.query.get("count", "0"))
        except ValueError:
            raise PlugindevError("count must be a whole number (0 or less: every kept entry)") from None
        if plugin_id in self.manager.ids():
            entries = self.manager.session(plugin_id).record.recent_logs(count)
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
                if isinstance(event.payload, Dropped):  # it fell too far behind: its client resumes after `last`
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
        refused = _foreign(request, self.port) or auth.exchange_code(request, self.codes, self.token, self.port,
                                                                     self.url)
        if refused is not None:
            return refused
        authorised, by_url = auth.presented_token(request, self.token, self.port)
        if not authorised:
            if auth.wants_page(request):
                return auth.unauthorized_page(request, self.url)
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
        refused = _foreign(request, port) or auth.exchange_code(request, self.codes, self.token, port, self.url)
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
    data = json.dumps(event.payload.to_json(), separators=(",", ":"))
    await response.write(f"id: {event.id}\nevent: {event.name}\ndata: {data}\n\n".encode())
    return event.id
