"""Saying that something slow is still going (a first `go build`, a first UI install): a line every so often,
never a flood, so a minute of work is not a minute of silence."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Callable

from orchestrator.common.tasks import ended

PROGRESS_INTERVAL = 10.0  # seconds between two lines about the same slow work


@contextlib.asynccontextmanager
async def every(interval: float, tick: Callable[[float], None]) -> AsyncIterator[None]:
    """Call `tick(seconds since the start)` every `interval` seconds while the body runs (never after it)."""
    started = time.monotonic()

    async def ticking() -> None:
        for count in itertools.count(1):  # at whole intervals from the start, however long a tick took
            await asyncio.sleep(max(0.0, started + count * interval - time.monotonic()))
            tick(time.monotonic() - started)

    ticker = asyncio.create_task(ticking())
    try:
        yield
    finally:
        await ended(ticker)
