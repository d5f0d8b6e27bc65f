"""The UI part of a plugin's session, in its two forms:

- `ViteDevServer` (the default): Vite serves `ui/` with hot module replacement; the IDE imports the entry
  from it. Vite is supervised: an exit is reported and it is restarted, on the same port when it is free;
  the TypeScript check runs beside it (orchestrator.devloop.typecheck);
- `ViteBuildOnChange` (`--ui build`): `vite build` after every change under `ui/`, the assets installed
  into the state root, for hosts that cannot load dev ESM.

Both first get `ui/` ready (dependencies, the generated vite-plugin) the way `plugindev link` does.
"""

from __future__ import annotations

import asyncio
import fnmatch
import time
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Protocol

from orchestrator.common.durations import seconds_text
from orchestrator.common.errors import PlugindevError
from orchestrator.common.lines import pump_lines, strip_ansi
from orchestrator.common.node import ensure_node_env
from orchestrator.common.process import spawn, stop_group
from orchestrator.common.rebuild import WATCH_STEP_MS, own_stop, rebuild_loop, trailing_debounce, wait_first
from orchestrator.common.supervision import BACKOFF, Backoff, keep_running
from orchestrator.common.tasks import ended
from orchestrator.devloop.context import PartContext
from orchestrator.devloop.supervisor import (
    Exited,
    HandoverFailed,
    Started,
    StartFailed,
    Stopped,
    Supervisor,
    SupervisorEvent,
)
from orchestrator.devloop.typecheck import TypeCheck
from orchestrator.devloop.vite import (
    PortAllocator,
    ViteServer,
    describe_exit,
    entry_problem,
    entry_url,
    port_is_free,
    vite_line,
)
from orchestrator.model.events import Level, Source
from orchestrator.model.state import Side, UiBuild, UiFailed, ViteReady, ViteStarting
from orchestrator.statefiles.install import install_assets


async def prepare_ui(ctx: PartContext) -> None:
    """Dependencies installed and `@omniviewdev/vite-plugin` linked, as `plugindev link` does."""
    from orchestrator.link.setup import prepare_ui as link_ui

    ctx.log(Source.MANAGER, Level.INFO, "preparing ui/: Node environment, dependencies, @omniviewdev/vite-plugin")
    installs: list[int] = []

    def record(pid: int) -> None:  # so a forced exit, or the next run, ends an install left running
        installs.append(pid)
        ctx.record("ui-install", pid, None)

    try:
        async with ctx.slots.install():  # a few plugins at a time, in the order they were added
            setup = await link_ui(ctx.plugin_dir, verbose=ctx.options.verbose, on_spawn=record,
                                  on_progress=lambda line: ctx.log(Source.MANAGER, Level.INFO, line))
    finally:
        for pid in installs:
            ctx.forget(pid)
    if setup.installed:
        ctx.log(Source.MANAGER, Level.INFO, f"installed UI dependencies with {setup.package_manager}")
    for conflict in setup.peer_conflicts:
        ctx.log(Source.MANAGER, Level.WARN, conflict.message)


class DevServer(Protocol):
    pid: int | None

    async def start(self) -> None: ...

    async def wait(self) -> int: ...

    async def stop(self) -> None: ...


ServerFactory = Callable[[Path, int, dict[str, str], Callable[[str], None], float, Callable[[int], None]],
                         DevServer]


def _vite_server(ui_dir: Path, port: int, env: dict[str, str], on_output: Callable[[str], None],
                 ready_timeout: float, on_spawn: Callable[[int], None]) -> DevServer:
    return ViteServer(ui_dir, port, env=env, on_output=on_output, ready_timeout=ready_timeout, on_spawn=on_spawn)


async def _node_environ() -> dict[str, str]:
    return (await ensure_node_env()).environ()


_PORT_TRIES = 3  # starts on a port someone took meanwhile, before a failure is Vite's own


