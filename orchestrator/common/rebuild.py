"""Small asyncio building blocks shared by the Go and UI rebuild loops."""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from orchestrator.common.tasks import ended, raise_failure

# how long watchfiles waits for more changes before handing over what it saw; the quiet period follows
WATCH_STEP_MS = 10
# seconds between looks at whether a watched folder is still the one the watcher was armed on
FOLDER_CHECK = 0.5

Batch = TypeVar("Batch")


async def wait_first(*awaitables: Awaitable[Any]) -> None:
    """Return when the first of them completes; the ones created here are cancelled (one that failed raises), tasks
    passed in are not."""
    tasks = [a if isinstance(a, asyncio.Future) else asyncio.ensure_future(a) for a in awaitables]
    own = [t for t, a in zip(tasks, awaitables, strict=True) if t is not a]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in own:
            task.cancel()
        await asyncio.gather(*own, return_exceptions=True)
        raise_failure(own)


@contextlib.asynccontextmanager
async def own_stop(stop: asyncio.Event) -> AsyncIterator[asyncio.Event]:
    """An event that `stop` sets, for watchfiles' `awatch`: a cancelled awatch sets the event it was given, and that
    must end the one watch, never everything else `stop` ends (a part that fails and runs again, its session)."""
    own = asyncio.Event()
    relay = asyncio.create_task(stop.wait())
    relay.add_done_callback(lambda _relay: own.set())
    try:
        yield own
    finally:
        await ended(relay)


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
            await ended(running)  # the old build is gone before the next starts
            if not stop.is_set():
                on_cancelled()
            continue
        if running.result():
            # installing and restarting may wait on a slow handshake: stopping must not wait for it
            follow_up = asyncio.ensure_future(on_success())
            await wait_first(follow_up, stop.wait())
            if not follow_up.done():
                await ended(follow_up)
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
        await ended(settler)


def folder_identity(folder: Path) -> tuple[int, int] | None:
    """Which folder is at that path now (device and inode), None when there is none."""
    try:
        info = os.stat(folder)
    except OSError:
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISDIR(info.st_mode) else None


async def stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


async def _mark_replaced(folder: Path, armed: tuple[int, int], stop: asyncio.Event, replaced: asyncio.Event,
                         check_every: float) -> None:
    while not await stopped_within(stop, check_every) and folder_identity(folder) == armed:
        pass
    replaced.set()


async def rearmed_watch(folder: Path, watch: Callable[[asyncio.Event], AsyncGenerator[Batch, None]],
                        stop: asyncio.Event, *, came_back: Batch, say: Callable[[str], None],
                        check_every: float = FOLDER_CHECK) -> AsyncIterator[Batch]:
    """The batches of `watch(its_stop)` on `folder`, across the folder being removed and made again.

    The OS watcher stays on the folder it was armed on: once that one is removed (or moved away), it reports
    nothing more, whatever appears at the path. So the folder at the path is looked at after every batch and
    every `check_every` seconds; when it is another one, the watcher is stopped and armed again on it, and
    `came_back` is yielded as a change (what the new folder holds is new). While there is none, one line says so.
    """
    armed = folder_identity(folder)
    while not stop.is_set():
        current = folder_identity(folder)
        if current is None:
            say(f"{folder} is gone: watching for it to come back")
            while (current := folder_identity(folder)) is None:
                if await stopped_within(stop, check_every):
                    return
            say(f"{folder} is back: watching it again")
        if current != armed:
            yield came_back
        armed = current
        replaced = asyncio.Event()  # the watcher's own stop: set on `stop` too
        looking = asyncio.create_task(_mark_replaced(folder, current, stop, replaced, check_every))
        try:
            async with contextlib.aclosing(watch(replaced)) as batches:
                async for batch in batches:
                    yield batch
                    if folder_identity(folder) != armed:
                        break
        finally:
            await ended(looking)
