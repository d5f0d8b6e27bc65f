"""External mode, the host side of `.devinfo`: plugins that something else runs (`plugindev run` elsewhere, the
SDK's own dev mode, air, a shell script) are found through `<state root>/plugins/*/.devinfo`, checked over gRPC
and shown with `mode: external`. The monitor only ever reads and connects: it never stops a plugin.

One asyncio task watches the folder (watchfiles), and one task per attached process checks its health every
`interval` seconds, at once when its connection drops, and removes the file once the process is gone. Both run
under `keep_running`: an unexpected error in one is said and it runs again after the backoff. A `plugins/`
folder that is removed is made again and watched anew; something else in its place is said, and watched for
until it is a folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncGenerator, Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from orchestrator.common.files import UnreadableFile, write_failure
from orchestrator.common.rebuild import FOLDER_CHECK, folder_identity, own_stop, stopped_within
from orchestrator.common.supervision import keep_running
from orchestrator.common.tasks import ended
from orchestrator.external.checks import check_until_gone
from orchestrator.model.events import EventBus, Level, LogEntry, Source, publish_log
from orchestrator.model.record import PluginRecord
from orchestrator.model.state import DevState, ExternalFound, ExternalHealth, ExternalRejected, SessionStopped
from orchestrator.statefiles.codec import Rejected
from orchestrator.statefiles.devinfo import DEVINFO, DevInfo, decode_devinfo, process_gone, read_devinfo

FolderId = tuple[int, int]  # which folder is at a path (device, inode)


@dataclass
class _Followed:
    """One plugin folder whose `.devinfo` the monitor follows, and the plugin's record (kept while it is followed,
    whatever process its file names)."""

    plugin_id: str
    raw: bytes  # the file as last read
    record: PluginRecord
    info: DevInfo | None = None  # None: the file was rejected
    health: str | None = None  # the last check: None before the first, "" passing, else why it failed
    checks: asyncio.Task[None] | None = field(default=None, repr=False)


def _end_checks(followed: _Followed) -> None:
    """Cancel the checks of a process no longer followed, unless they are what runs now (then they return by
    themselves right after: cancelling would also interrupt closing their connection)."""
    if followed.checks is not None and followed.checks is not asyncio.current_task():
        followed.checks.cancel()


class ExternalMonitor:
    """Follows every `.devinfo` under `<state_root>/plugins/` except those of plugins `managed()` names."""

    def __init__(self, state_root: Path, bus: EventBus, *, managed: Callable[[], AbstractSet[str]] = frozenset,
                 interval: float = 5.0, settle: float = 0.05) -> None:
        self.plugins_dir = state_root / "plugins"
        self.bus = bus
        self.managed = managed
        self.interval = interval
        self.settle = settle
        self._followed: dict[str, _Followed] = {}
        self._checks: set[asyncio.Task[None]] = set()  # also those cancelled and still closing their connection

    # -- what serve and the API read ------------------------------------------------------------------------
    def states(self) -> dict[str, DevState]:
        return {plugin_id: followed.record.state for plugin_id, followed in self._followed.items()}

    def devinfo(self, plugin_id: str) -> dict[str, Any] | None:
        followed = self._followed.get(plugin_id)
        return followed.info.to_json() if followed and followed.info else None

    def logs(self, plugin_id: str, count: int = 0) -> list[LogEntry]:
        followed = self._followed.get(plugin_id)
        return followed.record.recent_logs(count) if followed else []

    # -- watching ---------------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Follow the files until `stop` is set; then every check ends and every connection is closed. An unexpected
        error is said, and the monitor runs again after the backoff."""
        await keep_running("the external plugin monitor", partial(self._follow, stop), partial(self._say, Level.ERROR),
                           stop=stop)

    async def _follow(self, stop: asyncio.Event) -> None:
        """Watch the plugins folder, and the one made or put in its place after it, until `stop` is set."""
        self._followed.clear()  # a monitor that runs again finds every plugin anew (the old checks were ended)
        armed: FolderId | None = None
        try:
            while (armed := await self._folder(stop, armed)) is not None:
                await self._watch(stop, armed)
                await self._reconcile(list(self._followed))  # what a folder gone or replaced held is gone with it
        finally:
            checks = list(self._checks)
            for task in checks:
                task.cancel()
            await asyncio.gather(*checks, return_exceptions=True)  # a failure of one was said by its own task

    async def _folder(self, stop: asyncio.Event, was: FolderId | None) -> FolderId | None:
        """The plugins folder to watch (made when there is none), once there is one; None once `stop` is set.
        Something else in its place is said once and looked at again every FOLDER_CHECK seconds."""
        said = ""
        while not stop.is_set():
            missing = not os.path.lexists(self.plugins_dir)
            problem = ""
            try:
                self.plugins_dir.mkdir(parents=True, exist_ok=True)  # watched before any plugin writes there
            except FileExistsError:
                pass  # something else is there: said below
            except OSError as exc:
                problem = f"{write_failure(exc, self.plugins_dir)}; no external plugin can be found meanwhile"
            armed = folder_identity(self.plugins_dir)
            if armed is not None:
                if said:
                    self._say(Level.INFO, f"{self.plugins_dir} is a folder now: watching it")
                elif was is not None and missing:
                    self._say(Level.WARN, f"{self.plugins_dir} was removed: made it again, watching it")
                return armed
            problem = problem or (f"{self.plugins_dir} is a file, not a folder: no external plugin can be found "
                                  "there; move it aside (plugindev watches for a folder there)")
            if problem != said:
                self._say(Level.ERROR, problem)
                said = problem
            await stopped_within(stop, FOLDER_CHECK)
        return None

    async def _watch(self, stop: asyncio.Event, armed: FolderId) -> None:
        """Follow the files until `stop` is set, or until the folder at the path is no longer the one watched (the
        OS watcher stays on the one it was armed on)."""
        from watchfiles import awatch  # the Rust watcher loads on first use

        # `step`: a batch is handed over once nothing changed for `settle`, so a file is read once written. A quiet
        # timeout every FOLDER_CHECK s looks at which folder is there (an empty one removed sends no event), and
        # every `interval` s every folder is looked at again (a safety net for events the OS watcher missed).
        async with own_stop(stop) as watch_stop:
            batches = awatch(self.plugins_dir, watch_filter=self._relevant, step=max(1, round(self.settle * 1000)),
                             debounce=max(1000, round(self.settle * 4000)),
                             rust_timeout=round(min(self.interval, FOLDER_CHECK) * 1000), yield_on_timeout=True,
                             stop_event=watch_stop)
            await self._follow_batches(batches, armed)

    async def _follow_batches(self, batches: AsyncGenerator[set[tuple[Any, str]], None], armed: FolderId) -> None:
        loop = asyncio.get_running_loop()
        async with contextlib.aclosing(batches):
            first = asyncio.ensure_future(anext(batches))
            await asyncio.sleep(0)  # the generator's first step starts the OS watcher (awatch awaits nothing before)
            try:
                await self._reconcile_all()  # what was there before the watch began
                looked = loop.time()
                batch = await first
                while folder_identity(self.plugins_dir) == armed:
                    if batch:
                        await self._reconcile(sorted({self._folder_of(path) for _, path in batch} - {""}))
                    elif loop.time() - looked >= self.interval:
                        await self._reconcile_all()
                        looked = loop.time()
                    batch = await anext(batches)
            except StopAsyncIteration:
                pass  # `stop` was set
            except FileNotFoundError:
                if folder_identity(self.plugins_dir) == armed:
                    raise
                # the folder went before the OS watcher was armed on it: the next one is made and watched
            finally:
                if not first.done():
                    await ended(first)

    def _folder_of(self, path: str) -> str:
        """The plugin folder a changed path is in; "" for the plugins folder itself."""
        return next(iter(Path(path).relative_to(self.plugins_dir).parts), "")

    def _relevant(self, _change: object, path: str) -> bool:
        """The plugins folder itself (removed), a plugin folder (created or removed), or the `.devinfo` inside one."""
        try:
            parts = Path(path).relative_to(self.plugins_dir).parts
        except ValueError:
            return False
        return len(parts) <= 1 or (len(parts) == 2 and parts[1] == DEVINFO)

    async def _reconcile_all(self) -> None:
        try:
            folders = {entry.name for entry in self.plugins_dir.iterdir() if entry.is_dir()}
        except OSError:
            folders = set()  # no folder there any more: the watch sees it and makes one again
        await self._reconcile(sorted(folders | set(self._followed)))

    async def _reconcile(self, plugin_ids: Iterable[str]) -> None:
        managed = self.managed()
        for plugin_id in plugin_ids:
            if plugin_id in managed:
                self._drop(plugin_id)  # plugindev's own session reports this one
            else:
                await self._read(plugin_id)

    async def _read(self, plugin_id: str) -> None:
        """Make what the monitor follows for `plugin_id` agree with its `.devinfo` on disk."""
        path = self.plugins_dir / plugin_id / DEVINFO
        unreadable = ""
        try:
            raw = await asyncio.to_thread(read_devinfo, path)  # bounded, and off the loop
        except UnreadableFile as exc:
            if exc.missing:
                if (followed := self._followed.get(plugin_id)) is not None:
                    what = f"pid {followed.info.pid}" if followed.info else "the rejected file"
                    self._forget(followed, f"{path} was removed: no longer following {what}")
                return
            # compared like content below: reported once until it changes
            raw, unreadable = f"unreadable: {exc.reason}".encode(), exc.reason
        followed = self._followed.get(plugin_id)  # as it is now, after the read
        if followed is not None and followed.raw == raw:
            return
        if unreadable:
            self._reject(plugin_id, raw, f"{path} rejected: {unreadable}")
            return
        try:
            info = decode_devinfo(raw, plugin_id)
        except Rejected as exc:
            self._reject(plugin_id, raw, f"{path} rejected: {exc}")
            return
        gone = process_gone(info)
        if gone:
            await self._remove_stale(plugin_id, raw, gone)
        else:
            self._attach(plugin_id, raw, info)

    def _attach(self, plugin_id: str, raw: bytes, info: DevInfo) -> None:
        process, vite_port = info.backend_process(), info.vitePort or 0
        followed = self._followed.get(plugin_id)
        if followed is not None and followed.info is not None and followed.info.same_process(info):
            followed.raw, followed.info = raw, info  # rewritten for the same process: the checks go on
            followed.record.report(ExternalFound(process, vite_port, rewritten=True))
            return
        if followed is not None:
            _end_checks(followed)  # the task closes the old connection
        previous = f" (was pid {followed.info.pid})" if followed is not None and followed.info else ""
        # followed anew (what the old process's checks may still say is ignored), in the same record
        followed = self._followed[plugin_id] = _Followed(plugin_id, raw, self._record_of(plugin_id), info)
        followed.record.log(Source.MANAGER, Level.INFO, f"found pid {info.pid} ({info.endpoint}){previous}: connecting")
        followed.record.report(ExternalFound(process, vite_port))
        checks = partial(check_until_gone, info, self.interval,
                         lambda error, lifecycle: self._health_checked(followed, error, lifecycle),
                         lambda why: self._remove_stale(plugin_id, followed.raw, why))
        followed.checks = asyncio.create_task(keep_running(f"the health checks of pid {info.pid}", checks,
                                                           partial(self._checks_failed, followed)))
        self._checks.add(followed.checks)
        followed.checks.add_done_callback(self._checks.discard)

    def _reject(self, plugin_id: str, raw: bytes, reason: str) -> None:
        followed = self._followed.get(plugin_id)
        if followed is not None:
            _end_checks(followed)
        followed = self._followed[plugin_id] = _Followed(plugin_id, raw, self._record_of(plugin_id))
        followed.record.log(Source.MANAGER, Level.ERROR, reason)
        followed.record.report(ExternalRejected(reason))

    async def _remove_stale(self, plugin_id: str, raw: bytes, reason: str) -> None:
        """The file names a process that is gone: remove it, unless someone rewrote it since it was read."""
        path = self.plugins_dir / plugin_id / DEVINFO
        try:
            if await asyncio.to_thread(read_devinfo, path) != raw:
                await self._read(plugin_id)  # a new file arrived meanwhile: that one counts
                return
            if path.parent.is_symlink():  # a folder elsewhere: never cleaned through a link
                self._reject(plugin_id, raw, f"{path}: {reason}; not removed: {path.parent} is a link")
                return
            path.unlink()
        except UnreadableFile as exc:
            if not exc.missing:
                await self._read(plugin_id)  # replaced by something that is not a .devinfo: that counts
                return
        except FileNotFoundError:
            pass
        except OSError as exc:
            self._reject(plugin_id, raw, f"{path}: {reason}, and the file cannot be removed ({exc.strerror or exc})")
            return
        message = f"{reason}: removed {path}"
        followed = self._followed.get(plugin_id)
        if followed is None:
            publish_log(self.bus, plugin_id, Level.INFO, message)  # never listed: nothing of it is kept
        else:
            self._forget(followed, message)

    def _forget(self, followed: _Followed, message: str) -> None:
        """Stop following: one last status ("stopped"), then the plugin leaves `states()`."""
        followed.record.log(Source.MANAGER, Level.INFO, message)
        followed.record.report(SessionStopped())
        self._drop(followed.plugin_id)

    def _drop(self, plugin_id: str) -> None:
        """The plugin leaves `states()`, and its record (its kept logs) goes with it: its last events are published
        already, and plugins that come and go must not add up."""
        followed = self._followed.pop(plugin_id, None)
        if followed is not None:
            _end_checks(followed)

    def _record_of(self, plugin_id: str) -> PluginRecord:
        """The record of a plugin followed already (whatever its file said before), else a new one."""
        followed = self._followed.get(plugin_id)
        if followed is not None:
            return followed.record
        return PluginRecord(self.bus, DevState(pluginID=plugin_id, devPath="", mode="external"))

    # -- checking one process -----------------------------------------------------------------------------
    def _health_checked(self, followed: _Followed, error: str, lifecycle: bool) -> None:
        if self._followed.get(followed.plugin_id) is not followed:
            return  # the checks of a process no longer followed, in their last moment
        assert followed.info is not None
        info, before = followed.info, followed.health
        followed.health = error
        if error and before != error:
            followed.record.log(Source.MANAGER, Level.WARN, f"pid {info.pid}: {error}")
        elif not error and before is None:
            sdk = "the SDK's lifecycle service serves" if lifecycle else "no SDK lifecycle service"
            followed.record.log(Source.MANAGER, Level.INFO, f"attached to pid {info.pid} ({info.endpoint}; {sdk})")
        elif not error and before:
            followed.record.log(Source.MANAGER, Level.INFO, f"pid {info.pid} serves again")
        followed.record.report(ExternalHealth(error))

    def _checks_failed(self, followed: _Followed, line: str) -> None:
        """The checks stopped on an unexpected error (they run again after the backoff): said, and the state's."""
        if self._followed.get(followed.plugin_id) is not followed:
            return
        followed.record.log(Source.MANAGER, Level.ERROR, line)
        followed.health = line
        followed.record.report(ExternalHealth(line))

    def _say(self, level: Level, message: str) -> None:
        """The monitor's own line, of no one plugin (its folder, its own failure)."""
        publish_log(self.bus, "", level, message)
