"""The composition root: `plugindev run`, `plugindev serve` and `plugindev watch-external` wired together. One
manager on one event loop, its events printed and served by the control API, shut down through one event
(SIGINT/SIGTERM; a second one forces).

Before anything starts, every plugin is validated and locked (a second plugindev on the same plugin is
refused, and so is a second `serve` on the same state root), and whatever a plugindev that died left behind is
ended. Once the API listens, the dashboard's URL and each previewable plugin's are printed; a run or serve that a
signal ended says "stopped" last, once its plugins and their Vite servers have stopped and `.devinfo` is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path

from orchestrator.api.history import EventHistory
from orchestrator.common.paths import state_root
from orchestrator.common.tasks import watched_task
from orchestrator.devloop.context import RunOptions
from orchestrator.devloop.manager import DevManager, SavedSetLock, checked_manifest
from orchestrator.model.events import EventBus, Level, SystemMessage
from orchestrator.statefiles.devinfo import DEVINFO
from orchestrator.statefiles.registry import check_state_root, reap_leftovers
from orchestrator.terminal.printer import Printer, Printing

STOPPED = "stopped"  # the last line of a run or serve that a signal ended


async def run_plugins(plugin_dirs: list[Path], options: RunOptions, printer: Printer, api_port: int = 0, *,
                      open_dashboard: bool = False) -> None:
    """The one-shot form: these plugins, until Ctrl+C; the first one that cannot run ends it (and so does an
    unexpected error of the only one: it is not restarted, the command ends with its line)."""
    root = state_root()
    check_state_root(root)
    manager = DevManager(root, options, fail_fast=True)
    async with _printed(printer, manager.bus):
        history = EventHistory(manager.bus)  # from the first line on: an API client sees them all
        try:
            for plugin_dir in plugin_dirs:
                manager.add(plugin_dir)
            await _reap(root, manager.bus)
            printer.show_plugin = len(manager.plugins) > 1

            def begin() -> None:
                for plugin_id in manager.ids():
                    manager.start(plugin_id)

            await _serve(manager, history, printer, api_port, begin, external=False, open_dashboard=open_dashboard)
        finally:
            await manager.close()
        if manager.failure is None:  # else the run ends with the failure's line
            _say(manager.bus, STOPPED)
    if manager.failure is not None:
        raise manager.failure


async def serve_plugins(plugin_dirs: list[Path], options: RunOptions, printer: Printer, api_port: int = 0) -> None:
    """The IDE-managed form: the saved set of plugins and `plugin_dirs` (added to it as through the API), changed
    through the API, and external ones watched."""
    root = state_root()
    check_state_root(root)
    given = [(plugin_dir, checked_manifest(plugin_dir)) for plugin_dir in plugin_dirs]  # a typo ends it at once
    lock = SavedSetLock(root)
    lock.acquire()  # before anything is read or started: a second serve changes nothing
    manager = DevManager(root, options, fail_fast=False, saved=root / "plugindev" / "managed.json")
    async with _printed(printer, manager.bus):
        history = EventHistory(manager.bus)  # from the first line on: an API client sees them all
        try:
            await _reap(root, manager.bus)
            printer.show_plugin = True

            def begin() -> None:
                for problem in manager.restore():
                    _say(manager.bus, problem)
                for plugin_dir, manifest in given:
                    manager.start(manager.add(plugin_dir, manifest).manifest.id)

            await _serve(manager, history, printer, api_port, begin, external=True)
        finally:
            await manager.close()
            lock.release()
        _say(manager.bus, STOPPED)


async def _reap(root: Path, bus: EventBus) -> None:
    for message in await reap_leftovers(root):
        _say(bus, message)


async def _serve(manager: DevManager, history: EventHistory, printer: Printer, api_port: int,
                 begin: Callable[[], None], *, external: bool, open_dashboard: bool = False) -> None:
    def force() -> None:
        manager.registry.kill_all()
        for managed in manager.plugins.values():
            managed.session.devinfo.remove()
        os._exit(130)

    async with _until_signal(manager.bus, force) as stop:
        await _serve_until(manager, history, printer, api_port, begin, stop, external=external,
                           open_dashboard=open_dashboard)


async def _serve_until(manager: DevManager, history: EventHistory, printer: Printer, api_port: int,
                       begin: Callable[[], None], stop: asyncio.Event, *, external: bool,
                       open_dashboard: bool) -> None:
    """The API listens first, then `begin()` starts the plugins: a Vite server learns the preview's origin (to allow
    it) from the environment the API set when it started."""
    from orchestrator.api.handlers import Api
    from orchestrator.common.files import write_failure
    from orchestrator.statefiles.api_identity import ApiIdentity, identity_file, load_identity, save_identity
    from orchestrator.web.server import ApiServer

    loop = asyncio.get_running_loop()
    kept = identity_file(manager.state_root)
    identity = load_identity(kept)
    api = Api(manager, history, token=identity.token)
    server = ApiServer(api, manager.state_root)
    watching: asyncio.Task[None] | None = None
    try:
        await server.start(api_port, kept_port=identity.port, kept_preview_port=identity.preview_port)
        try:
            save_identity(kept, ApiIdentity(api.token, api.port, api.preview_port))
        except OSError as exc:  # a convenience for the next run: this one goes on without it
            _say(manager.bus, f"{write_failure(exc, kept)} (the next run gets a new API token)")
        begin()
        if external:
            from orchestrator.external.monitor import ExternalMonitor

            monitor = ExternalMonitor(manager.state_root, manager.bus, managed=manager.ids,
                                      interval=manager.options.health_interval)
            api.external = monitor
            watching = watched_task(monitor.run(stop), "the external plugin monitor", partial(manager.log, Level.ERROR))
        if external or printer.verbose:  # `serve` is there for its API; `run` mentions it with -v
            where = "" if server.advertised else \
                " (api.json is another running plugindev's; this one takes it over when that one stops)"
            _say(manager.bus, f"control API at {server.url}{where}; token in {server.file}")
        _say(manager.bus, f"dashboard: {api.signed_in('/')}")
        for managed in manager.plugins.values():
            api.say_preview(managed.session)
        if open_dashboard:
            import webbrowser

            # the browser's command line, which any local user can read, gets a one-time code, not the token
            if not await loop.run_in_executor(None, webbrowser.open, server.sign_in_url()):
                _say(manager.bus, "no web browser could be opened here: open the dashboard URL above")
        waiting = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(manager.failed.wait())]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        for task in waiting:
            task.cancel()
        stop.set()
        await manager.close()
    finally:
        if watching is not None:
            await asyncio.gather(watching, return_exceptions=True)
        await server.close()


async def watch_external(state_root: Path, printer: Printer, health_interval: float) -> None:
    """`plugindev watch-external`: the monitor alone, its events printed, until SIGINT/SIGTERM."""
    from orchestrator.external.monitor import ExternalMonitor

    check_state_root(state_root)
    bus = EventBus()
    monitor = ExternalMonitor(state_root, bus, interval=health_interval)
    printer.show_plugin = True
    async with _printed(printer, bus), _until_signal(bus, None) as stop:
        _say(bus, f"watching {monitor.plugins_dir}/*/{DEVINFO} (Ctrl+C stops; plugins keep running)")
        await monitor.run(stop)


def _say(bus: EventBus, message: str) -> None:
    """plugindev's own message to its user, printed and sent to the API's clients like any event."""
    bus.publish(SystemMessage(message))


@contextlib.asynccontextmanager
async def _printed(printer: Printer, bus: EventBus) -> AsyncIterator[None]:
    """The bus printed while the body runs, and what is left of it after."""
    printing = Printing(printer, bus)
    try:
        yield
    finally:
        await printing.close()


@contextlib.asynccontextmanager
async def _until_signal(bus: EventBus, force: Callable[[], None] | None) -> AsyncIterator[asyncio.Event]:
    """The event SIGINT/SIGTERM set while the body runs; with `force`, a second signal calls it (a run or a serve
    ends its processes at once)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set() and force is not None:
            force()
        stop.set()  # first: nothing the printer meets may keep the run from stopping
        if force is not None:
            _say(bus, "stopping (press Ctrl+C again to force)")

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        yield stop
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
