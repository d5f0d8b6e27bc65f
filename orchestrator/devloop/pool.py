"""How many builds (and UI installs) run at once, and which goes next.

`serve` with 30 plugins started 30 `go build`s at once on 2 cores: each took as long as all of them, so the first
plugin was ready only just before the last. A manager's plugins share pools sized to the cores instead, and a
waiting build goes in by priority: the plugin saved last first (the author waits for that one), then the initial
builds in the order the plugins were added (the first of 30 is ready in seconds, not at the end).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import os
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

Priority = tuple[int, float]  # smaller goes first


def saved_priority(at: float) -> Priority:
    """A build after a save (or an asked-for rebuild) at monotonic time `at`: before any initial build, the
    latest save first."""
    return 0, -at


def added_priority(order: int) -> Priority:
    """An initial build (or a UI install) of the plugin added `order`-th: in the order the plugins were added."""
    return 1, float(order)


@dataclass(order=True)
class _Waiter:
    priority: Priority
    arrival: int  # equal priorities: first come, first served
    granted: asyncio.Future[None] = field(compare=False)


class PriorityPool:
    """At most `size` holders at once (None: no bound); a freed place goes to the waiter of smallest priority."""

    def __init__(self, size: int | None) -> None:
        self.size = size
        self.running = 0
        self._waiting: list[_Waiter] = []  # a heap
        self._arrivals = itertools.count()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @contextlib.asynccontextmanager
    async def slot(self, priority: Priority) -> AsyncIterator[None]:
        await self._acquire(priority)
        try:
            yield
        finally:
            self.running -= 1
            self._grant()

    def _free(self) -> bool:
        return self.size is None or self.running < self.size

    async def _acquire(self, priority: Priority) -> None:
        if self._free() and not self._waiting:
            self.running += 1
            return
        waiter = _Waiter(priority, next(self._arrivals), asyncio.get_running_loop().create_future())
        heapq.heappush(self._waiting, waiter)
        try:
            await waiter.granted
        except asyncio.CancelledError:
            if waiter.granted.done() and not waiter.granted.cancelled():  # granted as it was cancelled: pass it on
                self.running -= 1
                self._grant()
            else:
                self._waiting.remove(waiter)
                heapq.heapify(self._waiting)
            raise

    def _grant(self) -> None:
        while self._waiting and self._free():
            waiter = heapq.heappop(self._waiting)
            self.running += 1
            waiter.granted.set_result(None)


def pool_size(jobs: int | None) -> int:
    """`--jobs`, else one build per core."""
    return jobs if jobs is not None else os.cpu_count() or 1


@dataclass(frozen=True)
class Slots:
    """One plugin's way into the pools its manager shares among all its plugins."""

    builds: PriorityPool
    installs: PriorityPool
    order: int = 0  # the plugin's place in the order plugins were added

    def build(self, *, saved: bool) -> AbstractAsyncContextManager[None]:
        """A place for one Go build: `saved` after a save or an asked-for rebuild, else the initial build."""
        return self.builds.slot(saved_priority(time.monotonic()) if saved else added_priority(self.order))

    def install(self) -> AbstractAsyncContextManager[None]:
        """A place for getting the plugin's ui/ ready (dependencies installed, packages linked)."""
        return self.installs.slot(added_priority(self.order))


UNBOUNDED = Slots(PriorityPool(None), PriorityPool(None))  # a part run on its own (tests): never waits
