"""The one supervisor for everything plugindev keeps running (the Vite dev server, the plugin process).

A supervisor keeps at most one instance alive. It starts one when asked (`restart()`), restarts it with the
backoff policy when it exits on its own, and stops it when asked again or when the stop event is set. Its
`state` says what it is doing; what happens is told to its owner, one `on_event` call each; it knows nothing of
what it runs.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from orchestrator.common.errors import PlugindevError
from orchestrator.common.rebuild import stopped_within, wait_first
from orchestrator.common.supervision import BACKOFF, Backoff
from orchestrator.common.tasks import ended, watched_task


class Running(Protocol):
    async def wait(self) -> int: ...

    async def stop(self) -> object: ...


R = TypeVar("R", bound=Running)


class SupervisorState(enum.Enum):
    """What a supervisor is doing: its run loop moves from one to the next (`Supervisor.state`)."""

    IDLE = "idle"  # nothing runs and no start is due: waiting to be asked
    STARTING = "starting"  # a start is under way (with `overlap`, the instance it replaces serves meanwhile)
    RUNNING = "running"  # an instance serves (with `overlap`, the retry of its failed replacement may be due)
    BACKING_OFF = "backing off"  # nothing runs; a start is due once the backoff's delay has passed
    STOPPING = "stopping"  # the instance is being stopped: to replace it without overlap, or to end
    STOPPED = "stopped"  # run() is over


class FailedAfterStart(PlugindevError):
    """A start that got an instance up, which then failed (a plugin that handshook but fails its health check).
    It is retried with the backoff, as an exit is, also when it was asked for: unlike a start that failed outright
    (no handshake: the binary needs a fix), it may well succeed again without one."""


# -- what a supervisor tells its owner ----------------------------------------------------------------------


@dataclass(frozen=True)
class Started(Generic[R]):
    """`instance` serves now, in place of the one before if any (its Stopped comes once its handover is over)."""

    instance: R


@dataclass(frozen=True)
class StartFailed:
    error: PlugindevError
    serving: bool  # an older instance still serves


@dataclass(frozen=True)
class Exited(Generic[R]):
    """`instance` exited on its own with `code`; it is started again in `restart_in` seconds."""

    instance: R
    code: int
    restart_in: float


@dataclass(frozen=True)
class Stopped(Generic[R]):
    """The supervisor stopped `instance`: `replaced`, once a newer one took over (with overlap); else to end, or
    (without overlap) to start its successor."""

    instance: R
    replaced: bool


@dataclass(frozen=True)
class HandoverFailed:
    """The handover of a replaced instance (run in the background) stopped on an unexpected error: `line` says so."""

    line: str


SupervisorEvent = Started[R] | StartFailed | Exited[R] | Stopped[R] | HandoverFailed


class Supervisor(Generic[R]):
    """Keeps one instance made by `start()` alive.

    A failed start is retried with the backoff when it was itself a retry (after an exit) or when the instance
    came up and then failed (FailedAfterStart); a start that was asked for and failed outright waits for the next
    request. `fatal_until_up`: a start that fails before any instance ever came up raises instead (the author
    must fix something first, e.g. a broken Vite config).

    `overlap`: a restart starts the new instance while the old one serves, and stops the old one only once
    the new one is up (or keeps the old one when the new one fails): no moment without a live instance.
    `handover` (with `overlap`): the replaced instance keeps serving that many seconds after its successor
    took over, in the background: the successor serves, and is replaced, meanwhile.

    `on_event` is called for each event before anything else happens; `while_up(instance)` runs while an instance
    serves (e.g. health checks) until cancelled: an unexpected error in it is the supervisor's.
    """

    def __init__(self, start: Callable[[], Awaitable[R]], on_event: Callable[[SupervisorEvent[R]], None], *,
                 name: str, while_up: Callable[[R], Awaitable[None]] | None = None, policy: Backoff = BACKOFF,
                 fatal_until_up: bool = False, overlap: bool = False, handover: float = 0.0) -> None:
        self.name = name  # what it runs, for the author: "the plugin process"
        self.state = SupervisorState.IDLE
        self.current: R | None = None
        self._start = start
        self._on_event = on_event
        self._while_up = while_up
        self._policy = policy
        self._fatal_until_up = fatal_until_up
        self._overlap = overlap
        self._handover = handover
        self._asked = asyncio.Event()  # restart() was called: a start is due at once
        self._retry_at: float | None = None  # the loop time a start is due after a backoff
        self._failures = 0  # failed starts and exits since the last request or stable run: the backoff's step
        self._up_since = 0.0
        self._ever_up = False
        self._retiring: set[asyncio.Task[None]] = set()  # replaced instances still in their handover

    def restart(self) -> None:
        """Start an instance, or replace the running one, as soon as possible (no backoff)."""
        self._failures = 0
        self._asked.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Keep an instance alive until `stop` is set; then stop it, and the replaced ones still handing over."""
        steps = {SupervisorState.IDLE: self._wait, SupervisorState.BACKING_OFF: self._wait,
                 SupervisorState.STARTING: self._start_one, SupervisorState.RUNNING: self._serve}
        self.state, self._retry_at = SupervisorState.IDLE, None  # a run after an unexpected error starts afresh
        try:
            while self.state is not SupervisorState.STOPPING:
                self.state = await steps[self.state](stop)
        finally:
            self.state = SupervisorState.STOPPING
            if self.current is not None:
                await self._stop_current()
            # stop cuts their handover short; a failure of one is said by its task
            await asyncio.gather(*self._retiring, return_exceptions=True)
            self.state = SupervisorState.STOPPED

    async def _wait(self, stop: asyncio.Event) -> SupervisorState:
        """Nothing runs: until a start is due (asked for, or the backoff's delay has passed) or stop is set."""
        await wait_first(self._asked.wait(), stop.wait(), *self._retry_due())
        return SupervisorState.STOPPING if stop.is_set() else SupervisorState.STARTING

    async def _start_one(self, stop: asyncio.Event) -> SupervisorState:
        """One start: the new instance serves, in place of the current one if any; or the failure is told, and
        retried after the backoff when worth it."""
        asked = self._asked.is_set()
        self._asked.clear()
        self._retry_at = None
        try:
            instance = await self._start_racing(stop)
        except PlugindevError as exc:
            self._on_event(StartFailed(exc, serving=self.current is not None))
            if self._fatal_until_up and not self._ever_up:
                raise
            if not asked or isinstance(exc, FailedAfterStart):
                self._back_off()
            if self.current is not None:
                return SupervisorState.RUNNING  # the old one serves on
            return SupervisorState.IDLE if self._retry_at is None else SupervisorState.BACKING_OFF
        if instance is None:
            return SupervisorState.STOPPING
        replaced, self.current = self.current, instance
        self._ever_up = True
        self._up_since = asyncio.get_running_loop().time()
        self._on_event(Started(instance))
        if replaced is not None:
            retiring = watched_task(self._retire(replaced, stop),
                                    f"the handover of a replaced {self.name.removeprefix('the ')}",
                                    lambda line: self._on_event(HandoverFailed(line)))
            self._retiring.add(retiring)
            retiring.add_done_callback(self._retiring.discard)
        return SupervisorState.RUNNING

    async def _start_racing(self, stop: asyncio.Event) -> R | None:
        """A start that stop cuts short (a slow handshake or Vite never delays stopping): None then."""
        starting = asyncio.ensure_future(self._start())
        await wait_first(starting, stop.wait())
        if not starting.done():
            starting.cancel()  # a start that is cancelled ends what it spawned
            await asyncio.gather(starting, return_exceptions=True)
            return None
        return starting.result()

    async def _serve(self, stop: asyncio.Event) -> SupervisorState:
        """The current instance serves until it exits, a start is due (asked for, or the retry of a replacement
        that failed) or stop is set; `while_up` runs meanwhile."""
        instance = self.current
        assert instance is not None
        exited = asyncio.ensure_future(instance.wait())
        watcher = asyncio.ensure_future(self._while_up(instance)) if self._while_up else None
        try:
            await wait_first(exited, self._asked.wait(), stop.wait(), *self._retry_due(),
                             *([watcher] if watcher else []))
        finally:
            if not exited.done():
                await ended(exited)
            if watcher is not None:
                await ended(watcher)  # a watcher that failed fails the supervisor: its owner restarts it
        if not exited.cancelled():
            self.current = None
            await instance.stop()  # an exit of its own: release what it held (pipes, connection, socket folder)
            if asyncio.get_running_loop().time() - self._up_since > self._policy.stable_after:
                self._failures = 0
            self._on_event(Exited(instance, exited.result(), self._back_off()))
            return SupervisorState.BACKING_OFF
        if stop.is_set():
            return SupervisorState.STOPPING
        if not self._overlap:
            await self._stop_current()  # the moment without an instance that `overlap` avoids
        return SupervisorState.STARTING

    async def _stop_current(self) -> None:
        instance, self.current = self.current, None
        assert instance is not None
        self.state = SupervisorState.STOPPING
        await instance.stop()
        self._on_event(Stopped(instance, replaced=False))

    async def _retire(self, old: R, stop: asyncio.Event) -> None:
        """Stop a replaced instance once its handover has passed (or at once when stop is set)."""
        await stopped_within(stop, self._handover)
        await old.stop()
        self._on_event(Stopped(old, replaced=True))

    def _back_off(self) -> float:
        """Make a start due after the policy's delay, one step longer each time; the delay."""
        delay = self._policy.delay(self._failures)
        self._failures += 1
        self._retry_at = asyncio.get_running_loop().time() + delay
        return delay

    def _retry_due(self) -> list[Awaitable[None]]:
        """What waits until the start the backoff made due, if one is."""
        if self._retry_at is None:
            return []
        return [asyncio.sleep(self._retry_at - asyncio.get_running_loop().time())]
