"""The one backoff policy for everything plugindev restarts, and `keep_running`, which applies it to plugindev's own
tasks (a plugin's parts and session, the external monitor, the printer): one that stops on an unexpected error
is said in one line and run again after the backoff."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from orchestrator.common.durations import seconds_text
from orchestrator.common.errors import PlugindevError
from orchestrator.common.rebuild import stopped_within
from orchestrator.common.tasks import Say, UnexpectedFailure, failure_line, first_leaf


@dataclass(frozen=True)
class Backoff:
    """Waits before restarting something that keeps exiting; a run longer than `stable_after` starts over."""

    delays: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0)
    stable_after: float = 10.0

    def delay(self, failures: int) -> float:
        return self.delays[min(failures, len(self.delays) - 1)]


BACKOFF = Backoff()


async def keep_running(what: str, run: Callable[[], Awaitable[None]], say: Say, *, stop: asyncio.Event | None = None,
                       policy: Backoff = BACKOFF, restart: Callable[[], bool] = lambda: True) -> None:
    """`run()` until it returns; when it stops on an unexpected error, one `say` line names `what` and the cause,
    and it runs again after the policy's delay (`stop`, once set, ends the wait and the restarts).

    A PlugindevError is no unexpected error (the author has something to fix): it ends this as it ends `run`. So
    does an unexpected error when `restart()` says no, raised as UnexpectedFailure with the same line.
    """
    loop = asyncio.get_running_loop()
    failures = 0
    while True:
        began = loop.time()
        try:
            await run()
            return
        except Exception as exc:
            if isinstance(first_leaf(exc), PlugindevError):
                raise
            line = failure_line(what, exc)
            if not restart():
                raise UnexpectedFailure(line) from exc
        if stop is not None and stop.is_set():
            say(line)  # stopping anyway: nothing to restart
            return
        if loop.time() - began > policy.stable_after:
            failures = 0
        delay = policy.delay(failures)
        failures += 1
        say(f"{line}; restarting it in {seconds_text(delay)}")
        if stop is None:
            await asyncio.sleep(delay)
        elif await stopped_within(stop, delay):
            return
