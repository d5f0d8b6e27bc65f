"""In-process sessions: a real PluginSession and real parts, with fake collaborators at the edges (the Go
builder, the plugin process, the Vite server), so that every transition runs in milliseconds."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import pytest

from orchestrator.authoring.manifest import PluginManifest
from orchestrator.common.errors import PlugindevError
from orchestrator.common.supervision import Backoff
from orchestrator.devloop.backend import GoBackend
from orchestrator.devloop.context import PartContext, RunOptions
from orchestrator.devloop.session import Part, PluginSession
from orchestrator.devloop.ui import DevServer, ViteBuildOnChange, ViteDevServer
from orchestrator.devloop.vite import PortAllocator
from orchestrator.go.build import BuildResult
from orchestrator.go.handshake import Handshake, HandshakeError
from orchestrator.model.events import BuildError, Event, EventBus, LogAppended, StatusChanged
from orchestrator.statefiles.registry import ProcessRegistry

# far above any pid_max: a fake process can never be confused with a real one
_FAKE_PIDS = itertools.count(50_000_000)
FAST_BACKOFF = Backoff(delays=(0.01, 0.02, 0.04, 0.1), stable_after=0.3)


class FakeProcess:
    """Something that runs until it exits (`exit(code)`) or is stopped."""

    def __init__(self) -> None:
        self.pid = next(_FAKE_PIDS)
        self.stopped = False
        self._exit: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def exit(self, code: int) -> None:
        if not self._exit.done():
            self._exit.set_result(code)

    @property
    def running(self) -> bool:
        return not self._exit.done()

    async def wait(self) -> int:
        return await asyncio.shield(self._exit)

    async def stop(self) -> int:
        self.stopped = True
        self.exit(0)
        return await self._exit


class FakePlugin(FakeProcess):
    def __init__(self, healthy: bool) -> None:
        super().__init__()
        self.start_time: int | None = 1
        self.group = self.pid
        self.handshake = Handshake(1, 1, "unix", f"/tmp/fake-plugin-{self.pid}", "grpc")
        self.healthy = healthy

    async def check_health(self) -> bool:
        return self.healthy and self.running


@dataclass
class FakeGo:
    """The Go side's edges: builds that succeed or fail on demand, plugin processes that obey."""

    build_fails: bool = False
    start_fails: bool = False
    start_delay: float = 0.0  # a handshake that takes its time
    healthy: bool = True
    builds: int = 0
    plugins: list[FakePlugin] = field(default_factory=list)

    async def build(self, binary: Path, on_line: Callable[[str], None],
                    on_spawn: Callable[[int, Path | None], None]) -> BuildResult:
        self.builds += 1
        await asyncio.sleep(0)
        if self.build_fails:
            output = "pkg/main.go:3:1: undefined: x"
            return BuildResult(False, 1000, output, [BuildError(str(binary.parent / "main.go"), 3, 1, "undefined: x")])
        binary.parent.mkdir(parents=True, exist_ok=True)
        binary.write_bytes(b"#!/bin/sh\n")
        return BuildResult(True, 1000, "", [])

    async def launch(self, _binary: Path, _env: Mapping[str, str], _on_output: Callable[[str, str], None],
                     on_spawn: Callable[[int, Path], None]) -> FakePlugin:
        await asyncio.sleep(self.start_delay)
        if self.start_fails:
            raise HandshakeError("plugin 'fake' did not start: no handshake")
        plugin = FakePlugin(self.healthy)
        on_spawn(plugin.pid, Path("/nonexistent"))
        self.plugins.append(plugin)
        return plugin

    @property
    def current(self) -> FakePlugin:
        return self.plugins[-1]


class FakeViteServer(FakeProcess):
    def __init__(self, port: int, fail: bool) -> None:
        super().__init__()
        self.port = port
        self.fail = fail

    async def start(self) -> None:
        if self.fail:
            raise PlugindevError(f"Vite exited with code 1 before it was ready on port {self.port}")

    async def stop(self) -> int:  # type: ignore[override]
        return await super().stop()


@dataclass
class FakeVite:
    fail: bool = False
    servers: list[FakeViteServer] = field(default_factory=list)

    def make_server(self, _ui_dir: Path, port: int, _env: dict[str, str], _on_output: Callable[[str], None],
                    _timeout: float, on_spawn: Callable[[int], None]) -> FakeViteServer:
        server = FakeViteServer(port, self.fail)
        on_spawn(server.pid)
        self.servers.append(server)
        return server


