"""`plugindev run`: every plugin's session on one event loop, shut down through one event.

Before anything starts: each plugin is validated and locked (a second plugindev on the same plugin is
refused), and whatever a plugindev that died left behind is ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

from orchestrator.authoring.manifest import load_plugin_manifest, problems_error
from orchestrator.authoring.validate import validate_plugin
from orchestrator.common.errors import PlugindevError
from orchestrator.common.paths import state_root
from orchestrator.devloop.context import RunOptions
from orchestrator.devloop.events import EventBus
from orchestrator.devloop.printer import Printer
from orchestrator.devloop.registry import PluginLock, ProcessRegistry, reap_leftovers
from orchestrator.devloop.session import PluginSession
from orchestrator.devloop.vite import PortAllocator


class DevRunner:
    """All sessions of one `plugindev run`, their shared bus, ports and process registry."""

    def __init__(self, plugin_dirs: list[Path], options: RunOptions, state_root: Path,
                 registry: ProcessRegistry) -> None:
        self.bus = EventBus()
        self.registry = registry
        ports = PortAllocator()
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
            self.sessions.append(PluginSession(plugin_dir, manifest, self.bus, options, state_root=state_root,
                                               registry=registry, ports=ports))

    async def run(self, stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as group:
            for session in self.sessions:
                group.create_task(session.run(stop))


def first_leaf(group: BaseExceptionGroup[PlugindevError]) -> PlugindevError:
    """Task groups nest (runner, session, part): the user needs the one error at the bottom."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    assert isinstance(error, PlugindevError)
    return error


async def run_plugins(plugin_dirs: list[Path], options: RunOptions, printer: Printer) -> None:
    """The whole `plugindev run`: lock, reap leftovers, run every session, stop on SIGINT/SIGTERM (twice: force)."""
    root = state_root()
    registry = ProcessRegistry(root)
    runner = DevRunner(plugin_dirs, options, root, registry)
    locks = [PluginLock(root, session.manifest.id) for session in runner.sessions]
    with contextlib.ExitStack() as held:
        for lock in locks:
            lock.acquire()
            held.callback(lock.release)
        for message in await reap_leftovers(root):
            printer.line("system", message)
        await _run_until_stopped(runner, printer)


async def _run_until_stopped(runner: DevRunner, printer: Printer) -> None:
    printer.show_plugin = len(runner.sessions) > 1
    queue = runner.bus.subscribe()
    printing = asyncio.create_task(printer.run(queue))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():
            runner.registry.kill_all()
            for session in runner.sessions:
                session.devinfo.remove()
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
        runner.registry.close()