class ViteDevServer:
    name = "the Vite dev server"
    side: Side = "ui"

    def __init__(self, ctx: PartContext, ports: PortAllocator, *, make_server: ServerFactory = _vite_server,
                 prepare: Callable[[PartContext], Awaitable[None]] = prepare_ui,
                 node_environ: Callable[[], Awaitable[dict[str, str]]] = _node_environ,
                 backoff: Backoff = BACKOFF) -> None:
        self.ctx = ctx
        self.ports = ports
        self.backoff = backoff
        self.make_server = make_server
        self.prepare = prepare
        self.node_environ = node_environ
        self.port = 0
        self._env: dict[str, str] = {}
        self._was_up = False
        self._up = asyncio.Event()  # Vite served once
        self.loadable_entry: str | None = None  # the entry's URL when it answered 200 at the last start
        self._entry_problem = ""  # else what the IDE got for it

    async def run(self, stop: asyncio.Event) -> None:
        await self.prepare(self.ctx)
        self._env = await self.node_environ()
        self.port = self.ports.allocate()
        vite: Supervisor[DevServer] = Supervisor(self._start, self._on_event, name="the Vite dev server",
                                                 policy=self.backoff, fatal_until_up=True)
        vite.restart()
        # beside Vite, not with it: whatever the type check meets, Vite serves on (and a Vite that cannot start
        # ends this part with its own error)
        check = asyncio.create_task(self._type_check(stop)) if self.ctx.options.typecheck else None
        try:
            await vite.run(stop)
        finally:
            if check is not None:
                await ended(check)
            self.ports.release(self.port)

    async def _type_check(self, stop: asyncio.Event) -> None:
        """tsc beside Vite, once Vite is up (the IDE waits for Vite, not for the types); restarted after an
        unexpected error, so it never fails."""
        await wait_first(self._up.wait(), stop.wait())
        if not stop.is_set():
            check = TypeCheck(self.ctx, self._env)
            await keep_running(check.name, partial(check.run, stop), self.ctx.unexpected, stop=stop)

    async def _start(self) -> DevServer:
        """A Vite that serves, asked at once whether the IDE could import the UI's entry from it."""
        moved_from = 0
        if self._was_up and not port_is_free(self.port):
            moved_from, self.port = self.port, self.ports.move(self.port)
        for tries_left in reversed(range(_PORT_TRIES)):
            self.ctx.tell(ViteStarting(self.port, moved_from))
            server = self.make_server(self.ctx.plugin_dir / "ui", self.port, self._env, self._output,
                                      self.ctx.options.vite_timeout, lambda pid: self.ctx.record("vite", pid, None))
            try:
                await server.start()
                break
            except PlugindevError:
                # Another program (another plugindev starting at the same moment) took the port between the
                # check and Vite's listen: Vite (--strictPort) fails, and the next free port is tried.
                if not tries_left or port_is_free(self.port):
                    raise
                self._forget(server)  # its group is gone: no record of it is left for a cleanup
                moved_from, self.port = self.port, self.ports.move(self.port)
        try:
            problem = await entry_problem(self.port)
        except BaseException:  # also when the start is cancelled: nothing outlives a start that did not finish
            await server.stop()
            raise
        # a URL is printed only once it answers as the IDE's import needs
        self.loadable_entry = None if problem else entry_url(self.port)
        self._entry_problem = problem or ""
        return server

    def _on_event(self, event: SupervisorEvent[DevServer]) -> None:
        match event:
            case Started():
                self._was_up = True
                self._up.set()
                self.ctx.tell(ViteReady(self.port, self._entry_problem))
            case StartFailed(error) if not self._was_up:  # the run ends with this very message: no line beside it
                self.ctx.report(UiFailed(str(error)))
            case StartFailed(error):
                self.ctx.tell(UiFailed(str(error)))
            case Exited(server, code, restart_in):
                self._forget(server)
                self.ctx.tell(UiFailed(f"{describe_exit(code)}; restarting it in {seconds_text(restart_in)}"))
            case Stopped(server):
                self._forget(server)
            case HandoverFailed(line):
                self.ctx.unexpected(line)

    def _forget(self, server: DevServer) -> None:
        if server.pid is not None:
            self.ctx.forget(server.pid)

    def _output(self, line: str) -> None:
        detail, text = vite_line(line)
        if text.strip():
            self.ctx.log(Source.VITE, Level.DEBUG if detail else Level.INFO, text)


