"""The plugins one plugindev develops, added and removed while it runs.

`plugindev run A B` starts a manager with a fixed set and ends on the first plugin that cannot run
(`fail_fast`); `plugindev serve` restores the set it saved last time, takes additions and removals through the
API, keeps serving when one plugin fails, and saves the set atomically after each change.

A plugin's session that stops on an unexpected error is said (an error event) and run again after the backoff,
under `serve` and under `run` of several plugins; `run` of one plugin ends with that line instead. A saved set
that cannot be written is said and retried.

The plugins' Go builds go through one pool (orchestrator.devloop.pool), their UI installs through another, each
`--jobs` wide (one per core by default): 30 plugins do not start 30 builds on 2 cores.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from orchestrator.authoring.manifest import PluginManifest, load_plugin_manifest, problems_error
from orchestrator.authoring.validate import validate_plugin
from orchestrator.common.errors import PlugindevError, UnknownPlugin
from orchestrator.common.files import UnreadableFile
from orchestrator.common.tasks import first_leaf, watched_task
from orchestrator.devloop.context import RunOptions
from orchestrator.devloop.pool import PriorityPool, Slots, pool_size
from orchestrator.devloop.session import PluginSession
from orchestrator.devloop.vite import PortAllocator
from orchestrator.model.events import EventBus, Level, Source, publish_log
from orchestrator.model.state import DevState
from orchestrator.statefiles.bookkeeping import KeptFile
from orchestrator.statefiles.codec import Rejected
from orchestrator.statefiles.managed import SavedSet, encode_saved_set, load_saved_set
from orchestrator.statefiles.registry import LockHolder, PluginLock, ProcessRegistry


class SavedSetLock(PluginLock):
    """Held by the `serve` that keeps a state root's saved set (managed.json): a second `serve` there would
    overwrite it with its own and the first one's plugins would be lost, so it is refused, as a second `run` of a
    plugin is. Its lock file's name can be no plugin id's (those start with a letter or digit)."""

    def __init__(self, state_root: Path) -> None:
        super().__init__(state_root, "_serve", "serve")
        self.state_root = state_root

    def refusal(self, holder: LockHolder) -> str:
        return (f"plugindev serve is already running on the state root {self.state_root} (pid {holder.pid}); stop that "
                "one first, or add plugins to that one with `plugindev add DIR` (or its API or dashboard)")


@dataclass
class Managed:
    path: Path
    session: PluginSession
    lock: PluginLock
    stop: asyncio.Event
    task: asyncio.Task[None] | None = None


def checked_manifest(plugin_dir: Path) -> PluginManifest:
    """The manifest of a plugin that validates, or its first problem as a one-line error (reads its files)."""
    plugin_dir = plugin_dir.resolve()
    problems = validate_plugin(plugin_dir)
    if problems:
        raise problems_error(plugin_dir, problems)
    return load_plugin_manifest(plugin_dir)


class DevManager:
    def __init__(self, state_root: Path, options: RunOptions, *, fail_fast: bool, saved: Path | None = None) -> None:
        self.state_root = state_root
        self.options = options
        self.fail_fast = fail_fast
        self.saved = saved  # where the set is kept between runs (serve)
        # ids start at the start time in µs: a later plugindev's are larger than an earlier one's (short of a
        # million events a second), so a page resuming across a restart gets all the new one kept
        self.bus = EventBus(first_id=time.time_ns() // 1000)
        self.registry = ProcessRegistry(state_root, self.log)
        self._saved_file = KeptFile(saved, self.log) if saved is not None else None
        self.ports = PortAllocator()
        # every plugin's Go builds share one pool, their UI installs another: a few at a time, by priority
        self.builds = PriorityPool(pool_size(options.jobs))
        self.installs = PriorityPool(pool_size(options.jobs))
        self._added = 0  # plugins added so far: the order their initial builds go in
        self.plugins: dict[str, Managed] = {}
        self.failed = asyncio.Event()  # fail_fast: a plugin could not run; `failure` says why
        self.failure: PlugindevError | None = None

    # -- the set ----------------------------------------------------------------------------------------
    def add(self, plugin_dir: Path, manifest: PluginManifest | None = None) -> PluginSession:
        """Lock a plugin and add it to the set (stopped); `start` runs it. `manifest`: what `checked_manifest`
        read of it already (async callers read it off the event loop), else it is read here."""
        plugin_dir = plugin_dir.resolve()
        if manifest is None:
            manifest = checked_manifest(plugin_dir)
        if manifest.id in self.plugins:
            known = self.plugins[manifest.id].path
            if known == plugin_dir:
                return self.plugins[manifest.id].session
            raise PlugindevError(f"{plugin_dir} and {known} are both plugin {manifest.id!r}")
        # the lock records the command (serve keeps a set, run does not), which another plugindev refused names
        lock = PluginLock(self.state_root, manifest.id, "serve" if self.saved is not None else "run")
        lock.acquire()
        self._added += 1
        session = PluginSession(plugin_dir, manifest, self.bus, self.options, state_root=self.state_root,
                                registry=self.registry, ports=self.ports, restarts=self._restarts,
                                slots=Slots(self.builds, self.installs, self._added))
        self.plugins[manifest.id] = Managed(plugin_dir, session, lock, asyncio.Event())
        self._save()
        return session

    def start(self, plugin_id: str) -> None:
        managed = self._get(plugin_id)
        if managed.task is not None and not managed.task.done():
            return
        managed.stop = asyncio.Event()
        managed.task = watched_task(self._run(managed), f"plugin {plugin_id}", managed.session.unexpected)

    async def stop(self, plugin_id: str) -> None:
        managed = self._get(plugin_id)
        managed.stop.set()
        if managed.task is not None:
            await asyncio.gather(managed.task, return_exceptions=True)

    async def restart(self, plugin_id: str) -> None:
        await self.stop(plugin_id)
        self.start(plugin_id)

    def rebuild(self, plugin_id: str) -> None:
        if not self._get(plugin_id).session.rebuild():
            raise PlugindevError(f"plugin {plugin_id!r} has no Go backend running to rebuild; start it first")

    async def remove(self, plugin_id: str) -> None:
        managed = self._get(plugin_id)
        await self.stop(plugin_id)
        if self.plugins.get(plugin_id) is not managed:  # a removal at the same time got there first
            raise UnknownPlugin(f"plugin {plugin_id!r} was removed meanwhile")
        del self.plugins[plugin_id]
        managed.lock.release()
        self._save()

    async def close(self) -> None:
        """Stop every plugin (the set stays saved for the next start)."""
        await asyncio.gather(*(self.stop(plugin_id) for plugin_id in list(self.plugins)))
        for managed in self.plugins.values():
            managed.lock.release()
        self.registry.close()
        if self._saved_file is not None:
            self._saved_file.close()

    def log(self, level: Level, message: str) -> None:
        """plugindev's own line, of no one plugin (its saved set, its process records)."""
        publish_log(self.bus, "", level, message)

    # -- what the API reads -------------------------------------------------------------------------------
    def ids(self) -> set[str]:
        return set(self.plugins)

    def states(self) -> list[DevState]:
        return [managed.session.state for managed in self.plugins.values()]

    def session(self, plugin_id: str) -> PluginSession:
        return self._get(plugin_id).session

    def restore(self) -> list[str]:
        """Add and start the plugins saved last time; what could not be restored, as log lines."""
        if self.saved is None or not self.saved.is_file():
            return []
        problems = []
        try:
            saved = load_saved_set(self.saved)  # small, and it blocks on nothing
        except UnreadableFile as exc:
            return [f"{self.saved} {exc.reason}; starting with no plugin"]
        except Rejected as exc:
            return [f"{self.saved}: unreadable ({exc}); starting with no plugin"]
        for path in saved.plugins:
            try:
                self.start(self.add(path).manifest.id)
            except PlugindevError as exc:
                problems.append(f"not restarted: {exc}")
        return problems

    # -- inside ---------------------------------------------------------------------------------------------
    def _get(self, plugin_id: str) -> Managed:
        try:
            return self.plugins[plugin_id]
        except KeyError:
            raise UnknownPlugin(f"no plugin {plugin_id!r} here; add it with its folder first") from None

    def _restarts(self) -> bool:
        """Whether what stops on an unexpected error runs again: not under `run` of one plugin, which ends with it."""
        return not (self.fail_fast and len(self.plugins) == 1)

    async def _run(self, managed: Managed) -> None:
        session = managed.session
        try:
            await session.kept_running("the plugin's session", partial(session.run, managed.stop), managed.stop)
        except (PlugindevError, BaseExceptionGroup) as exc:
            error = first_leaf(exc)
            if not isinstance(error, PlugindevError):
                raise
            if not self.fail_fast:
                session.record.log(Source.MANAGER, Level.ERROR, str(error))
            elif self.failure is None:  # the run ends with this error, said once by the command line
                self.failure = error
                self.failed.set()

    def _save(self) -> None:
        if self._saved_file is None:
            return
        self._saved_file.keep(encode_saved_set(SavedSet(tuple(m.path for m in self.plugins.values()))))
