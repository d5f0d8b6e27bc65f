"""Tasks plugindev starts, none of whose failures goes unseen.

asyncio keeps the exception of a task that nobody awaits, and at best logs it when the task is collected: the
part it ran is then simply gone. So every task plugindev starts is awaited by something that restarts it
(orchestrator.devloop.supervisor.keep_running), or made by `watched_task`, which turns its failure into one line
for the author; a helper task is ended with `ended`, which raises a failure it met instead of dropping it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

from orchestrator.common.errors import PlugindevError

CAUSE_LIMIT = 300  # characters of an exception's own message in a line

Say = Callable[[str], None]
"""Where a failure's one line goes (an `error` log entry, and the plugin's lastError where there is one)."""

T = TypeVar("T")


class UnexpectedFailure(PlugindevError):
    """A part stopped on an unexpected error where plugindev does not restart it (`run` of one plugin): the
    command ends with its line."""


def first_leaf(error: BaseException) -> BaseException:
    """Task groups nest (session, part): the author needs the one error at the bottom."""
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


def failure_line(what: str, error: BaseException) -> str:
    """`<what> stopped on an unexpected error: OSError: [Errno 28] No space left on device: '…'`, on one line."""
    leaf = first_leaf(error)
    message = " ".join(str(leaf).split())
    if len(message) > CAUSE_LIMIT:
        message = message[:CAUSE_LIMIT - 1] + "…"
    cause = f"{type(leaf).__name__}: {message}" if message else type(leaf).__name__
    return f"{what} stopped on an unexpected error: {cause}"


def watched_task(coro: Coroutine[Any, Any, T], what: str, say: Say) -> asyncio.Task[T]:
    """`asyncio.create_task` for a task nobody awaits for its outcome: a failure of it becomes `say`'s line."""
    task = asyncio.create_task(coro, name=what)

    def said(finished: asyncio.Task[T]) -> None:
        if not finished.cancelled() and (error := finished.exception()) is not None:
            say(failure_line(what, error))

    task.add_done_callback(said)
    return task


def raise_failure(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Raise the first failure among these tasks that are over (a cancellation is none)."""
    for task in tasks:
        if task.done() and not task.cancelled() and (error := task.exception()) is not None:
            raise error


async def ended(task: asyncio.Future[Any]) -> None:
    """Cancel a helper task and wait until it is over; a failure it met before is raised, not lost."""
    task.cancel()
    await asyncio.wait([task])
    raise_failure([task])
