"""The one owner of a plugin's state: its `DevState`, moved only by `Change`s, its kept log, and the events
that say both. A managed plugin's session and the external monitor each keep one per plugin."""

from __future__ import annotations

from orchestrator.model.events import (
    BuildError,
    BuildErrors,
    EventBus,
    Level,
    LogAppended,
    LogEntry,
    LogRing,
    Source,
    StatusChanged,
    entry_size,
)
from orchestrator.model.state import Change, DevState, apply_change, now_rfc3339


class PluginRecord:
    def __init__(self, bus: EventBus, state: DevState) -> None:
        self.bus = bus
        self._state = state
        self.logs: LogRing[LogEntry] = LogRing(entry_size)  # bounded in entries and in characters
        self._errors: dict[str, tuple[BuildError, ...]] = {}  # each source's last errors

    @property
    def state(self) -> DevState:
        return self._state

    @property
    def plugin_id(self) -> str:
        return self._state.pluginID

    def report(self, change: Change) -> bool:
        """Apply `change`; whether the state changed (and so was published)."""
        new = apply_change(self._state, change)
        if new == self._state:
            return False
        self._state = new
        self.bus.publish(StatusChanged(new))
        return True

    def log(self, source: Source, level: Level, message: str) -> None:
        entry = LogEntry(now_rfc3339(), source, level, message, self.plugin_id)
        self.logs.append(entry)
        self.bus.publish(LogAppended(entry))

    def report_errors(self, source: str, errors: list[BuildError]) -> None:
        """`source`'s errors now (none: fixed); the event holds those of every source, so a reader that knows no
        sources (the IDE) always has them all. Said unless there were none and are none."""
        before, self._errors[source] = self._errors.get(source, ()), tuple(errors)
        if before or errors:
            self.bus.publish(BuildErrors(self.plugin_id, tuple(e for kept in self._errors.values() for e in kept)))

    def recent_logs(self, count: int = 0) -> list[LogEntry]:
        """The last `count` entries; every kept entry when count <= 0."""
        entries = list(self.logs)
        return entries if count <= 0 else entries[-count:]
