"""The events published about plugins and plugindev itself, typed (the IDE's names and JSON are made only by the
outputs: `--json`, the event stream), and the bus that fans them out to the printer, the API's history and
streams alike."""

from __future__ import annotations

import asyncio
import enum
import itertools
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Generic, TypeVar

from orchestrator.model.state import DevState, now_rfc3339

LOG_CAPACITY = 5000  # log entries kept per plugin
# ... holding at most this many characters of messages: a line is cut at 16 KiB (orchestrator.common.lines), yet
# 5000 such lines would still hold 80 MB per plugin
LOG_BUDGET = 4 << 20
# what a subscriber may have waiting, in events and in characters of log messages; past either it is caught up by
# the publisher or dropped (EventBus)
SUBSCRIBER_BOUND = 2000
SUBSCRIBER_BUDGET = 1 << 20

EVENT_STATUS = "plugin/devserver/status"
EVENT_LOG = "plugin/devserver/log"
EVENT_ERROR = "plugin/devserver/error"
EVENT_SYSTEM = "plugindev/system"  # plugindev's own message to its user
EVENT_DROPPED = "plugindev/dropped"  # the last event of a subscriber that fell too far behind

T = TypeVar("T")


class Source(enum.StrEnum):
    """Where a log line comes from (the IDE's sources, plus the plugin process's own output)."""

    VITE = "vite"
    GO_BUILD = "go-build"
    GO_WATCH = "go-watch"
    MANAGER = "manager"
    PLUGIN = "plugin"
    TSC = "tsc"  # the TypeScript check beside Vite


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
    source: str = "go"  # what found it: "go" (go build) or "tsc" (the TypeScript check)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


# -- what is published: typed, turned into the IDE's JSON only by the outputs (--json, SSE) ------------------


@dataclass(frozen=True)
class StatusChanged:
    """A plugin's state after a change (the whole state)."""

    state: DevState
    name: ClassVar[str] = EVENT_STATUS

    @property
    def plugin_id(self) -> str:
        return self.state.pluginID

    def to_json(self) -> dict[str, Any]:
        return self.state.to_json()


@dataclass(frozen=True)
class LogAppended:
    """One log line of a plugin, or of plugindev itself when its pluginID is "" (its saved set, its records)."""

    entry: LogEntry
    name: ClassVar[str] = EVENT_LOG

    @property
    def plugin_id(self) -> str:
        return self.entry.pluginID

    def to_json(self) -> list[dict[str, Any]]:
        return [self.entry.to_json()]  # the IDE's log event holds a list of entries


@dataclass(frozen=True)
class BuildErrors:
    """A plugin's current errors, of every source (the last Go build, the last type check); none: nothing is
    wrong (a good build and check). Each error's `source` tells them apart."""

    plugin_id: str
    errors: tuple[BuildError, ...]
    name: ClassVar[str] = EVENT_ERROR

    def to_json(self) -> dict[str, Any]:
        return {"pluginID": self.plugin_id, "errors": [asdict(error) for error in self.errors]}


@dataclass(frozen=True)
class SystemMessage:
    """What plugindev tells its user about itself (the leftovers it ended, where its API and dashboard are, that
    it stops), of no one plugin."""

    message: str
    name: ClassVar[str] = EVENT_SYSTEM
    plugin_id: ClassVar[str] = ""

    def to_json(self) -> dict[str, Any]:
        return {"tag": "system", "message": self.message}


@dataclass(frozen=True)
class Dropped:
    """The last event of a subscriber that fell too far behind (made by the bus only)."""

    reason: str
    name: ClassVar[str] = EVENT_DROPPED
    plugin_id: ClassVar[str] = ""

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason}


Published = StatusChanged | LogAppended | BuildErrors | SystemMessage
Payload = Published | Dropped


@dataclass(frozen=True)
class Event:
    payload: Payload
    id: int = 0  # given by the bus, increasing: a stream resumes after the last id it saw

    @property
    def name(self) -> str:
        return self.payload.name

    @property
    def plugin_id(self) -> str:
        return self.payload.plugin_id

    def to_json(self) -> dict[str, Any]:
        """The event as `--json` prints it (an SSE frame carries its name, `payload.to_json()` and id)."""
        return {"event": self.name, "pluginID": self.plugin_id, "data": self.payload.to_json(), "id": self.id}


