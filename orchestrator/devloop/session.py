"""`plugindev run`: one session per plugin, all on one event loop, shut down through one event.

A session's start order: validate -> Node env and UI deps -> vite-plugin linked -> Vite -> initial Go build
-> install -> plugin process -> handshake -> health -> .devinfo -> watch.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.authoring.manifest import PluginManifest, Problem, load_plugin_manifest, problems_error
from orchestrator.authoring.validate import ENTRY_CANDIDATES, validate_plugin
from orchestrator.common.errors import PlugindevError
from orchestrator.common.paths import state_root
from orchestrator.devloop.devinfo import DevInfo, remove_devinfo, write_devinfo
from orchestrator.devloop.gobuild import GoFileFilter, build_failure_lines, find_go, go_build, watch_paths
from orchestrator.devloop.install import (
    install_binary,
    plugin_state_dir,
    sdk_manifest_dir,
    staged_binary,
    sync_manifest,
)
from orchestrator.devloop.printer import Printer
from orchestrator.devloop.rebuild import WATCH_STEP_MS, rebuild_loop, trailing_debounce
from orchestrator.devloop.registry import ProcessRegistry, reap_leftovers
from orchestrator.devloop.state import DevState, EventBus, Instance, Level, Source, Status, now_rfc3339

# waits between restarts of a plugin that keeps exiting on its own
RESTART_BACKOFF = (0.5, 1.0, 2.0, 5.0)
HEALTH_INTERVAL = 5.0
STABLE_AFTER = 10.0  # seconds a plugin must run before its crash count starts over


@dataclass(frozen=True)
class RunOptions:
    vite: bool = True
    go_backend: bool = True  # False: serve only the UI of a plugin that also has a backend (--no-go)
    ui_mode: str = "dev"  # "dev": Vite dev server with HMR; "build": vite build on change, assets installed
    debounce_ms: int = 150
    go: str | None = None
    handshake_timeout: float = 30.0
    vite_timeout: float = 30.0
    verbose: bool = False  # -v: a failed UI install prints the package manager's whole output


_HCLOG_LEVELS = {"trace": Level.DEBUG, "debug": Level.DEBUG, "info": Level.INFO, "warn": Level.WARN,
                 "error": Level.ERROR}


_VOLATILE = re.compile(r"\d{4}[-/]\d\d[-/]\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?"
                       r"|\b(?:duration|timestamp|elapsed)=\S+")


class RepeatFolder:
    """Folds a plugin line that repeats the one before it, timestamps and durations aside.

    SDK v0.1.x logs every RPC it serves, so each health check would add a line to the terminal.
    """

    def __init__(self) -> None:
        self._last = ""
        self._repeats = 0

    def seen(self, message: str) -> bool:
        """True when `message` repeats the previous one (and is folded)."""
        key = _VOLATILE.sub("", message).strip()
        if key and key == self._last:
            self._repeats += 1
            return True
        self._last = key
        return False

    def take_repeats(self) -> int:
        repeats, self._repeats = self._repeats, 0
        return repeats


def hclog_line(line: str) -> tuple[Level, str]:
    """go-plugin and hclog write JSON log lines; show their message and fields, at their level."""
    if line.startswith("{"):
        try:
            record = json.loads(line)
        except ValueError:
            return Level.INFO, line
        if isinstance(record, dict) and "@message" in record:
            fields = " ".join(f"{k}={v}" for k, v in record.items() if not k.startswith("@"))
            level = _HCLOG_LEVELS.get(str(record.get("@level")), Level.INFO)
            return level, f"{record['@message']} {fields}".rstrip()
    return Level.INFO, line


class PluginSession:
    """Everything plugindev runs for one plugin, and its published state."""

    def __init__(self, plugin_dir: Path, manifest: PluginManifest, bus: EventBus, options: RunOptions,
                 registry: ProcessRegistry, taken_ports: set[int]) -> None:
        self.plugin_dir = plugin_dir.resolve()
        self.manifest = manifest
        self.options = options
        self.registry = registry
        self.taken_ports = taken_ports
        self.instance = Instance(DevState(pluginID=manifest.id, devPath=str(self.plugin_dir)), bus)
        self.state_dir = plugin_state_dir(manifest.id)
        self.plugin: Any = None  # PluginProcess, imported lazily (grpc)
        self.plugin_healthy = False
        self.vite_port: int | None = None
        self.vite_ready = False
        self.rebuild = asyncio.Event()
        self.plugin_lock = asyncio.Lock()
        self._exit_watch: asyncio.Task[None] | None = None
        self._stopping = False
        self._announced = False
        self._crashes = 0
        self._told_sdk_copy = False
        self._plugin_lines = RepeatFolder()
        self._vite_was_ready = False
        self._started = time.monotonic()

    # -- logging shortcuts ------------------------------------------------------------------------------
    def say(self, message: str, level: Level = Level.INFO, source: Source = Source.MANAGER) -> None:
        self.instance.log(source, message, level)

    @property
    def uses_vite(self) -> bool:
        return self.manifest.has_ui and self.options.vite and self.options.ui_mode == "dev"

    # -- the whole session --------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                if self.manifest.has_ui and self.options.vite:
                    await self._prepare_ui()
                    if self.uses_vite:
                        group.create_task(self._run_vite(stop))
                    else:
                        from orchestrator.devloop.ui_build import ui_build_loop

                        group.create_task(ui_build_loop(self, stop))
                if self.manifest.has_backend and self.options.go_backend:
                    group.create_task(self._go_loop(stop))
                await stop.wait()
        finally:
            await self.shutdown()

    async def shutdown(self) -> None:
        self._stopping = True
        if self._exit_watch is not None:  # it may be restarting a crashed plugin: do not wait for that start
            self._exit_watch.cancel()
            await asyncio.gather(self._exit_watch, return_exceptions=True)
        async with self.plugin_lock:
            await self._stop_plugin()
        remove_devinfo(self.state_dir)
        self.instance.update(goStatus=Status.STOPPED, viteStatus=Status.STOPPED, viteURL="", grpcConnected=False)

    # -- UI -------------------------------------------------------------------------------------------------
    async def _prepare_ui(self) -> None:
        from orchestrator.link.setup import prepare_ui

        self.instance.update(viteStatus=Status.STARTING)
        self.say("preparing ui/: Node environment, dependencies, @omniviewdev/vite-plugin")
        setup = await prepare_ui(self.plugin_dir, verbose=self.options.verbose)
        if setup.installed:
            self.say(f"installed UI dependencies with {setup.package_manager}")

    async def _run_vite(self, stop: asyncio.Event) -> None:
        from orchestrator.common.node import ensure_node_env
        from orchestrator.devloop.vite import ViteServer, allocate_port, supervise

        env = (await ensure_node_env()).environ()
        port = allocate_port(self.taken_ports)
        self.taken_ports.add(port)

        spawned: list[int] = []

        def record(pid: int) -> None:
            if spawned:
                self.registry.discard(spawned.pop())  # the previous Vite is gone before its replacement starts
            spawned.append(pid)
            self.registry.add("vite", self.manifest.id, pid)

        def make_server(chosen: int) -> ViteServer:
            self.taken_ports.add(chosen)
            self.vite_port = chosen
            return ViteServer(self.plugin_dir / "ui", chosen, env=env, ready_timeout=self.options.vite_timeout,
                              on_output=self._vite_output, on_spawn=record)

        await supervise(make_server, port, on_status=self._on_vite_status, stop_event=stop)

    def _vite_output(self, line: str) -> None:
        from orchestrator.devloop.vite import vite_line

        detail, text = vite_line(line)
        if text.strip():
            self.say(text, Level.DEBUG if detail else Level.INFO, Source.VITE)

    def _on_vite_status(self, status: str, message: str) -> None:
        self.vite_ready = status == "ready"
        url = f"http://127.0.0.1:{self.vite_port}" if self.vite_ready else ""
        changes: dict[str, Any] = {"viteStatus": Status(status), "viteURL": url, "vitePort": self.vite_port or 0}
        if status == "error":
            changes["lastError"] = message
            if self._vite_was_ready:  # a first start that fails ends the run with this very message
                self.say(message, Level.ERROR, Source.VITE)
        elif status == "ready":
            self._vite_was_ready = True
            self.say(f"ready: the IDE loads {self._entry_url()}", source=Source.VITE)
        self.instance.update(**changes)
        if self.vite_ready:
            self._advertise()

    def _entry_url(self) -> str:
        """The URL an author can open: the dev server itself serves no page at `/` (a 404)."""
        entry = next((rel for rel in ENTRY_CANDIDATES if (self.plugin_dir / rel).is_file()), ENTRY_CANDIDATES[0])
        return f"http://127.0.0.1:{self.vite_port}/{entry.removeprefix('ui/')}"

    # -- Go -------------------------------------------------------------------------------------------------
    async def _go_loop(self, stop: asyncio.Event) -> None:
        go = find_go(self.options.go)
        async with asyncio.TaskGroup() as group:
            group.create_task(self._watch(stop))
            group.create_task(self._builder(go, stop))

    async def _watch(self, stop: asyncio.Event) -> None:
        from watchfiles import awatch

        paths = watch_paths(self.plugin_dir)

        def changed(batch: set[tuple[object, str]]) -> None:
            names = sorted({Path(p).name for _, p in batch})
            self.say(f"changed: {', '.join(names)}", Level.DEBUG, Source.GO_WATCH)

        batches = awatch(*paths, watch_filter=GoFileFilter(paths), step=WATCH_STEP_MS, stop_event=stop)
        await trailing_debounce(batches, self.options.debounce_ms / 1000, self.rebuild, changed)

    async def _builder(self, go: str, stop: asyncio.Event) -> None:
        async def install_and_restart() -> None:
            async with self.plugin_lock:
                await self._install_and_restart()

        self.rebuild.set()  # the initial build
        await rebuild_loop(self.rebuild, stop, lambda: self._build(go), install_and_restart,
                           lambda: self.say("files changed during the build: cancelled it, building again",
                                            source=Source.GO_BUILD))

    async def _build(self, go: str) -> bool:
        self.instance.update(goStatus=Status.BUILDING)
        if not self._reload_manifest():
            return False
        self.say("go build ./pkg", source=Source.GO_BUILD)
        pid: list[int] = []

        def started(build_pid: int) -> None:
            pid.append(build_pid)
            self.registry.add("go-build", self.manifest.id, build_pid)

        try:
            result = await go_build(self.plugin_dir, go, staged_binary(self.state_dir), on_start=started,
                                    on_line=lambda line: self.say(line, Level.DEBUG, Source.GO_BUILD))
        finally:
            self.registry.discard(pid[0] if pid else None)
        duration_ms = result.duration_ns / 1e6
        self.instance.update(lastBuildDuration=result.duration_ns, lastBuildTime=now_rfc3339())
        if result.ok:
            self.say(f"built in {duration_ms:.0f} ms", source=Source.GO_BUILD)
            return True
        lines = build_failure_lines(result, self.plugin_dir)
        for line in lines:
            self.say(line, Level.ERROR, Source.GO_BUILD)
        self.instance.report_errors(result.errors)
        self._build_failed(str(result.errors[0]) if result.errors else lines[0])
        return False

    def _build_failed(self, summary: str) -> None:
        """A failed build (or plugin.yaml check) leaves whatever runs alone, and says what that means."""
        self.instance.update(goStatus=Status.ERROR, lastError=summary)
        if self.plugin is not None:
            self.say("build failed: the running plugin keeps serving", Level.WARN, Source.GO_BUILD)
        else:
            self.say("the backend is not running: fix the errors above and save, plugindev builds again",
                     Level.ERROR)

    def _reload_manifest(self) -> bool:
        """plugin.yaml is read again before every build: an edit is checked, and a bad one stops the build."""
        problems = validate_plugin(self.plugin_dir)
        if not problems:
            manifest = load_plugin_manifest(self.plugin_dir)
            if manifest.id == self.manifest.id:
                self.manifest = manifest
                return True
            problems = [Problem("plugin.yaml", "id", f"changed from {self.manifest.id!r} to {manifest.id!r}; "
                                                     "restart plugindev to develop it under its new id")]
        self.say(str(problems_error(self.plugin_dir, problems)), Level.ERROR)
        self._build_failed(str(problems[0]))
        return False

    # -- the plugin process ------------------------------------------------------------------------------------
    async def _install_and_restart(self) -> None:
        install_binary(staged_binary(self.state_dir), self.state_dir)
        sdk_dir = sdk_manifest_dir(self.manifest.id)
        for folder in sync_manifest(self.plugin_dir, [self.state_dir, sdk_dir]):
            if folder == self.state_dir.resolve():
                self.say(f"installed plugin.yaml into {folder}")
            elif not self._told_sdk_copy:
                self._told_sdk_copy = True
                self.say(f"installed plugin.yaml also into {folder}: the Omniview SDK reads it there, "
                         "whatever the state root")
        await self._stop_plugin()
        await self._start_plugin()

    async def _start_plugin(self) -> bool:
        from orchestrator.devloop.plugin_process import PluginProcess

        self.instance.update(goStatus=Status.STARTING)
        extra = {"OMNIVIEW_VITE_PORT": str(self.vite_port)} if self.vite_port else {}
        try:
            process = await PluginProcess.start(
                self.state_dir / "bin" / "plugin", plugin_id=self.manifest.id, cwd=self.plugin_dir, extra_env=extra,
                on_output=self._plugin_output, handshake_timeout=self.options.handshake_timeout)
        except PlugindevError as exc:
            self.instance.update(goStatus=Status.ERROR, lastError=str(exc), grpcConnected=False)
            self.say(str(exc), Level.ERROR)
            return False
        self.registry.add("plugin", self.manifest.id, process.pid, process.socket_dir)
        self.plugin = process
        healthy = await process.check_health()
        self.plugin_healthy = healthy
        if not healthy:
            self.instance.update(goStatus=Status.ERROR, lastError="plugin started but its gRPC health check fails",
                                 grpcConnected=False)
            self.say("plugin started but its gRPC health check fails", Level.ERROR)
        else:
            self.instance.update(goStatus=Status.READY, grpcConnected=True, lastError="")
            self.say(f"plugin running: pid {process.pid}, {process.handshake.network} {process.handshake.address}")
            self._advertise()
        self._exit_watch = asyncio.create_task(self._watch_plugin(process))
        return healthy

    def _plugin_output(self, stream: str, line: str) -> None:
        level, message = hclog_line(line)
        if self._plugin_lines.seen(message):
            return
        self._report_repeats()
        self.say(message, level, Source.PLUGIN)

    def _report_repeats(self) -> None:
        if repeats := self._plugin_lines.take_repeats():
            self.say(f"(the line above came {repeats} more time{'s' if repeats > 1 else ''})", source=Source.PLUGIN)

    async def _stop_plugin(self) -> None:
        if self._exit_watch is not None:
            self._exit_watch.cancel()
            await asyncio.gather(self._exit_watch, return_exceptions=True)
            self._exit_watch = None
        if self.plugin is None:
            return
        process, self.plugin = self.plugin, None
        self.plugin_healthy = False
        remove_devinfo(self.state_dir)
        self.instance.update(grpcConnected=False)
        code = await process.stop()
        self._report_repeats()
        self.registry.discard(process.pid)
        self.say(f"stopped plugin pid {process.pid} (exit {code})", Level.DEBUG)

    async def _watch_plugin(self, process: Any) -> None:
        """Health every few seconds; an exit of its own is reported and restarted from the installed binary."""
        started = time.monotonic()
        while True:
            try:
                code = await asyncio.wait_for(process.wait(), HEALTH_INTERVAL)
            except TimeoutError:
                healthy = await process.check_health()
                if healthy != self.plugin_healthy:
                    self.plugin_healthy = healthy
                    self.instance.update(grpcConnected=healthy)
                continue
            break
        if self._stopping:
            return
        async with self.plugin_lock:
            if self.plugin is not process:
                return
            self.plugin = None
            self.registry.discard(process.pid)
            remove_devinfo(self.state_dir)
            # back off while it keeps crashing; a plugin that ran for a while starts the count again
            if time.monotonic() - started > STABLE_AFTER:
                self._crashes = 0
            delay = RESTART_BACKOFF[min(self._crashes, len(RESTART_BACKOFF) - 1)]
            self._crashes += 1
            message = f"plugin exited on its own with code {code}; restarting it in {delay:g} s"
            self.instance.update(goStatus=Status.ERROR, grpcConnected=False, lastError=message)
            self.say(message, Level.ERROR)
        while not self._stopping:
            await asyncio.sleep(delay)
            delay = RESTART_BACKOFF[-1]
            async with self.plugin_lock:
                if self._stopping or self.plugin is not None:
                    return
                # the restarted process gets a watcher of its own; this one ends here
                if await self._start_plugin():
                    return

    def _advertise(self) -> None:
        """Write .devinfo once the plugin is healthy and Vite (if any) is ready."""
        process = self.plugin
        if process is None or not self.plugin_healthy or (self.uses_vite and not self.vite_ready):
            return
        info = DevInfo(
            pid=process.pid, protocol=process.handshake.protocol, protocolVersion=process.handshake.app_version,
            addr=process.handshake.address, network=process.handshake.network, pluginId=self.manifest.id,
            version=self.manifest.version, startedAt=now_rfc3339(), processStartTime=process.start_time,
            plugindevPid=os.getpid(), vitePort=self.vite_port if self.uses_vite else None,
        )
        path = write_devinfo(self.state_dir, info)
        self.say(f"wrote {path}", Level.DEBUG)
        if not self._announced:
            self._announced = True
            ui = f"UI {self._entry_url()}, " if self.uses_vite else ""
            elapsed = time.monotonic() - self._started
            self.say(f"ready in {elapsed:.1f} s: {ui}plugin pid {process.pid} ({info.network} {info.addr})")


class DevRunner:
    """All sessions of one `plugindev run`, their shared bus, ports and process registry."""

    def __init__(self, plugin_dirs: list[Path], options: RunOptions, registry: ProcessRegistry) -> None:
        self.bus = EventBus()
        self.options = options
        self.registry = registry
        taken: set[int] = set()
        seen: dict[str, Path] = {}
        self.sessions: list[PluginSession] = []
        for plugin_dir in plugin_dirs:
            problems = validate_plugin(plugin_dir)
            if problems:
                raise problems_error(plugin_dir, problems)
            manifest = load_plugin_manifest(plugin_dir)
            if manifest.id in seen:
                raise PlugindevError(f"{plugin_dir} and {seen[manifest.id]} are both plugin {manifest.id!r}")
            seen[manifest.id] = plugin_dir
            self.sessions.append(PluginSession(plugin_dir, manifest, self.bus, options, registry, taken))

    async def run(self, stop: asyncio.Event, on_start: Callable[[], None] = lambda: None) -> None:
        on_start()
        async with asyncio.TaskGroup() as group:
            for session in self.sessions:
                group.create_task(session.run(stop))


def first_leaf(group: BaseExceptionGroup[PlugindevError]) -> PlugindevError:
    """Task groups nest (runner, session, Go loop): the user needs the one error at the bottom."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    assert isinstance(error, PlugindevError)
    return error


async def run_plugins(plugin_dirs: list[Path], options: RunOptions, printer: Printer) -> None:
    """The whole `plugindev run`: reap leftovers, run every session, stop on SIGINT/SIGTERM (twice: force)."""
    root = state_root()
    for message in await reap_leftovers(root):
        printer.line("system", message)
    registry = ProcessRegistry(root)
    runner = DevRunner(plugin_dirs, options, registry)
    printer.show_plugin = len(runner.sessions) > 1
    queue = runner.bus.subscribe()
    printing = asyncio.create_task(printer.run(queue))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():
            registry.kill_all()
            for session in runner.sessions:
                remove_devinfo(session.state_dir)
            os._exit(130)
        printer.line("system", "stopping (press Ctrl+C again to force)")
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        await runner.run(stop)
    except* PlugindevError as failures:
        raise first_leaf(failures) from None
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        while not queue.empty():
            printer.handle(queue.get_nowait())
        printing.cancel()
        registry.close()
