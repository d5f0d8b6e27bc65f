"""The processes plugindev starts: each leads a process group of its own, is reported the moment it exists,
and is stopped by escalating steps until the whole group is gone, and with it every process it started that
left the group.

Process facts (start time, liveness, group members) come from psutil, so they read the same on Linux and
macOS.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

import psutil

from orchestrator.common.errors import PlugindevError

_POLL = 0.02


def start_time(pid: int) -> int | None:
    """When `pid` started, in milliseconds since the epoch; with the pid it names one process across PID reuse."""
    try:
        return round(psutil.Process(pid).create_time() * 1000)
    except (psutil.Error, ValueError):
        return None


def is_alive(pid: int, started: int | None = None) -> bool:
    """The process runs (a zombie does not) and, when `started` is known, it is still the same process."""
    if pid <= 0:
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or round(process.create_time() * 1000) == started
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # exists, owned by someone else
        return True


def signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def group_alive(pgid: int) -> bool:
    """Whether a member of the group still runs. Zombies do not count: children orphaned by their leader's exit
    stay group members until init reaps them, which some container inits do late or never."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    for process in psutil.process_iter(["status"]):
        with contextlib.suppress(psutil.Error, OSError):
            if process.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(process.pid) == pgid:
                return True
    return False


def descendants(pid: int) -> list[psutil.Process]:
    """The processes `pid` started and theirs, as psutil handles (which refuse to signal a recycled pid). A child
    that left the group (setsid, a daemon) is reached this way only, and only while its parent runs: once the
    parent exits, the child is init's."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def signal_tree(tree: list[psutil.Process], sig: signal.Signals) -> None:
    """Each that still runs (psutil checks the pid is still the process it found)."""
    for process in tree:
        with contextlib.suppress(psutil.Error):
            process.send_signal(sig)


def _tree_alive(tree: list[psutil.Process]) -> bool:
    for process in tree:
        with contextlib.suppress(psutil.Error):
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                return True
    return False


async def wait_group_gone(pgid: int, timeout: float, tree: list[psutil.Process] | None = None) -> bool:
    """Poll until no member of the group (nor of `tree`) runs, at most `timeout` seconds; True once all are gone."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while group_alive(pgid) or _tree_alive(tree or []):
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(_POLL)
    return True


async def spawn(argv: Sequence[str], *, cwd: Path | None, env: Mapping[str, str] | None = None,
                on_spawn: Callable[[int], None] = lambda _pid: None, merge_stderr: bool = False,
                pipe_stdin: bool = False) -> asyncio.subprocess.Process:
    """Start `argv` as the leader of a new process group (so one signal reaches it and all its children).

    `on_spawn(pid)` runs before anything else can fail, so the caller can record the group for cleanup even
    if plugindev is killed a moment later; should it fail, the group is stopped. Output is piped; stdin is closed
    unless `pipe_stdin`.
    """
    starting = asyncio.ensure_future(asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env=None if env is None else dict(env),
        stdin=asyncio.subprocess.PIPE if pipe_stdin else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT if merge_stderr else asyncio.subprocess.PIPE,
        start_new_session=True,
    ))
    try:
        process = await asyncio.shield(starting)
    except OSError as exc:
        raise PlugindevError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
    except asyncio.CancelledError:
        # Cancelled while the child was being set up: it may run already, and what it started too. asyncio on its
        # own would kill the leader alone (or nothing), so the creation is let finish, the group reported as any
        # other (a kill -9 of plugindev meanwhile leaves its record), and stopped whole.
        with contextlib.suppress(OSError):
            process = await starting
            try:
                on_spawn(process.pid)
            finally:
                await stop_group(process)
        raise
    try:
        on_spawn(process.pid)
    except BaseException:
        await stop_group(process)
        raise
    return process


async def stop_group(process: asyncio.subprocess.Process, *, timeout: float = 5.0,
                     graceful: Callable[[float], Awaitable[None]] | None = None) -> int:
    """Stop the group `process` leads, and every process it started, in the group or not (a child that called
    setsid): `graceful(seconds)` first when given (most of the budget), then SIGTERM, then SIGKILL, all within
    `timeout`; returns once the leader is reaped and all of them are gone.

    Returns the leader's exit code (negative: the signal that ended it).
    """
    loop = asyncio.get_running_loop()
    pgid = process.pid
    deadline = loop.time() + timeout
    tree = descendants(process.pid)  # now: a graceful exit of the leader would hand its children to init
    if graceful is not None and process.returncode is None:
        graceful_until = deadline - 0.4 * timeout
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(graceful_until):
                await graceful(graceful_until - loop.time())
                await process.wait()
    tree += [child for child in descendants(process.pid) if child not in tree]  # started meanwhile
    if process.returncode is None or group_alive(pgid) or _tree_alive(tree):
        signal_group(pgid, signal.SIGTERM)
        signal_tree(tree, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(max(deadline - 0.1 * timeout, loop.time())):
                await process.wait()
        if not await wait_group_gone(pgid, max(deadline - loop.time(), 0.0), tree):
            signal_group(pgid, signal.SIGKILL)
            signal_tree(tree, signal.SIGKILL)
    # SIGKILL cannot be ignored; the bound only guards against a process stuck in the kernel (state D).
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(2.0):
            await process.wait()
    await wait_group_gone(pgid, 2.0, tree)
    if process.returncode is None:
        raise PlugindevError(f"process {process.pid} did not exit even after SIGKILL")
    return process.returncode
