"""The one supervisor for everything plugindev keeps running (the Vite dev server, the plugin process).

A supervisor keeps at most one instance alive. It starts one when asked (`restart()`), restarts it with the
backoff policy when it exits on its own, and stops it when asked again or when the stop event is set. What it
sees is reported through callbacks; it knows nothing of what it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from orchestrator.common.errors import PlugindevError
from orchestrator.common.rebuild import wait_first
from orchestrator.common.supervision import BACKOFF, Backoff
from orchestrator.common.tasks import Say, ended, watched_task


class Running(Protocol):
    async def wait(self) -> int: ...

    async def stop(self) -> object: ...


R = TypeVar("R", bound=Running)


@dataclass
class Callbacks(Generic[R]):
    started: Callable[[R], Awaitable[None]]  # the new instance serves (runs before anything else happens)
    start_failed: Callable[[PlugindevError], None]  # `current` tells whether an older one still serves
    exited: Callable[[R, int, float], None]  # the instance, its exit code, seconds until the restart
    stopped: Callable[[R, bool], None]  # stopped by the supervisor; True: replaced by a newer one
    unexpected: Say  # a replaced instance's handover, in the background, stopped on an unexpected error
    # e.g. health checks, until cancelled when the instance goes; an unexpected error in it is the supervisor's
    while_up: Callable[[R], Awaitable[None]] | None = None


class Supervisor(Generic[R]):
    """Keeps one instance made by `start()` alive.

    `fatal_until_up`: a start that fails before any instance ever came up raises (the author must fix
    something first, e.g. a broken Vite config). Otherwise a failed start after an exit is retried with
    backoff, and a failed start that was asked for waits for the next request.

    `overlap`: a restart starts the new instance while the old one serves, and stops the old one only once
    the new one is up (or keeps the old one when the new one fails): no moment without a live instance.
    `handover` (with `overlap`): the replaced instance keeps serving that many seconds after its successor
    took over (`started` returned), in the background: the successor serves, and is replaced, meanwhile.
    """

    def __init__(self, start: Callable[[], Awaitable[R]], callbacks: Callbacks[R], *, name: str,
                 policy: Backoff = BACKOFF, fatal_until_up: bool = False, overlap: bool = False,
                 handover: float = 0.0) -> None:
        self.name = name  # what it runs, for the author: "the plugin process"
        self._start = start
        self._callbacks = callbacks
        self._policy = policy
        self._fatal_until_up = fatal_until_up
        self._overlap = overlap
        self._handover = handover
        self._retiring: set[asyncio.Task[None]] = set()  # replaced instances still in their handover
        self._wanted = asyncio.Event()
        self._ever_up = False
        self._failures = 0
        self.current: R | None = None

    def restart(self) -> None:
        """Start an instance, or replace the running one, as soon as possible (no backoff)."""
        self._failures = 0
        self._wanted.set()

    async def run(self, stop: asyncio.Event) -> None:
        retrying = False  # a restart after an exit: a failed start is retried too
        try:
            while True:
                await wait_first(self._wanted.wait(), stop.wait())
                if stop.is_set():
                    return
                asked = self._wanted.is_set() and not retrying
                self._wanted.clear()
                try:
                    instance = await self._start_racing(stop)
                except PlugindevError as exc:
                    self._callbacks.start_failed(exc)
                    if self._fatal_until_up and not self._ever_up:
                        raise
                    if not asked or retrying:
                        retrying = await self._back_off(stop)
                    continue
                if instance is None:
                    return
                retrying = False
                self._ever_up = True
                self.current = instance
                await self._callbacks.started(instance)
                retrying = await self._serve(stop)
        finally:
            if self.current is not None:
                instance, self.current = self.current, None
                await instance.stop()
                self._callbacks.stopped(instance, False)
            # stop cuts their handover short; a failure of one is said by its task
            await asyncio.gather(*self._retiring, return_exceptions=True)

    async def _start_racing(self, stop: asyncio.Event) -> R | None:
        """A start that stop cuts short (a slow handshake or Vite never delays stopping): None then."""
        starting = asyncio.ensure_future(self._start())
        await wait_first(starting, stop.wait())
        if not starting.done():
            starting.cancel()  # a start that is cancelled ends what it spawned
            await asyncio.gather(starting, return_exceptions=True)
            return None
        return starting.result()

    async def _serve(self, stop: asyncio.Event) -> bool:
        """Until the current instance exits (True: restart it after a backoff), or stop is set; with `overlap`,
        replacements happen in here, the old instance serving until the new one is up."""
        assert self.current is not None
        loop = asyncio.get_running_loop()
        began = loop.time()
        while True:
            instance = self.current
            exit_code = asyncio.ensure_future(instance.wait())
            watcher = asyncio.ensure_future(self._callbacks.while_up(instance)) if self._callbacks.while_up else None
            try:
                await wait_first(exit_code, self._wanted.wait(), stop.wait(), *(watcher,) if watcher else ())
            finally:
                if watcher is not None:
                    await ended(watcher)  # a watcher that failed fails the supervisor: its owner restarts it
            if exit_code.done():
                break
            exit_code.cancel()
            await asyncio.gather(exit_code, return_exceptions=True)
            if stop.is_set() or not self._overlap:
                self.current = None
                await instance.stop()
                self._callbacks.stopped(instance, False)
                return False
            await self._replace(instance, stop)
            began = loop.time()
        self.current = None
        await instance.stop()  # an exit of its own: release what it held (pipes, connection, socket folder)
        if loop.time() - began > self._policy.stable_after:
            self._failures = 0
        self._callbacks.exited(instance, exit_code.result(), self._policy.delay(self._failures))
        return await self._back_off(stop)

    async def _replace(self, old: R, stop: asyncio.Event) -> None:
        self._wanted.clear()
        try:
            new = await self._start_racing(stop)
        except PlugindevError as exc:
            self._callbacks.start_failed(exc)  # the old one keeps serving
            return
        if new is None:
            return
        self.current = new
        await self._callbacks.started(new)
        retiring = watched_task(self._retire(old, stop), f"the handover of a replaced {self.name.removeprefix('the ')}",
                                self._callbacks.unexpected)
        self._retiring.add(retiring)
        retiring.add_done_callback(self._retiring.discard)

    async def _retire(self, old: R, stop: asyncio.Event) -> None:
        """Stop a replaced instance once its handover has passed (or at once when stop is set)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._handover):
                await stop.wait()
        await old.stop()
        self._callbacks.stopped(old, True)

    async def _back_off(self, stop: asyncio.Event) -> bool:
        """Wait the policy's delay (a request or stop cuts it short), then ask for a start; True: a retry."""
        delay = self._policy.delay(self._failures)
        self._failures += 1
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await wait_first(self._wanted.wait(), stop.wait())
        if stop.is_set():
            return False
        retry = not self._wanted.is_set()
        self._wanted.set()
        return retry
