"""The Go backend part of a plugin's session: watch → build → install → the plugin process, supervised.

A failed build (or a plugin.yaml that does not validate) leaves the running plugin alone; a good one is
installed and replaces the running process. A process that exits on its own, or that handshakes but fails its
first health check, is started again from the installed binary with the supervisor's backoff; a new build's process
that does not even handshake waits for the next build. Its health is checked every few seconds while it runs.
Under `run --debug` the builds are for a debugger and the plugin runs under Delve (orchestrator.go.delve).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Protocol

from orchestrator.authoring.manifest import PluginManifest, Problem, load_plugin_manifest, problems_error
from orchestrator.authoring.validate import validate_plugin
from orchestrator.common.durations import seconds_text
from orchestrator.common.files import write_failure
from orchestrator.common.net import DEBUG_PORT, HOST
from orchestrator.common.rebuild import rebuild_loop
from orchestrator.common.supervision import BACKOFF, Backoff
from orchestrator.devloop.context import PartContext
from orchestrator.devloop.plugin_output import RepeatFolder, plugin_line
from orchestrator.devloop.supervisor import (
    Exited,
    FailedAfterStart,
    HandoverFailed,
    Started,
    StartFailed,
    Stopped,
    Supervisor,
    SupervisorEvent,
)
from orchestrator.devloop.vite import PortAllocator, port_is_free
from orchestrator.go.build import BuildResult, build_failure_lines, go_build
from orchestrator.go.delve import DELVE_NOTICE, DelveServer, ensure_delve
from orchestrator.go.handshake import Handshake
from orchestrator.go.progress import BuildProgress
from orchestrator.go.toolchain import find_go
from orchestrator.go.watch import watch_go_sources
from orchestrator.model.events import Level, Source
from orchestrator.model.state import (
    BackendProcess,
    BuildFinished,
    GoBusy,
    InstallFailed,
    PluginFailed,
    PluginHealth,
    PluginShutDown,
    PluginStarted,
    PluginStopped,
    ReplacementFailed,
    Side,
    Status,
    now_rfc3339,
)
from orchestrator.statefiles.install import install_binary, sdk_manifest_dir, staged_binary, sync_manifest

# How long a replaced plugin keeps serving after its successor's .devinfo is on disk. The IDE reads a .devinfo
# 50 ms after it changes, and every 5 s deletes it when the pid it read last is dead: an old process that died
# before the IDE read the new file would cost the new file. 1 s leaves room for a machine running far more than it
# has cores for (250 ms was seen to fall short); the two serve side by side meanwhile, which costs nothing.
IDE_HANDOVER = 1.0

# The Delve ports of every plugin of one plugindev (run --debug): each plugin keeps its own across restarts.
DEBUG_PORTS = PortAllocator(range(DEBUG_PORT, DEBUG_PORT + 100), "Delve")


class Builder(Protocol):
    async def build(self, binary: Path, on_line: Callable[[str], None],
                    on_spawn: Callable[[int, Path | None], None]) -> BuildResult: ...


class GoBuilder:
    """`go build ./pkg` with the Go toolchain the author chose (--go, $PLUGINDEV_GO, PATH, $GOROOT); a slow
    one says how it goes through `progress`."""

    def __init__(self, plugin_dir: Path, go: str | None, progress: BuildProgress | None = None,
                 debug: bool = False) -> None:
        self.plugin_dir = plugin_dir
        self.go = find_go(go)
        self.progress = progress
        self.debug = debug  # built for a debugger (run --debug)

    async def build(self, binary: Path, on_line: Callable[[str], None],
                    on_spawn: Callable[[int, Path | None], None]) -> BuildResult:
        return await go_build(self.plugin_dir, self.go, binary, on_line=on_line, on_spawn=on_spawn,
                              progress=self.progress, debug=self.debug)


class PluginHandle(Protocol):
    """What the backend needs of a running plugin process (orchestrator.devloop.plugin_process)."""

    pid: int
    start_time: int | None
    group: int  # the process group started (and recorded) for it: the plugin's own, or its Delve's
    handshake: Handshake

    async def wait(self) -> int: ...

    async def stop(self) -> int: ...

    async def check_health(self) -> bool: ...


# launch(binary, extra environment, on_output(stream, line), on_spawn(pid, socket folder)) -> a started plugin
Launcher = Callable[[Path, Mapping[str, str], Callable[[str, str], None], Callable[[int, Path], None]],
                    Awaitable[PluginHandle]]


class GoBackend:
    name = "the Go backend"
    side: Side = "go"

    def __init__(self, ctx: PartContext, manifest: PluginManifest, *, builder: Builder | None = None,
                 launch: Launcher | None = None, watch: bool = True, backoff: Backoff = BACKOFF) -> None:
        self.ctx = ctx
        self.manifest = manifest
        self.builder = builder or GoBuilder(ctx.plugin_dir, ctx.options.go,
                                            BuildProgress(lambda line: self._log(line, source=Source.GO_BUILD)),
                                            debug=ctx.options.debug)
        self.launch = launch or self._launch_process
        self.watch = watch
        self.build_wanted = asyncio.Event()
        self.plugin = Supervisor(self._start_plugin, self._on_plugin_event, name="the plugin process",
                                 while_up=self._watch_health, policy=backoff,
                                 # a plugin's Delve keeps its port: the old one is gone before the new one starts
                                 overlap=ctx.options.overlap and not ctx.options.debug, handover=IDE_HANDOVER)
        self._plugin_lines = RepeatFolder()
        self._told_sdk_copy = False
        self._healthy = False  # the last health the running plugin reported
        self._debug_port: int | None = None  # run --debug: the port of this plugin's Delve
        self._told_debug_port: int | None = None
        self._saved = False  # the next build follows a save (or a rebuild asked for), not the start

    async def run(self, stop: asyncio.Event) -> None:
        self.build_wanted.set()  # the initial build
        try:
            async with asyncio.TaskGroup() as group:
                if self.watch:
                    group.create_task(watch_go_sources(
                        self.ctx.plugin_dir, self.ctx.options.debounce_ms / 1000, self.build_wanted, stop,
                        changed=lambda names: self.ctx.log(Source.GO_WATCH, Level.DEBUG,
                                                           f"changed: {', '.join(names)}"),
                        warn=lambda message: self.ctx.log(Source.GO_WATCH, Level.WARN, message)))
                group.create_task(self.plugin.run(stop))
                group.create_task(rebuild_loop(self.build_wanted, stop, self._build, self._install,
                                               self._cancelled))
        finally:
            if self._debug_port is not None:
                DEBUG_PORTS.release(self._debug_port)
                self._debug_port = None

    def _log(self, message: str, level: Level = Level.INFO, source: Source = Source.MANAGER) -> None:
        self.ctx.log(source, level, message)

    # -- build and install ----------------------------------------------------------------------------------
    async def _build(self) -> bool:
        """One build, when the builds all plugins share let it in (the one saved last goes first)."""
        self.ctx.tell(GoBusy(Status.BUILDING))
        saved, self._saved = self._saved, True
        async with self.ctx.slots.build(saved=saved):
            return await self._build_now()

    async def _build_now(self) -> bool:
        if not await self._reload_manifest():
            return False
        self._log("go build ./pkg", source=Source.GO_BUILD)
        pids: list[int] = []

        def spawned(pid: int, temp_dir: Path | None) -> None:
            pids.append(pid)
            self.ctx.record("go-build", pid, temp_dir)

        try:
            result = await self.builder.build(staged_binary(self.ctx.state_dir),
                                              lambda line: self._log(line, Level.DEBUG, Source.GO_BUILD), spawned)
        finally:
            for pid in pids:
                self.ctx.forget(pid)
        if result.ok:
            self.ctx.report_errors("go", [])  # those of a build before, if any, are fixed
            self.ctx.tell(BuildFinished(result.duration_ns))
            return True
        lines = build_failure_lines(result, self.ctx.plugin_dir)
        for line in lines:
            self._log(line, Level.ERROR, Source.GO_BUILD)
        self.ctx.report_errors("go", result.errors)
        self._build_failed(result.duration_ns, str(result.errors[0]) if result.errors else lines[0])
        return False

    def _build_failed(self, duration_ns: int, error: str) -> None:
        """A failed build (or plugin.yaml check) leaves whatever runs alone."""
        self.ctx.tell(BuildFinished(duration_ns, error, serving=self.plugin.current is not None))

    async def _reload_manifest(self) -> bool:
        """plugin.yaml is read again before every build: an edit is checked, and a bad one stops the build."""
        problems, manifest = await asyncio.to_thread(self._read_manifest)  # files: off the event loop
        if manifest is not None:
            if manifest.id == self.manifest.id:
                self.manifest = manifest
                return True
            problems = [Problem("plugin.yaml", "id", f"changed from {self.manifest.id!r} to {manifest.id!r}; "
                                                     "restart plugindev to develop it under its new id")]
        self._log(str(problems_error(self.ctx.plugin_dir, problems)), Level.ERROR)
        self._build_failed(0, str(problems[0]))
        return False

    def _read_manifest(self) -> tuple[list[Problem], PluginManifest | None]:
        problems = validate_plugin(self.ctx.plugin_dir)
        return (problems, None) if problems else ([], load_plugin_manifest(self.ctx.plugin_dir))

    async def _install(self) -> None:
        """The new binary and plugin.yaml in place, then the plugin replaced. An install that fails (a full disk,
        a folder gone) is a failed build: whatever runs keeps running."""
        try:
            changed = self._install_files()
        except OSError as exc:
            self.ctx.tell(InstallFailed(f"install failed: {write_failure(exc, self.ctx.state_dir)}",
                                        serving=self.plugin.current is not None))
            return
        self.plugin.restart()
        sdk_dir = sdk_manifest_dir(self.manifest.id).resolve()
        for folder in changed:
            if folder == self.ctx.state_dir.resolve():
                self._log(f"installed plugin.yaml into {folder}")
            elif folder == sdk_dir and not self._told_sdk_copy:
                self._told_sdk_copy = True
                self._log(f"installed plugin.yaml also into {folder}: the Omniview SDK reads it there, "
                          "whatever the state root")

    def _install_files(self) -> list[Path]:
        install_binary(staged_binary(self.ctx.state_dir), self.ctx.state_dir)
        return sync_manifest(self.ctx.plugin_dir, [self.ctx.state_dir, sdk_manifest_dir(self.manifest.id)])

    def _cancelled(self) -> None:
        self._log("files changed during the build: cancelled it, building again", source=Source.GO_BUILD)

    # -- the plugin process -------------------------------------------------------------------------------
    async def _launch_process(self, binary: Path, extra_env: Mapping[str, str],
                              on_output: Callable[[str, str], None],
                              on_spawn: Callable[[int, Path], None]) -> PluginHandle:
        from orchestrator.devloop.plugin_process import PluginProcess  # grpc loads slowly: only when needed

        return await PluginProcess.start(binary, plugin_id=self.manifest.id, cwd=self.ctx.plugin_dir,
                                         extra_env=extra_env, on_output=on_output, on_spawn=on_spawn,
                                         handshake_timeout=self.ctx.options.handshake_timeout,
                                         delve=await self._delve() if self.ctx.options.debug else None)

    async def _delve(self) -> DelveServer:
        """The Delve to run the plugin under (installed the first time), on this plugin's debug port."""
        pids: list[int] = []

        def spawned(pid: int) -> None:
            pids.append(pid)
            self.ctx.record("delve-install", pid, None)

        try:
            dlv = await ensure_delve(find_go(self.ctx.options.go), self._log, spawned)
        finally:
            for pid in pids:
                self.ctx.forget(pid)
        if self._debug_port is None:
            self._debug_port = DEBUG_PORTS.allocate()
        elif not port_is_free(self._debug_port):  # someone else took it while the plugin restarted
            old, self._debug_port = self._debug_port, DEBUG_PORTS.move(self._debug_port)
            self._log(f"port {old} is taken; Delve moves to {self._debug_port}", Level.WARN)
        return DelveServer(dlv, self._debug_port)

    def _tell_debug_port(self) -> None:
        """Where to attach, said when Delve first listens (or moved); after a restart, that it is there again."""
        port = self._debug_port
        if port == self._told_debug_port:
            self._log(f"Delve listens on {HOST}:{port} again: attach the debugger again", Level.DEBUG)
            return
        self._told_debug_port = port
        launch = "a scaffolded plugin's .vscode/launch.json attaches there" if port == DEBUG_PORT else (
            f"{DEBUG_PORT} is taken: set \"port\": {port} in .vscode/launch.json")
        self._log(f"debugger: Delve listens on {HOST}:{port} ({launch}); each rebuild restarts it: attach again")

    async def _start_plugin(self) -> PluginHandle:
        """A started and healthy plugin process; one that is not healthy is stopped and reported as failed."""
        self.ctx.tell(GoBusy(Status.STARTING))
        port = self.ctx.state().vitePort
        extra = {"OMNIVIEW_VITE_PORT": str(port)} if port else {}
        plugin = await self.launch(self.ctx.state_dir / "bin" / "plugin", extra, self._plugin_output,
                                   lambda pid, socket_dir: self.ctx.record("plugin", pid, socket_dir))
        healthy = False
        try:
            if not (healthy := await plugin.check_health()):
                raise FailedAfterStart(f"plugin pid {plugin.pid} started, but its gRPC health check fails")
        finally:
            if not healthy:  # also when the start is cancelled: nothing outlives a start that did not finish
                await plugin.stop()
                self.ctx.forget(plugin.group)
        return plugin

    def _on_plugin_event(self, event: SupervisorEvent[PluginHandle]) -> None:
        match event:
            case Started(plugin):
                self._healthy = True
                if self.ctx.options.debug:
                    self._tell_debug_port()
                hs = plugin.handshake
                self.ctx.tell(PluginStarted(BackendProcess(plugin.pid, plugin.start_time, hs.network, hs.address,
                                                           hs.protocol, hs.app_version, now_rfc3339(),
                                                           self.manifest.version)))
            case StartFailed(error, serving):
                self.ctx.tell(ReplacementFailed(str(error)) if serving else PluginFailed(str(error)))
            case Exited(plugin, 0, restart_in):
                # go-plugin's server exits 0 once a client called its Shutdown, as the IDE's client does when it
                # closes (plugindev's own stops do not come here)
                self._gone(plugin)
                self.ctx.tell(PluginShutDown(plugin.pid, restart_in))
            case Exited(plugin, code, restart_in):
                self._gone(plugin)
                self.ctx.tell(PluginFailed(f"plugin exited on its own with code {code}; "
                                           f"restarting it in {seconds_text(restart_in)}"))
            case Stopped(plugin, replaced):
                self._gone(plugin)
                self.ctx.tell(PluginStopped(plugin.pid, replaced))
            case HandoverFailed(line):
                self.ctx.unexpected(line)

    def _gone(self, plugin: PluginHandle) -> None:
        self.ctx.forget(plugin.group)
        self._report_repeats()

    async def _watch_health(self, plugin: PluginHandle) -> None:
        """While it runs: every few seconds a health check; a change either way is reported."""
        while True:
            await asyncio.sleep(self.ctx.options.health_interval)
            healthy = await plugin.check_health()
            if healthy != self._healthy:
                self._healthy = healthy
                self.ctx.tell(PluginHealth(healthy, plugin.pid))

    def _plugin_output(self, _stream: str, line: str) -> None:
        if self.ctx.options.debug and DELVE_NOTICE.match(line):
            self._log(f"Delve: {line}", Level.DEBUG)
            return
        shown = plugin_line(line)
        if self._plugin_lines.seen(shown.message, shown.source):
            return
        self._report_repeats()
        self._log(shown.message, shown.level, shown.source)

    def _report_repeats(self) -> None:
        if repeats := self._plugin_lines.take_repeats():
            self._log(f"(the line above came {repeats} more time{'s' if repeats > 1 else ''})",
                      source=self._plugin_lines.source)
