"""The Go backend part of a plugin's session: watch → build → install → the plugin process, supervised.

A failed build (or a plugin.yaml that does not validate) leaves the running plugin alone; a good one is
installed and replaces the running process. A process that exits on its own is restarted from the installed
binary with the supervisor's backoff, and its health is checked every few seconds while it runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Protocol

from orchestrator.authoring.manifest import PluginManifest, Problem, load_plugin_manifest, problems_error
from orchestrator.authoring.validate import validate_plugin
from orchestrator.common.errors import PlugindevError
from orchestrator.common.files import write_failure
from orchestrator.common.rebuild import rebuild_loop
from orchestrator.common.supervision import BACKOFF, Backoff
from orchestrator.devloop.context import PartContext
from orchestrator.devloop.plugin_output import RepeatFolder, plugin_line
from orchestrator.devloop.supervisor import Callbacks, Supervisor
from orchestrator.go.build import BuildResult, build_failure_lines, go_build
from orchestrator.go.handshake import Handshake
from orchestrator.go.toolchain import find_go
from orchestrator.go.watch import watch_go_sources
from orchestrator.model.events import Level, Source
from orchestrator.model.state import (
    BackendProcess,
    BuildFinished,
    GoBusy,
    PluginFailed,
    PluginHealth,
    PluginStarted,
    PluginStopped,
    ReplacementFailed,
    Side,
    Status,
    now_rfc3339,
)
from orchestrator.statefiles.install import install_binary, sdk_manifest_dir, staged_binary, sync_manifest

HEALTH_INTERVAL = 5.0
# How long a replaced plugin keeps serving after its successor's .devinfo is on disk. The IDE reads a .devinfo
# 50 ms after it changes, and every 5 s deletes it when the pid it read last is dead: an old process that died
# before the IDE read the new file would cost the new file. 250 ms leaves room for a busy machine.
IDE_HANDOVER = 0.25


class Builder(Protocol):
    async def build(self, binary: Path, on_line: Callable[[str], None],
                    on_spawn: Callable[[int], None]) -> BuildResult: ...


class GoBuilder:
    """`go build ./pkg` with the Go toolchain the author chose (--go, $PLUGINDEV_GO, PATH, $GOROOT)."""

    def __init__(self, plugin_dir: Path, go: str | None) -> None:
        self.plugin_dir = plugin_dir
        self.go = find_go(go)

    async def build(self, binary: Path, on_line: Callable[[str], None],
                    on_spawn: Callable[[int], None]) -> BuildResult:
        return await go_build(self.plugin_dir, self.go, binary, on_line=on_line, on_spawn=on_spawn)


class PluginHandle(Protocol):
    """What the backend needs of a running plugin process (orchestrator.devloop.plugin_process)."""

    pid: int
    start_time: int | None
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
                 launch: Launcher | None = None, watch: bool = True,
                 health_interval: float = HEALTH_INTERVAL, backoff: Backoff = BACKOFF) -> None:
        self.ctx = ctx
        self.manifest = manifest
        self.builder = builder or GoBuilder(ctx.plugin_dir, ctx.options.go)
        self.launch = launch or self._launch_process
        self.watch = watch
        self.health_interval = health_interval
        self.build_wanted = asyncio.Event()
        self.plugin = Supervisor(self._start_plugin, Callbacks(
            started=self._plugin_started, start_failed=self._plugin_failed, exited=self._plugin_exited,
            stopped=self._plugin_stopped, unexpected=ctx.unexpected, while_up=self._watch_health),
            name="the plugin process", policy=backoff, overlap=ctx.options.overlap, handover=IDE_HANDOVER)
        self._plugin_lines = RepeatFolder()
        self._told_sdk_copy = False
        self._healthy = False  # the last health the running plugin reported

    async def run(self, stop: asyncio.Event) -> None:
        self.build_wanted.set()  # the initial build
        async with asyncio.TaskGroup() as group:
            if self.watch:
                group.create_task(watch_go_sources(
                    self.ctx.plugin_dir, self.ctx.options.debounce_ms / 1000, self.build_wanted, stop,
                    changed=lambda names: self.ctx.log(Source.GO_WATCH, Level.DEBUG, f"changed: {', '.join(names)}"),
                    warn=lambda message: self.ctx.log(Source.GO_WATCH, Level.WARN, message)))
            group.create_task(self.plugin.run(stop))
            group.create_task(rebuild_loop(self.build_wanted, stop, self._build, self._install, self._cancelled))

    def _log(self, message: str, level: Level = Level.INFO, source: Source = Source.MANAGER) -> None:
        self.ctx.log(source, level, message)

    # -- build and install ----------------------------------------------------------------------------------
    async def _build(self) -> bool:
        self.ctx.report(GoBusy(Status.BUILDING))
        if not await self._reload_manifest():
            return False
        self._log("go build ./pkg", source=Source.GO_BUILD)
        pids: list[int] = []

        def spawned(pid: int) -> None:
            pids.append(pid)
            self.ctx.record("go-build", pid, None)

        try:
            result = await self.builder.build(staged_binary(self.ctx.state_dir),
                                              lambda line: self._log(line, Level.DEBUG, Source.GO_BUILD), spawned)
        finally:
            for pid in pids:
                self.ctx.forget(pid)
        if result.ok:
            self.ctx.report(BuildFinished(result.duration_ns))
            self._log(f"built in {result.duration_ns / 1e6:.0f} ms", source=Source.GO_BUILD)
            return True
        lines = build_failure_lines(result, self.ctx.plugin_dir)
        for line in lines:
            self._log(line, Level.ERROR, Source.GO_BUILD)
        self.ctx.report_errors(result.errors)
        self._build_failed(result.duration_ns, str(result.errors[0]) if result.errors else lines[0])
        return False

    def _build_failed(self, duration_ns: int, error: str) -> None:
        """A failed build (or plugin.yaml check) leaves whatever runs alone, and says what that means."""
        self.ctx.report(BuildFinished(duration_ns, error))
        if self.plugin.current is not None:
            self._log("build failed: the running plugin keeps serving", Level.WARN, Source.GO_BUILD)
        else:
            self._log("the backend is not running: fix the errors above and save, plugindev builds again",
                      Level.ERROR)

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
            message = f"install failed: {write_failure(exc, self.ctx.state_dir)}"
            self.ctx.report(ReplacementFailed(message))
            serving = "the running plugin keeps serving" if self.plugin.current else "the backend is not running"
            self._log(f"{message} ({serving})", Level.ERROR)
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
                                         handshake_timeout=self.ctx.options.handshake_timeout)

    async def _start_plugin(self) -> PluginHandle:
        """A started and healthy plugin process; one that is not healthy is stopped and reported as failed."""
        self.ctx.report(GoBusy(Status.STARTING))
        port = self.ctx.state().vitePort
        extra = {"OMNIVIEW_VITE_PORT": str(port)} if port else {}
        plugin = await self.launch(self.ctx.state_dir / "bin" / "plugin", extra, self._plugin_output,
                                   lambda pid, sockets: self.ctx.record("plugin", pid, sockets))
        if not await plugin.check_health():
            await plugin.stop()
            self.ctx.forget(plugin.pid)
            raise PlugindevError(f"plugin pid {plugin.pid} started, but its gRPC health check fails")
        return plugin

    async def _plugin_started(self, plugin: PluginHandle) -> None:
        self._healthy = True
        hs = plugin.handshake
        self._log(f"plugin running: pid {plugin.pid}, {hs.network} {hs.address}")
        self.ctx.report(PluginStarted(BackendProcess(plugin.pid, plugin.start_time, hs.network, hs.address,
                                                     hs.protocol, hs.app_version, now_rfc3339(),
                                                     self.manifest.version)))

    def _plugin_failed(self, error: PlugindevError) -> None:
        if self.plugin.current is not None:
            self.ctx.report(ReplacementFailed(str(error)))
            self._log(f"{error}; the running plugin keeps serving", Level.ERROR)
        else:
            self.ctx.report(PluginFailed(str(error)))
            self._log(str(error), Level.ERROR)

    def _plugin_exited(self, plugin: PluginHandle, code: int, restart_in: float) -> None:
        self._gone(plugin)
        if code == 0:
            # A go-plugin server exits 0 once a client called its GRPCController/Shutdown, as the IDE's
            # go-plugin client does when it closes: not a failure (plugindev's own stops do not come here).
            self.ctx.report(PluginStopped())
            self._log(f"plugin pid {plugin.pid} was shut down by a client (go-plugin's Shutdown, as the IDE "
                      f"sends on closing); restarting it in {restart_in:g} s")
            return
        message = f"plugin exited on its own with code {code}; restarting it in {restart_in:g} s"
        self.ctx.report(PluginFailed(message))
        self._log(message, Level.ERROR)

    def _plugin_stopped(self, plugin: PluginHandle, replaced: bool) -> None:
        self._gone(plugin)
        if not replaced:  # a replaced one has handed over already: the state names its successor
            self.ctx.report(PluginStopped())
        self._log(f"stopped plugin pid {plugin.pid}{' (replaced)' if replaced else ''}", Level.DEBUG)

    def _gone(self, plugin: PluginHandle) -> None:
        self.ctx.forget(plugin.pid)
        self._report_repeats()

    async def _watch_health(self, plugin: PluginHandle) -> None:
        """While it runs: every few seconds a health check; a change either way is reported."""
        while True:
            await asyncio.sleep(self.health_interval)
            healthy = await plugin.check_health()
            if healthy != self._healthy:
                self._healthy = healthy
                self.ctx.report(PluginHealth(healthy))
                self._log(f"plugin pid {plugin.pid} is {'healthy again' if healthy else 'failing its health check'}",
                          Level.INFO if healthy else Level.ERROR)

    def _plugin_output(self, _stream: str, line: str) -> None:
        shown = plugin_line(line)
        if self._plugin_lines.seen(shown.message, shown.source):
            return
        self._report_repeats()
        self._log(shown.message, shown.level, shown.source)

    def _report_repeats(self) -> None:
        if repeats := self._plugin_lines.take_repeats():
            self._log(f"(the line above came {repeats} more time{'s' if repeats > 1 else ''})",
                      source=self._plugin_lines.source)
