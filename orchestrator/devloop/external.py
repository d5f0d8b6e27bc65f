"""External mode, the host side of `.devinfo`: plugins that something else runs (`plugindev run` elsewhere, the
SDK's own dev mode, air, a shell script) are found through `<state root>/plugins/*/.devinfo`, checked over gRPC
and shown with `mode: external`. The monitor only ever reads and connects: it never stops a plugin.

One asyncio task watches the folder (watchfiles), and one task per attached process checks its health every
`interval` seconds, at once when its connection drops, and removes the file once the process is gone.
"""

from __future__ import annotations

import asyncio
import signal
from collections import deque
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.devloop.devinfo import DEVINFO
from orchestrator.devloop.events import EVENT_LOG, EVENT_STATUS, LOG_CAPACITY, Event, EventBus, Level, LogEntry, Source
from orchestrator.devloop.external_checks import check_until_gone
from orchestrator.devloop.external_devinfo import (
    DevinfoRejected,
    ExternalDevinfo,
    external_state,
    parse_devinfo,
    process_gone,
    rejected_state,
)
from orchestrator.devloop.printer import Printer
from orchestrator.devloop.registry import check_state_root
from orchestrator.devloop.state import DevState, SessionStopped, apply_change, now_rfc3339


@dataclass
class _Followed:
    """One plugin folder whose `.devinfo` the monitor follows."""

    plugin_id: str
    raw: bytes  # the file as last read
    state: DevState
    info: ExternalDevinfo | None = None  # None: the file was rejected
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
        self._logs: dict[str, deque[LogEntry]] = {}
        self._checks: set[asyncio.Task[None]] = set()  # also those cancelled and still closing their connection

    # -- what serve and the API read ------------------------------------------------------------------------
    def states(self) -> dict[str, DevState]:
        return {plugin_id: followed.state for plugin_id, followed in self._followed.items()}

    def devinfo(self, plugin_id: str) -> dict[str, Any] | None:
        followed = self._followed.get(plugin_id)
        return dict(followed.info.data) if followed and followed.info else None

    def logs(self, plugin_id: str, count: int = 0) -> list[LogEntry]:
        entries = list(self._logs.get(plugin_id, ()))
        return entries if count <= 0 else entries[-count:]

    # -- watching ---------------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Follow the files until `stop` is set; then every check ends and every connection is closed."""
        from watchfiles import awatch  # the Rust watcher loads on first use

        self.plugins_dir.mkdir(parents=True, exist_ok=True)  # watched before any plugin writes there
        # `step`: a batch is handed over once nothing changed for `settle`, so a file is read once written; on a
        # quiet timeout every folder is looked at again (a safety net for events the OS watcher missed).
        batches = awatch(self.plugins_dir, watch_filter=self._relevant, step=max(1, round(self.settle * 1000)),
                         debounce=max(1000, round(self.settle * 4000)), rust_timeout=round(self.interval * 1000),
                         yield_on_timeout=True, stop_event=stop)
        first = asyncio.ensure_future(anext(batches))
        await asyncio.sleep(0)  # the generator's first step starts the OS watcher (awatch awaits nothing before)
        try:
            self._reconcile_all()  # what was there before the watch began
            batch = await first
            while True:
                if batch:
                    self._reconcile(sorted({self._folder_of(path) for _, path in batch}))
                else:
                    self._reconcile_all()
                batch = await anext(batches)
        except StopAsyncIteration:
            pass  # `stop` was set
        finally:
            first.cancel()
            checks = list(self._checks)
            for task in checks:
                task.cancel()
            await asyncio.gather(*checks, return_exceptions=True)

    def _folder_of(self, path: str) -> str:
        return Path(path).relative_to(self.plugins_dir).parts[0]

    def _relevant(self, _change: object, path: str) -> bool:
        """A plugin folder itself (created or removed), or the `.devinfo` inside one."""
        try:
            parts = Path(path).relative_to(self.plugins_dir).parts
        except ValueError:
            return False
        return len(parts) == 1 or (len(parts) == 2 and parts[1] == DEVINFO)

    def _reconcile_all(self) -> None:
        folders = {entry.name for entry in self.plugins_dir.iterdir() if entry.is_dir()}
        self._reconcile(sorted(folders | set(self._followed)))

    def _reconcile(self, plugin_ids: Iterable[str]) -> None:
        managed = self.managed()
        for plugin_id in plugin_ids:
            if plugin_id in managed:
                self._drop(plugin_id)  # plugindev's own session reports this one
            else:
                self._read(plugin_id)

    def _read(self, plugin_id: str) -> None:
        """Make what the monitor follows for `plugin_id` agree with its `.devinfo` on disk."""
        path = self.plugins_dir / plugin_id / DEVINFO
        followed = self._followed.get(plugin_id)
        try:
            raw = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            if followed is not None:
                what = f"pid {followed.info.pid}" if followed.info else "the rejected file"
                self._forget(followed, f"{path} was removed: no longer following {what}")
            return
        except OSError as exc:
            raw = f"unreadable: {exc}".encode()  # compared like content: reported once until it changes
            self._reject(plugin_id, raw, f"{path}: cannot be read ({exc.strerror or exc})")
            return
        if followed is not None and followed.raw == raw:
            return
        try:
            info = parse_devinfo(raw, plugin_id)
        except DevinfoRejected as exc:
            self._reject(plugin_id, raw, f"{path} rejected: {exc}")
            return
        gone = process_gone(info)
        if gone:
            self._remove_stale(plugin_id, raw, gone)
        else:
            self._attach(plugin_id, raw, info)

    def _attach(self, plugin_id: str, raw: bytes, info: ExternalDevinfo) -> None:
        followed = self._followed.get(plugin_id)
        if followed is not None and followed.info is not None and followed.info.same_process(info):
            followed.raw, followed.info = raw, info  # rewritten for the same process: the checks go on
            self._set_state(followed, external_state(info, followed.health))
            return
        if followed is not None:
            _end_checks(followed)  # the task closes the old connection
        previous = f" (was pid {followed.info.pid})" if followed is not None and followed.info else ""
        self.log(plugin_id, Level.INFO, f"found pid {info.pid} ({info.endpoint}){previous}: connecting")
        followed = self._followed[plugin_id] = _Followed(plugin_id, raw, external_state(info, None), info)
        self.bus.publish(Event(EVENT_STATUS, plugin_id, followed.state.to_json()))
        followed.checks = asyncio.create_task(check_until_gone(
            info, self.interval, lambda error, lifecycle: self._health_checked(followed, error, lifecycle),
            lambda why: self._remove_stale(plugin_id, followed.raw, why)))
        self._checks.add(followed.checks)
        followed.checks.add_done_callback(self._checks.discard)

    def _reject(self, plugin_id: str, raw: bytes, reason: str) -> None:
        followed = self._followed.get(plugin_id)
        if followed is not None:
            _end_checks(followed)
        self.log(plugin_id, Level.ERROR, reason)
        state = rejected_state(plugin_id, reason)
        if followed is None:
            followed = self._followed[plugin_id] = _Followed(plugin_id, raw, state)
            self.bus.publish(Event(EVENT_STATUS, plugin_id, state.to_json()))
        else:
            followed.raw, followed.info, followed.health, followed.checks = raw, None, None, None
            self._set_state(followed, state)

    def _remove_stale(self, plugin_id: str, raw: bytes, reason: str) -> None:
        """The file names a process that is gone: remove it, unless someone rewrote it since it was read."""
        path = self.plugins_dir / plugin_id / DEVINFO
        try:
            if path.read_bytes() != raw:
                self._read(plugin_id)  # a new file arrived meanwhile: that one counts
                return
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            self._reject(plugin_id, raw, f"{path}: {reason}, and the file cannot be removed ({exc.strerror or exc})")
            return
        message = f"{reason}: removed {path}"
        followed = self._followed.get(plugin_id)
        if followed is None:
            self.log(plugin_id, Level.INFO, message)
        else:
            self._forget(followed, message)

    def _forget(self, followed: _Followed, message: str) -> None:
        """Stop following: one last status ("stopped"), then the plugin leaves `states()`."""
        self.log(followed.plugin_id, Level.INFO, message)
        self._set_state(followed, apply_change(followed.state, SessionStopped()))
        self._drop(followed.plugin_id)

    def _drop(self, plugin_id: str) -> None:
        followed = self._followed.pop(plugin_id, None)
        if followed is not None:
            _end_checks(followed)

    # -- checking one process -----------------------------------------------------------------------------
    def _health_checked(self, followed: _Followed, error: str, lifecycle: bool) -> None:
        assert followed.info is not None
        info, before = followed.info, followed.health
        followed.health = error
        if error and before != error:
            self.log(followed.plugin_id, Level.WARN, f"pid {info.pid}: {error}")
        elif not error and before is None:
            sdk = "the SDK's lifecycle service serves" if lifecycle else "no SDK lifecycle service"
            self.log(followed.plugin_id, Level.INFO, f"attached to pid {info.pid} ({info.endpoint}; {sdk})")
        elif not error and before:
            self.log(followed.plugin_id, Level.INFO, f"pid {info.pid} serves again")
        self._set_state(followed, external_state(info, error))

    # -- reporting --------------------------------------------------------------------------------------------
    def _set_state(self, followed: _Followed, state: DevState) -> None:
        if state != followed.state:
            followed.state = state
            self.bus.publish(Event(EVENT_STATUS, followed.plugin_id, state.to_json()))

    def log(self, plugin_id: str, level: Level, message: str) -> None:
        entry = LogEntry(now_rfc3339(), Source.MANAGER, level, message, plugin_id)
        self._logs.setdefault(plugin_id, deque(maxlen=LOG_CAPACITY)).append(entry)
        self.bus.publish(Event(EVENT_LOG, plugin_id, [entry.to_json()]))


async def watch_external(state_root: Path, printer: Printer) -> None:
    """`plugindev watch-external`: the monitor alone, its events printed, until SIGINT/SIGTERM."""
    check_state_root(state_root)
    bus = EventBus()
    monitor = ExternalMonitor(state_root, bus)
    printer.show_plugin = True
    queue = bus.subscribe()
    printing = asyncio.create_task(printer.run(queue))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    printer.line("system", f"watching {monitor.plugins_dir}/*/{DEVINFO} (Ctrl+C stops; plugins keep running)")
    try:
        await monitor.run(stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        while not queue.empty():
            printer.handle(queue.get_nowait())
        printing.cancel()
