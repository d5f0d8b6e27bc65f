"""One plugin's dev-server state, its log ring, and the events the IDE subscribes to.

JSON names and status values are those of the IDE's Go types, so the events can be forwarded as they are.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

LOG_CAPACITY = 5000

EVENT_STATUS = "plugin/devserver/status"
EVENT_LOG = "plugin/devserver/log"
EVENT_ERROR = "plugin/devserver/error"


class Status(enum.StrEnum):
    IDLE = "idle"
    STARTING = "starting"
    BUILDING = "building"
    READY = "ready"
    ERROR = "error"
    STOPPED = "stopped"


class Source(enum.StrEnum):
    """Where a log line comes from (the IDE's sources, plus the plugin process's own output)."""

    VITE = "vite"
    GO_BUILD = "go-build"
    GO_WATCH = "go-watch"
    MANAGER = "manager"
    PLUGIN = "plugin"


class Level(enum.StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARN = "warn"
    ERROR = "error"


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class DevState:
    pluginID: str
    devPath: str
    mode: str = "managed"
    vitePort: int = 0
    viteURL: str = ""  # only while Vite is ready
    viteStatus: Status = Status.IDLE
    goStatus: Status = Status.IDLE
    lastBuildDuration: int = 0  # nanoseconds
    lastBuildTime: str = ""
    lastError: str = ""
    grpcConnected: bool = False  # only while the health check passes

    def to_json(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Status) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class LogEntry:
    timestamp: str
    source: Source
    level: Level
    message: str
    pluginID: str

    def to_json(self) -> dict[str, Any]:
        return {"timestamp": self.timestamp, "source": str(self.source), "level": str(self.level),
                "message": self.message, "pluginID": self.pluginID}


@dataclass(frozen=True)
class BuildError:
    file: str  # absolute
    line: int
    column: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


@dataclass(frozen=True)
class Event:
    name: str
    plugin_id: str
    payload: Any

    def to_json(self) -> dict[str, Any]:
        return {"event": self.name, "pluginID": self.plugin_id, "data": self.payload}


class EventBus:
    """Fan-out of events to any number of subscribers (printer, API streams, tests)."""

    def __init__(self) -> None:
        self._queues: list[asyncio.Queue[Event]] = []

    def subscribe(self) -> asyncio.Queue[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._queues.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        if queue in self._queues:
            self._queues.remove(queue)

    def publish(self, event: Event) -> None:
        for queue in self._queues:
            queue.put_nowait(event)


@dataclass
class Instance:
    """The state of one plugin under development; every change is published as an event."""

    state: DevState
    bus: EventBus
    logs: deque[LogEntry] = field(default_factory=lambda: deque(maxlen=LOG_CAPACITY))

    @property
    def plugin_id(self) -> str:
        return self.state.pluginID

    def update(self, **changes: Any) -> None:
        new = replace(self.state, **changes)
        if new != self.state:
            self.state = new
            self.bus.publish(Event(EVENT_STATUS, self.plugin_id, new.to_json()))

    def log(self, source: Source, message: str, level: Level = Level.INFO) -> None:
        entry = LogEntry(now_rfc3339(), source, level, message, self.plugin_id)
        self.logs.append(entry)
        self.bus.publish(Event(EVENT_LOG, self.plugin_id, [entry.to_json()]))

    def report_errors(self, errors: list[BuildError]) -> None:
        payload = {"pluginID": self.plugin_id, "errors": [asdict(e) for e in errors]}
        self.bus.publish(Event(EVENT_ERROR, self.plugin_id, payload))

    def recent_logs(self, count: int = 0) -> list[LogEntry]:
        """The last `count` entries; every kept entry when count <= 0."""
        entries = list(self.logs)
        return entries if count <= 0 else entries[-count:]