_IGNORED = {"node_modules", "dist", ".plugindev"}
# Vite 5 (and Vite 8 when it cannot write node_modules/.vite-temp) loads an ESM config by writing it bundled
# beside the config as `vite.config.ts.timestamp-<ms>-<hex>.mjs` and deleting it: every `vite build` would
# otherwise see its own temporary file, cancel itself and start again, forever.
_VITE_CONFIG_TEMP = "vite.config.*.timestamp-*.mjs"
_QUOTED_ERRORS = 3


def ui_filter(ui_dir: Path) -> Callable[[object, str], bool]:
    """Everything under ui/ but dependencies, build output, dot-folders and Vite's temporary config copies."""
    root = ui_dir.resolve()

    def accept(_change: object, path: str) -> bool:
        parts = Path(path).relative_to(root).parts if Path(path).is_relative_to(root) else ()
        if any(p in _IGNORED or p.startswith(".") for p in parts):
            return False
        return not fnmatch.fnmatchcase(Path(path).name, _VITE_CONFIG_TEMP)

    return accept


class ViteBuildOnChange:
    name = "the UI build"
    side: Side = "ui"

    def __init__(self, ctx: PartContext, *, prepare: Callable[[PartContext], Awaitable[None]] = prepare_ui,
                 node_environ: Callable[[], Awaitable[dict[str, str]]] = _node_environ) -> None:
        self.ctx = ctx
        self.ui_dir = ctx.plugin_dir / "ui"
        self.prepare = prepare
        self.node_environ = node_environ
        self._env: dict[str, str] = {}

    async def run(self, stop: asyncio.Event) -> None:
        from watchfiles import awatch  # the Rust watcher loads on first use

        await self.prepare(self.ctx)
        self._env = await self.node_environ()
        wanted = asyncio.Event()
        wanted.set()  # the initial build
        async with own_stop(stop) as watch_stop, asyncio.TaskGroup() as group:
            batches = awatch(self.ui_dir, watch_filter=ui_filter(self.ui_dir), step=WATCH_STEP_MS,
                             stop_event=watch_stop)
            group.create_task(trailing_debounce(batches, self.ctx.options.debounce_ms / 1000, wanted))
            group.create_task(rebuild_loop(wanted, stop, self._build, self._install, self._cancelled))

    async def _build(self) -> bool:
        self.ctx.tell(UiBuild(done=False))
        started = time.monotonic()
        errors: deque[str] = deque(maxlen=_QUOTED_ERRORS)

        def output(line: str) -> None:
            plain = strip_ansi(line).strip()
            if "error" in plain.lower() and not plain.startswith("at "):
                errors.append(plain)
            self.ctx.log(Source.VITE, Level.DEBUG, line)

        process = await spawn([str(self.ui_dir / "node_modules" / ".bin" / "vite"), "build"], cwd=self.ui_dir,
                              env=self._env, merge_stderr=True,
                              on_spawn=lambda pid: self.ctx.record("vite-build", pid, None))
        try:
            assert process.stdout is not None
            await pump_lines(process.stdout, output)
            code = await process.wait()
        except asyncio.CancelledError:
            await stop_group(process, timeout=0.0)  # vite build runs esbuild/rolldown children: all of them
            raise
        finally:
            self.ctx.forget(process.pid)
        if code != 0:
            reason = " | ".join(errors) or f"exit code {code}"
            self.ctx.tell(UiFailed(f"vite build failed: {reason}"))
            return False
        self.ctx.log(Source.VITE, Level.INFO, f"built UI in {seconds_text(time.monotonic() - started)}")
        return True

    async def _install(self) -> None:
        target = install_assets(self.ui_dir / "dist" / "assets", self.ctx.state_dir)
        self.ctx.tell(UiBuild(done=True, installed_into=str(target)))

    def _cancelled(self) -> None:
        self.ctx.log(Source.VITE, Level.INFO, "UI changed during the build: building again")