async def _nothing(_ctx: PartContext) -> None:
    return None


async def _no_env() -> dict[str, str]:
    return {}


def manifest(plugin_id: str = "fake", ui: bool = True, backend: bool = True) -> PluginManifest:
    capabilities = (*(("ui",) if ui else ()), *(("settings",) if backend else ()))
    return PluginManifest(plugin_id, "0.1.0", plugin_id, capabilities)


class ServerMaker(Protocol):
    def make_server(self, ui_dir: Path, port: int, env: dict[str, str], on_output: Callable[[str], None],
                    timeout: float, on_spawn: Callable[[int], None]) -> DevServer: ...


@dataclass
class Harness:
    session: PluginSession
    queue: asyncio.Queue[Event]
    go: FakeGo
    vite: Any
    stop: asyncio.Event
    backend: GoBackend | None = None
    _events: list[Event] = field(default_factory=list)

    @property
    def events(self) -> list[Event]:
        """Every event so far, read from the bus at the moment of asking (nothing lags behind the state)."""
        while not self.queue.empty():
            self._events.append(self.queue.get_nowait())
        return self._events

    @property
    def state(self) -> Any:
        return self.session.state

    def devinfo(self) -> dict[str, Any] | None:
        import json

        path = self.session.devinfo.path
        return json.loads(path.read_text()) if path.exists() else None

    def statuses(self) -> list[dict[str, Any]]:
        return [e.payload.state.to_json() for e in self.events if isinstance(e.payload, StatusChanged)]

    def messages(self) -> list[str]:
        return [e.payload.entry.message for e in self.events if isinstance(e.payload, LogAppended)]

    async def advertised(self) -> dict[str, Any]:
        """Once the plugin is advertised: the .devinfo."""
        await self.until(lambda: self.devinfo() is not None, ".devinfo")
        info = self.devinfo()
        assert info is not None
        return info

    async def until(self, predicate: Callable[[], bool], what: str, timeout: float = 2.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.002)
        assert predicate(), what


@pytest.fixture
def own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A HOME of the test's own: a session also installs plugin.yaml where the SDK reads it, under $HOME/.omniview.
    Not for real runs, which get one from run_env (with the user's Go caches, found through HOME)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@asynccontextmanager
async def harness(root: Path, *, ui: bool = True, backend: bool = True, go: FakeGo | None = None,
                  vite: ServerMaker | None = None, ports: PortAllocator | None = None, plugin_id: str = "fake",
                  health_interval: float = 0.02, ui_build: bool = False,
                  options: RunOptions | None = None) -> AsyncIterator[Harness]:
    """A running session of a fake plugin (state root `root`), stopped and awaited on exit. Its UI is served
    by `vite` (fake servers unless given), or with `ui_build` built by whatever `ui/node_modules/.bin/vite` is."""
    plugin_dir = root / "src" / plugin_id
    (plugin_dir / "pkg").mkdir(parents=True, exist_ok=True)
    (plugin_dir / "plugin.yaml").write_text(f"id: {plugin_id}\nversion: 0.1.0\nname: Fake\ncapabilities: [settings]\n")
    (plugin_dir / "pkg" / "main.go").write_text("package main\n")
    go, vite = go or FakeGo(), vite or FakeVite()
    made: dict[str, GoBackend] = {}

    def parts(ctx: PartContext, plugin: PluginManifest, allocator: PortAllocator) -> list[Part]:
        found: list[Part] = []
        if ui and ui_build:
            found.append(ViteBuildOnChange(ctx, prepare=_nothing, node_environ=_no_env))
        elif ui:
            found.append(ViteDevServer(ctx, allocator, make_server=vite.make_server, prepare=_nothing,
                                       node_environ=_no_env, backoff=FAST_BACKOFF))
        if backend:
            made["backend"] = GoBackend(ctx, plugin, builder=go, launch=go.launch, watch=False, backoff=FAST_BACKOFF)
            found.append(made["backend"])
        return found

    bus = EventBus()
    queue = bus.subscribe()
    registry = ProcessRegistry(root)
    options = replace(options or RunOptions(), health_interval=health_interval)
    session = PluginSession(plugin_dir, manifest(plugin_id, ui, backend), bus, options, state_root=root,
                            registry=registry, ports=ports or PortAllocator(), make_parts=parts)
    stop = asyncio.Event()
    task = asyncio.create_task(session.run(stop))
    await asyncio.sleep(0)
    test = Harness(session, queue, go, vite, stop, made.get("backend"))
    try:
        yield test
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        registry.close()
