"""The events a plugin's session publishes (the IDE's names), and the bus that fans them out to the printer,
`--json` and the API alike."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
from dataclasses import asdict, dataclass, replace
from typing import Any

LOG_CAPACITY = 5000  # log entries kept per plugin

EVENT_STATUS = "plugin/devserver/status"
EVENT_LOG = "plugin/devserver/log"
EVENT_ERROR = "plugin/devserver/error"


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
    id: int = 0  # given by the bus, increasing: a stream resumes after the last id it saw

    def to_json(self) -> dict[str, Any]:
        return {"event": self.name, "pluginID": self.plugin_id, "data": self.payload, "id": self.id}


def errors_payload(plugin_id: str, errors: list[BuildError]) -> dict[str, Any]:
    return {"pluginID": plugin_id, "errors": [asdict(e) for e in errors]}


class EventBus:
    """Fan-out of events to any number of subscribers (printer, API history and streams, tests)."""

    def __init__(self, first_id: int = 1) -> None:
        self._queues: list[asyncio.Queue[Event]] = []
        self._ids = itertools.count(first_id)

    def subscribe(self) -> asyncio.Queue[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._queues.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        """An event stream whose client left."""
        with contextlib.suppress(ValueError):
            self._queues.remove(queue)

    def publish(self, event: Event) -> None:
        stamped = replace(event, id=next(self._ids))
        for queue in self._queues:
            queue.put_nowait(stamped)
