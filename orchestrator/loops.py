"""Small asyncio building blocks shared by the Go and UI rebuild loops."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


async def wait_first(*awaitables: Awaitable[Any]) -> None:
    """Return when the first of them completes; the ones created here are cancelled, tasks passed in are not."""
    tasks = [a if isinstance(a, asyncio.Future) else asyncio.ensure_future(a) for a in awaitables]
    own = [t for t, a in zip(tasks, awaitables, strict=True) if t is not a]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in own:
            task.cancel()
        await asyncio.gather(*own, return_exceptions=True)


async def rebuild_loop(trigger: asyncio.Event, stop: asyncio.Event, build: Callable[[], Awaitable[bool]],
                       on_success: Callable[[], Awaitable[None]], on_cancelled: Callable[[], None]) -> None:
    """One build at a time: a trigger during a build cancels it, and exactly one more build follows.

    `trigger` is set by the watcher (and once by the caller for the initial build).
    """
    while True:
        await wait_first(trigger.wait(), stop.wait())
        if stop.is_set():
            return
        trigger.clear()
        running = asyncio.ensure_future(build())
        await wait_first(running, trigger.wait(), stop.wait())
        if not running.done():
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)  # the old build is gone before the next starts
            if not stop.is_set():
                on_cancelled()
            continue
        if running.result():
            await on_success()