class LogRing(Generic[T]):
    """The newest kept items, at most `capacity` of them and at most `budget` of their summed `size`."""

    def __init__(self, size: Callable[[T], int], capacity: int = LOG_CAPACITY, budget: int = LOG_BUDGET) -> None:
        self._items: deque[T] = deque()
        self._size = size
        self._capacity = capacity
        self._budget = budget
        self._used = 0

    def append(self, item: T) -> None:
        self._items.append(item)
        self._used += self._size(item)
        while len(self._items) > self._capacity or (self._used > self._budget and len(self._items) > 1):
            self._used -= self._size(self._items.popleft())

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)


def entry_size(entry: LogEntry) -> int:
    return len(entry.message)


def message_chars(event: Event) -> int:
    """The characters of log messages an event holds (the part of it a plugin's output can make large)."""
    return len(event.payload.entry.message) if isinstance(event.payload, LogAppended) else 0


class _Backlog(asyncio.Queue[Event]):
    """One subscriber's waiting events: full at `maxsize` events or at `budget` characters of log messages."""

    def __init__(self, maxsize: int, budget: int, handle: Callable[[Event], None] | None) -> None:
        super().__init__(maxsize)
        self.budget = budget
        self.handle = handle
        self.chars = 0

    def _put(self, item: Event) -> None:
        super()._put(item)
        self.chars += message_chars(item)

    def _get(self) -> Event:
        item = super()._get()
        self.chars -= message_chars(item)
        return item

    def full(self) -> bool:
        return super().full() or self.chars >= self.budget


class EventBus:
    """Fan-out of events to any number of subscribers (printer, API history and streams, tests).

    What each subscriber has waiting is bounded (`bound` events, `budget` characters of log messages), so no reader,
    however slow, makes plugindev grow. One that falls that far behind is either caught up at once by the publisher,
    when it gave a `handle` (the printer, the API's history: what they must not lose), or dropped (an event stream:
    its client resumes from the history with `Last-Event-ID`), its queue then holding one last EVENT_DROPPED event
    that says so.
    """

    def __init__(self, first_id: int = 1) -> None:
        self._backlogs: list[_Backlog] = []
        self._ids = itertools.count(first_id)

    def subscribe(self, handle: Callable[[Event], None] | None = None, bound: int = SUBSCRIBER_BOUND,
                  budget: int = SUBSCRIBER_BUDGET) -> asyncio.Queue[Event]:
        backlog = _Backlog(bound, budget, handle)
        self._backlogs.append(backlog)
        return backlog

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        """An event stream whose client left."""
        self._backlogs = [backlog for backlog in self._backlogs if backlog is not queue]

    def publish(self, payload: Published) -> None:
        stamped = Event(payload, next(self._ids))
        for backlog in list(self._backlogs):
            if backlog.full():
                if backlog.handle is None:
                    self._drop(backlog)
                    continue
                # Backpressure, as a blocking write would give: the publisher (a pump reading a plugin's output)
                # does the subscriber's work now, so the plugin waits on its pipe and no line is lost.
                while not backlog.empty():
                    backlog.handle(backlog.get_nowait())
            backlog.put_nowait(stamped)

    def _drop(self, backlog: _Backlog) -> None:
        self._backlogs.remove(backlog)
        while not backlog.empty():  # freed now: a stream resumes them from the history
            backlog.get_nowait()
        reason = (f"this subscriber fell too far behind ({backlog.maxsize} events or {backlog.budget} characters of "
                  "logs waiting) and was dropped; reconnect with Last-Event-ID to resume from the kept events")
        backlog.put_nowait(Event(Dropped(reason)))


def publish_log(bus: EventBus, plugin_id: str, level: Level, message: str) -> None:
    """One log line that no record keeps: plugindev's own (`plugin_id` "": its saved set, its process records, the
    external monitor's folder), or about a plugin nothing follows (a stale `.devinfo` the monitor removed)."""
    bus.publish(LogAppended(LogEntry(now_rfc3339(), Source.MANAGER, level, message, plugin_id)))
