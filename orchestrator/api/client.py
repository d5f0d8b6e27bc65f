"""A client of a running plugindev's control API, for the commands that talk to it (`status`, `add`, `remove`):
the url and token of `<state root>/plugindev/api.json`, JSON over REST, and the status events of the stream.

aiohttp is imported on first use: `plugindev --help` does not load it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from orchestrator.common.errors import PlugindevError
from orchestrator.common.lines import LineSplitter
from orchestrator.model.events import EVENT_STATUS
from orchestrator.statefiles.api_file import ApiEndpoint, api_file, running_api

REQUEST_TIMEOUT = 5.0  # seconds for a question (the states)
CHANGE_TIMEOUT = 60.0  # ... for a change: a removal waits for the plugin and its Vite to stop


def require_running_api(root: Path) -> ApiEndpoint:
    """The API of the plugindev that runs on this state root, or the one-line error saying how to start one."""
    endpoint = running_api(root)
    if endpoint is None:
        raise PlugindevError(f"no plugindev serve is running on the state root {root} (no live {api_file(root)}): "
                             "start one with `plugindev serve`")
    return endpoint


class ApiClient:
    """Requests with the token of api.json; every failure is one PlugindevError naming the API."""

    def __init__(self, endpoint: ApiEndpoint) -> None:
        import aiohttp

        self.endpoint = endpoint
        self._aiohttp = aiohttp
        self._session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {endpoint.token}"})

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self._session.close()

    @property
    def where(self) -> str:
        return f"the plugindev at {self.endpoint.url} (pid {self.endpoint.pid})"

    def _failure(self, what: str) -> PlugindevError:
        return PlugindevError(f"{self.where} {what}")

    async def call(self, method: str, path: str, body: Any = None, timeout: float = REQUEST_TIMEOUT
                   ) -> tuple[int, Any]:
        """The answer's status and JSON body."""
        try:
            async with self._session.request(method, f"{self.endpoint.url}{path}", json=body,
                                             timeout=self._aiohttp.ClientTimeout(total=timeout)) as response:
                return response.status, await response.json(content_type=None)
        except (self._aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise self._failure(f"does not answer ({type(exc).__name__}: {exc})") from None

    async def plugins(self) -> list[dict[str, Any]]:
        status, body = await self.call("GET", "/api/plugins")
        if status != 200 or not isinstance(body, list):
            raise self._failure(f"answered {status}: {_error(body) or 'not a list of plugins'}")
        return [state for state in body if isinstance(state, dict)]

    async def add_plugin(self, folder: Path) -> tuple[dict[str, Any], bool]:
        """Add and start the plugin in `folder` (absolute: the API's process has another working folder): its
        state, and whether it was added now (False: it was there already). The API's refusal (not a plugin, held
        by another plugindev) is the error."""
        status, body = await self.call("POST", "/api/plugins", {"path": str(folder)}, CHANGE_TIMEOUT)
        if status not in (200, 201) or not isinstance(body, dict):
            raise PlugindevError(_error(body) or f"{self.where} answered {status}")
        return body, status == 201

    async def remove_plugin(self, plugin_id: str) -> None:
        status, body = await self.call("DELETE", f"/api/plugins/{quote(plugin_id, safe='')}", None, CHANGE_TIMEOUT)
        if status == 404:
            managed = sorted(s["pluginID"] for s in await self.plugins() if s.get("mode") != "external")
            raise PlugindevError(f"no plugin {plugin_id!r} in {self.where}; it has "
                                 f"{', '.join(managed) if managed else 'none'}")
        if status != 200:
            raise PlugindevError(_error(body) or f"{self.where} answered {status}")

    @contextlib.asynccontextmanager
    async def status_events(self) -> AsyncIterator[AsyncIterator[None]]:
        """Open the event stream; the iterator yields once per status event, and ends with the stream."""
        timeout = self._aiohttp.ClientTimeout(total=None, sock_connect=REQUEST_TIMEOUT)
        try:
            response = await self._session.get(f"{self.endpoint.url}/api/events", timeout=timeout)
        except (self._aiohttp.ClientError, TimeoutError) as exc:
            raise self._failure(f"refuses its event stream ({type(exc).__name__}: {exc})") from None
        try:
            if response.status != 200:
                raise self._failure(f"answered {response.status} for its event stream")
            yield self._status_ticks(response)
        finally:
            response.release()

    async def _status_ticks(self, response: Any) -> AsyncIterator[None]:
        parser = SseParser()
        splitter = LineSplitter()  # not readline(): a long log line must not end the stream
        with contextlib.suppress(self._aiohttp.ClientError):
            async for chunk in response.content.iter_any():
                for line in splitter.feed(chunk):
                    if parser.feed(line) == EVENT_STATUS:
                        yield None


def _error(body: Any) -> str | None:
    """The API's `{"error": ...}`."""
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) else None


class SseParser:
    """Server-Sent Events, line by line: `feed` returns an event's name when a blank line ends it."""

    def __init__(self) -> None:
        self._name = ""

    def feed(self, line: str) -> str | None:
        if not line:
            name, self._name = self._name or "message", ""
            return name
        if line.startswith("event:"):
            self._name = line[len("event:"):].strip()
        return None  # data, id and comment lines: the states themselves are read with GET /api/plugins


async def add_to_running(root: Path, folder: Path) -> str:
    """`plugindev add`: the plugin in `folder` (relative to this process's folder) added to the plugindev that runs
    on `root`, and started; the line that says so."""
    async with ApiClient(await asyncio.to_thread(require_running_api, root)) as client:
        state, added = await client.add_plugin(folder.absolute())
        if not added:
            return f"{state['pluginID']} from {state['devPath']} is in {client.where} already"
        return f"added {state['pluginID']} from {state['devPath']} to {client.where}"


async def remove_from_running(root: Path, plugin_id: str) -> str:
    """`plugindev remove`: the plugin stopped and removed from the plugindev that runs on `root`; the line that
    says so."""
    async with ApiClient(await asyncio.to_thread(require_running_api, root)) as client:
        await client.remove_plugin(plugin_id)
        return f"removed {plugin_id} from {client.where}"
