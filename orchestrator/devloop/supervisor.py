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
from orchestrator.devloop.rebuild import wait_first


class Running(Protocol):
    async def wait(self) -> int: ...

    async def stop(self) -> object: ...


R = TypeVar("R", bound=Running)


@dataclass(frozen=True)
class Backoff:
    """Waits before restarting something that keeps exiting; a run longer than `stable_after` starts over."""

    delays: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0)
    stable_after: float = 10.0

    def delay(self, failures: int) -> float:
        return self.delays[min(failures, len(self.delays) - 1)]


BACKOFF = Backoff()


@dataclass
class Callbacks(Generic[R]):
    started: Callable[[R], Awaitable[None]]  # the new instance serves (runs before anything else happens)
    start_failed: Callable[[PlugindevError], None]
    exited: Callable[[R, int, float], None]  # the instance, its exit code, seconds until the restart
    stopped: Callable[[R], None]  # stopped by the supervisor (replaced, or the end)
    while_up: Callable[[R], Awaitable[None]] | None = None  # e.g. health checks, cancelled when it goes


class Supervisor(Generic[R]):
    """Keeps one instance made by `start()` alive.

    `fatal_until_up`: a start that fails before any instance ever came up raises (the author must fix
    something first, e.g. a broken Vite config). Otherwise a failed start after an exit is retried with
    backoff, and a failed start that was asked for waits for the next request.
    """

    def __init__(self, start: Callable[[], Awaitable[R]], callbacks: Callbacks[R], *,
                 policy: Backoff = BACKOFF, fatal_until_up: bool = False) -> None:
        self._start = start
        self._callbacks = callbacks
        self._policy = policy
        self._fatal_until_up = fatal_until_up
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
                starting = asyncio.ensure_future(self._start())
                await wait_first(starting, stop.wait())  # a slow start (a handshake, Vite) never delays stopping
                if not starting.done():
                    starting.cancel()  # a start that is cancelled ends what it spawned
                    await asyncio.gather(starting, return_exceptions=True)
                    return
                try:
                    instance = starting.result()
                except PlugindevError as exc:
                    self._callbacks.start_failed(exc)
                    if self._fatal_until_up and not self._ever_up:
                        raise
                    if not asked or retrying:
                        retrying = await self._back_off(stop)
                    continue
                retrying = False
                self._ever_up = True
                self.current = instance
                await self._callbacks.started(instance)
                retrying = await self._serve(instance, stop)
        finally:
            if self.current is not None:
                instance, self.current = self.current, None
                await instance.stop()
                self._callbacks.stopped(instance)

    async def _serve(self, instance: R, stop: asyncio.Event) -> bool:
        """Until the instance exits (True: restart it after a backoff), is replaced, or stop is set."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        exit_code = asyncio.ensure_future(instance.wait())
        watcher = asyncio.ensure_future(self._callbacks.while_up(instance)) if self._callbacks.while_up else None
        try:
            await wait_first(exit_code, self._wanted.wait(), stop.wait())
        finally:
            if watcher is not None:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
        if not exit_code.done():
            exit_code.cancel()
            await asyncio.gather(exit_code, return_exceptions=True)
            self.current = None
            await instance.stop()
            self._callbacks.stopped(instance)
            return False
        self.current = None
        await instance.stop()  # an exit of its own: release what it held (pipes, connection, socket folder)
        if loop.time() - began > self._policy.stable_after:
            self._failures = 0
        self._callbacks.exited(instance, exit_code.result(), self._policy.delay(self._failures))
        return await self._back_off(stop)

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
