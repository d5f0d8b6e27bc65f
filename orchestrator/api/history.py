"""The events a stream can resume from: per plugin its 5000 last log entries (within the log ring's size budget),
and its recent other events (status, errors; plugindev's own messages under ""), all in the bus's id order. A
client that reconnects with `Last-Event-ID` gets every retained event after that id, then the live ones, with
nothing lost or repeated in between."""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import Iterable

from orchestrator.model.events import Event, EventBus, LogAppended, LogRing, message_chars

_OTHER_CAPACITY = 200  # other events kept per plugin (status: the latest one says the state; errors; plugindev's)


class EventHistory:
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self._queue = bus.subscribe(self.keep)  # kept however late `run` gets its turn
        self._logs: defaultdict[str, LogRing[Event]] = defaultdict(lambda: LogRing(message_chars))
        self._other: defaultdict[str, deque[Event]] = defaultdict(lambda: deque(maxlen=_OTHER_CAPACITY))

    async def run(self) -> None:
        while True:
            self.keep(await self._queue.get())

    def keep(self, event: Event) -> None:
        (self._logs if isinstance(event.payload, LogAppended) else self._other)[event.plugin_id].append(event)

    def catch_up(self) -> None:
        """Take what the bus delivered but `run` has not seen yet (a stream must not miss it)."""
        while not self._queue.empty():
            self.keep(self._queue.get_nowait())

    def since(self, last_id: int) -> list[Event]:
        self.catch_up()
        rings: list[Iterable[Event]] = [*self._logs.values(), *self._other.values()]
        kept = [e for ring in rings for e in ring if e.id > last_id]
        return sorted(kept, key=lambda e: e.id)

    def subscribe(self) -> asyncio.Queue[Event]:
        """A stream's live events: dropped once it falls behind, as its client resumes from here."""
        return self.bus.subscribe()
