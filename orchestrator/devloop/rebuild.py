"""Small asyncio building blocks shared by the Go and UI rebuild loops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

# how long watchfiles waits for more changes before handing over what it saw; the quiet period follows
WATCH_STEP_MS = 10


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
            # installing and restarting may wait on a slow handshake: stopping must not wait for it
            follow_up = asyncio.ensure_future(on_success())
            await wait_first(follow_up, stop.wait())
            if not follow_up.done():
                follow_up.cancel()
                await asyncio.gather(follow_up, return_exceptions=True)
                return
            follow_up.result()


async def trailing_debounce(batches: AsyncIterator[Any], quiet: float, trigger: asyncio.Event,
                            on_batch: Callable[[Any], None] = lambda _batch: None) -> None:
    """Set `trigger` once `quiet` seconds have passed since the last batch of changes: one timer in all.

    watchfiles' own grouping cannot serve as the quiet period: it deduplicates a burst of saves of one file
    into a single unchanged entry and yields early.
    """
    loop = asyncio.get_running_loop()
    pending = asyncio.Event()
    last = 0.0

    async def settle() -> None:
        while True:
            await pending.wait()
            while (delay := last + quiet - loop.time()) > 0:
                await asyncio.sleep(delay)
            pending.clear()
            trigger.set()

    settler = asyncio.create_task(settle())
    try:
        async for batch in batches:
            last = loop.time()
            on_batch(batch)
            pending.set()
    finally:
        settler.cancel()
        await asyncio.gather(settler, return_exceptions=True)
