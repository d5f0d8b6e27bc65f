"""The coordinator of one plugin under development: it runs the plugin's parts (the UI, the Go backend), keeps
its record (its state, log and their events: orchestrator.model.record), and after every change of the state
makes `.devinfo` agree with it. The parts only report what happens to them (orchestrator.devloop.context).

Each part runs under `keep_running`: one that stops on an unexpected error is one error event (a log line and
the state's lastError) and runs again after the backoff, while the other parts go on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from pathlib import Path
from typing import Protocol

from orchestrator.authoring.manifest import PluginManifest
from orchestrator.common.durations import seconds_text
from orchestrator.common.rebuild import WATCH_STEP_MS, own_stop, wait_first
from orchestrator.common.supervision import keep_running
from orchestrator.common.tasks import ended
from orchestrator.devloop.backend import GoBackend
from orchestrator.devloop.context import PartContext, RunOptions
from orchestrator.devloop.pool import UNBOUNDED, Slots
from orchestrator.devloop.ui import ViteBuildOnChange, ViteDevServer
from orchestrator.devloop.vite import PortAllocator
from orchestrator.model.events import EventBus, Level, Source
from orchestrator.model.record import PluginRecord
from orchestrator.model.state import Change, DevState, PartFailed, SessionStopped, Side
from orchestrator.statefiles.devinfo import DEVINFO, DevinfoFile, advertised
from orchestrator.statefiles.install import plugin_state_dir
from orchestrator.statefiles.registry import ProcessRegistry


class Part(Protocol):
    name: str  # what the author calls it: "the Go backend"
    side: Side

    async def run(self, stop: asyncio.Event) -> None: ...


PartsFactory = Callable[[PartContext, PluginManifest, PortAllocator], list[Part]]


def default_parts(ctx: PartContext, manifest: PluginManifest, ports: PortAllocator) -> list[Part]:
    """The UI part the options ask for, and the Go backend part."""
    parts: list[Part] = []
    if manifest.has_ui and ctx.options.vite:
        parts.append(ViteDevServer(ctx, ports) if ctx.options.ui_mode == "dev" else ViteBuildOnChange(ctx))
    if manifest.has_backend and ctx.options.go_backend:
        parts.append(GoBackend(ctx, manifest))
    return parts


class PluginSession:
    """Everything plugindev runs for one plugin, and its record."""

    def __init__(self, plugin_dir: Path, manifest: PluginManifest, bus: EventBus, options: RunOptions, *,
                 state_root: Path, registry: ProcessRegistry, ports: PortAllocator,
                 make_parts: PartsFactory | None = None, restarts: Callable[[], bool] = lambda: True,
                 slots: Slots = UNBOUNDED) -> None:
        self.plugin_dir = plugin_dir.resolve()
        self.manifest = manifest
        self.options = options
        self.bus = bus
        self.registry = registry
        self.ports = ports
        self.record = PluginRecord(bus, DevState(pluginID=manifest.id, devPath=str(self.plugin_dir)))
        state_dir = plugin_state_dir(manifest.id, state_root)
        self.devinfo = DevinfoFile(state_dir, partial(self.record.log, Source.MANAGER))
        self.context = PartContext(
            plugin_id=manifest.id, plugin_dir=self.plugin_dir, state_dir=state_dir,
            options=options, report=self.report, log=self.record.log, report_errors=self.record.report_errors,
            record=lambda kind, pid, temp_dir: registry.add(kind, manifest.id, pid, temp_dir),
            forget=registry.discard, state=lambda: self.record.state, unexpected=self.unexpected, slots=slots)
        self._make_parts = make_parts or default_parts
        self.restarts = restarts  # False: a part that stops on an unexpected error ends the session instead
        self._parts: list[Part] = []
        self._started = time.monotonic()
        self._announced = False
        self._advertised = asyncio.Event()  # a .devinfo was written in this run: its folder is watched since

    @property
    def state(self) -> DevState:
        return self.record.state

    @property
    def uses_vite(self) -> bool:
        return self.manifest.has_ui and self.options.vite and self.options.ui_mode == "dev"

    async def run(self, stop: asyncio.Event) -> None:
        """Run the plugin's parts until `stop` is set; a session can run again after it stopped."""
        self._started, self._announced = time.monotonic(), False
        self._advertised = asyncio.Event()
        self._parts = self._make_parts(self.context, self.manifest, self.ports)
        try:
            async with asyncio.TaskGroup() as group:
                for part in self._parts:
                    group.create_task(self.kept_running(part.name, partial(part.run, stop), stop, part.side))
                group.create_task(self.kept_running(f"the {DEVINFO} keeper", partial(self._keep_devinfo, stop), stop))
        finally:
            self._parts = []
            self.report(SessionStopped())

    def kept_running(self, what: str, run: Callable[[], Awaitable[None]], stop: asyncio.Event,
                     side: Side | None = None) -> Coroutine[None, None, None]:
        """`run()` restarted after an unexpected error (one error event each time), unless `restarts()` says no."""
        return keep_running(what, run, partial(self.unexpected, side=side), stop=stop, restart=self.restarts)

    def rebuild(self) -> bool:
        """Build the Go backend again now (as a save would); False when none runs."""
        backends = [part for part in self._parts if isinstance(part, GoBackend)]
        for backend in backends:
            backend.build_wanted.set()
        return bool(backends)

    # -- what the parts report (their logs and build errors go to the record as they are) -------------------
    def report(self, change: Change) -> None:
        if self.record.report(change):
            self._reconcile_devinfo()

    def unexpected(self, line: str, side: Side | None = None) -> None:
        """The one error event of an unexpected failure: a log line, and the state's lastError."""
        self.record.log(Source.MANAGER, Level.ERROR, line)
        self.report(PartFailed(line, side))

    def _reconcile_devinfo(self) -> None:
        desired = advertised(self.state, self.uses_vite)
        if not self.devinfo.reconcile(desired):
            return
        if not self.devinfo.failing:  # else said once, and retried
            self.record.log(Source.MANAGER, Level.DEBUG, f"wrote {self.devinfo.path}" if desired else
                            f"removed {self.devinfo.path}")
        if desired is not None:
            self._advertised.set()
        if desired is not None and not self._announced:
            self._announced = True
            ui = self._ui_summary()
            elapsed = time.monotonic() - self._started
            self.record.log(Source.MANAGER, Level.INFO, f"ready in {seconds_text(elapsed)}: {ui}plugin pid "
                                                        f"{desired.pid} ({desired.network} {desired.addr})")

    def _ui_summary(self) -> str:
        """The UI's part of the ready line: its entry URL only when it answered 200 (checked by the part)."""
        if not self.uses_vite:
            return ""
        url = next((p.loadable_entry for p in self._parts if isinstance(p, ViteDevServer)), None)
        return f"UI {url}, " if url else "UI entry not loadable (see the error above), "

    async def _keep_devinfo(self, stop: asyncio.Event) -> None:
        """Put back a .devinfo that another program removed while the state implies one (the IDE deletes it when
        the pid it read last is dead, whatever pid the file names by then). Watched once one was written."""
        await wait_first(self._advertised.wait(), stop.wait())
        if stop.is_set():
            return
        folder = self.devinfo.path.parent
        try:
            async with own_stop(stop) as watch_stop:
                await self._restore_on_change(folder, watch_stop)
        except OSError as exc:  # the folder went away: nothing left to watch
            self.record.log(Source.MANAGER, Level.ERROR, f"cannot watch {folder} ({exc}); a {DEVINFO} that "
                                                         "another program removes will not be written again")

    async def _restore_on_change(self, folder: Path, stop: asyncio.Event) -> None:
        """Write the .devinfo again after every change of it in `folder` that left none, until `stop` is set."""
        from watchfiles import awatch  # the Rust watcher loads on first use

        batches = awatch(folder, watch_filter=lambda _change, path: Path(path).name == DEVINFO,
                         recursive=False, step=WATCH_STEP_MS, stop_event=stop)
        changes = asyncio.ensure_future(anext(batches))
        await asyncio.sleep(0)  # the generator's first step starts the OS watcher (awatch awaits nothing before)
        try:
            while True:
                self._restore_devinfo()  # the first time: a removal before the watch began
                await changes
                changes = asyncio.ensure_future(anext(batches))
        except StopAsyncIteration:
            pass  # `stop` was set
        finally:
            if not changes.done():
                await ended(changes)

    def _restore_devinfo(self) -> None:
        if self.devinfo.restore():  # one that cannot be written is said by the file, and retried
            self.record.log(Source.MANAGER, Level.INFO, f"{DEVINFO} was removed by another program; written again")
