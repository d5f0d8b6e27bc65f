"""The control API: JSON over REST on 127.0.0.1, mirroring the IDE's dev-server bindings, and the event stream.

Every request needs `Authorization: Bearer <token>` (the token is in `<state root>/plugindev/api.json`, mode
0600), or the dashboard's cookie, which a page gets once from `?token=` or a one-time code (orchestrator.api.auth);
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
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from orchestrator.api import auth
from orchestrator.api.handlers import Api
from orchestrator.common.errors import PlugindevError
from orchestrator.common.net import HOST
from orchestrator.common.supervision import keep_running
from orchestrator.model.events import Level
from orchestrator.statefiles.api_file import api_file, running_api, write_api_file
from orchestrator.web.routes import add_dashboard_routes, add_preview_routes

ADVERTISE_RETRY = 2.0  # seconds between looks at another plugindev's api.json, to take it over once it has gone
# the origins (space-separated) besides the IDE's that may read a plugin's Vite server: the Vite servers started
# after the API inherit it, with this plugindev's preview origin added to whatever the environment had
CORS_ORIGINS_ENV = "PLUGINDEV_CORS_ORIGINS"

def api_app(api: Api) -> web.Application:
    app = web.Application(middlewares=[api.guard])
    app.on_response_prepare.append(auth.add_page_headers)
    app.add_routes([
        web.get("/api/plugins", api.list_plugins),
        web.post("/api/plugins", api.add_plugin),
        web.get("/api/plugins/{id}", api.get_plugin),
        web.delete("/api/plugins/{id}", api.remove_plugin),
        web.post("/api/plugins/{id}/{action:stop|restart|rebuild}", api.act),
        web.get("/api/plugins/{id}/logs", api.logs),
        web.get("/api/plugins/{id}/external", api.external_devinfo),
        web.get("/api/events", api.events),
        web.get("/api/preview", api.preview_origin),
    ])
    add_dashboard_routes(app, api)
    return app

def preview_app(api: Api) -> web.Application:
    app = web.Application(middlewares=[api.preview_guard])
    app.on_response_prepare.append(auth.add_page_headers)
    add_preview_routes(app, api)
    return app




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
        self._runner = web.AppRunner(api_app(self.api), access_log=None, shutdown_timeout=0.5)
        self._preview_runner = web.AppRunner(preview_app(self.api), access_log=None, shutdown_timeout=0.5)
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
