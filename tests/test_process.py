"""The process toolkit every part uses: identity across PID reuse, spawn with on_spawn, stop of a whole group."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator.common.errors import PlugindevError
from orchestrator.common.lines import MAX_LINE, LineSplitter, pump_lines, strip_ansi
from orchestrator.common.process import group_alive, is_alive, signal_group, spawn, start_time, stop_group


def test_start_time_names_one_process() -> None:
    own = start_time(os.getpid())
    assert own is not None and start_time(os.getpid()) == own
    assert is_alive(os.getpid()) and is_alive(os.getpid(), own)
    assert not is_alive(os.getpid(), own + 1)  # same pid, another start: a recycled PID
    with subprocess.Popen([sys.executable, "-c", "pass"]) as child:
        child.wait()
    assert start_time(child.pid) is None and not is_alive(child.pid)
    assert not is_alive(0) and not is_alive(-5)


def test_a_zombie_is_not_alive() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        for _ in range(200):
            if not is_alive(child.pid):
                break
            asyncio.run(asyncio.sleep(0.01))
        assert not is_alive(child.pid)  # exited, not yet reaped
    finally:
        child.wait()


def test_line_splitter_and_ansi() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"one\ntw") == ["one"]
    assert splitter.feed(b"o\r\nthree") == ["two"]
    assert splitter.flush() == ["three"] and splitter.flush() == []
    assert strip_ansi("\x1b[32mLocal:\x1b[39m \x1b]8;;http://x\x07link\x1b]8;;\x07") == "Local: link"


# a group whose leader and child both ignore SIGTERM: only SIGKILL ends it
STUBBORN = "trap '' TERM; sleep 60 & echo $! > {pidfile}; echo ready; wait"


def test_spawn_reports_the_group_at_once_and_stop_group_escalates(tmp_path: Path) -> None:
    async def scenario() -> None:
        spawned: list[int] = []
        process = await spawn(["sh", "-c", STUBBORN.format(pidfile=tmp_path / "child")], cwd=tmp_path,
                              on_spawn=spawned.append)
        assert spawned == [process.pid] and os.getpgid(process.pid) == process.pid != os.getpgid(0)
        assert process.stdout is not None
        assert await process.stdout.readline() == b"ready\n"
        child = int((tmp_path / "child").read_text())
        assert os.getpgid(child) == process.pid and group_alive(process.pid)
        loop = asyncio.get_running_loop()
        began = loop.time()
        code = await stop_group(process, timeout=0.5)
        assert code == -signal.SIGKILL and loop.time() - began < 4
        assert not group_alive(process.pid) and not is_alive(child)

    asyncio.run(asyncio.wait_for(scenario(), 20))


def test_stop_group_tries_the_graceful_way_first(tmp_path: Path) -> None:
    async def scenario() -> None:
        process = await spawn(["sh", "-c", "trap 'exit 0' USR1; while :; do sleep 0.05; done"], cwd=tmp_path)

        async def graceful(_seconds: float) -> None:
            signal_group(process.pid, signal.SIGUSR1)

        await asyncio.sleep(0.2)
        assert await stop_group(process, timeout=3, graceful=graceful) == 0

    asyncio.run(asyncio.wait_for(scenario(), 20))


def test_spawn_of_a_missing_program_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(PlugindevError, match="cannot run /nonexistent/tool: No such file"):
        asyncio.run(spawn(["/nonexistent/tool"], cwd=tmp_path))


def test_pump_lines_passes_on_a_line_longer_than_the_stream_limit(tmp_path: Path) -> None:
    async def scenario() -> list[int]:
        process = await spawn([sys.executable, "-c", "print('x' * 300000); print('end')"], cwd=tmp_path)
        lengths: list[int] = []
        assert process.stdout is not None
        await pump_lines(process.stdout, lambda line: lengths.append(len(line)))
        await process.wait()
        return lengths

    assert asyncio.run(scenario()) == [MAX_LINE + len("… [cut: line of 300000 bytes]"), 3]  # cut, and the next


def test_a_spawn_cancelled_while_the_child_is_being_set_up_leaves_none_of_its_group(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A build cancelled by the next save right as it starts: the child and what it started must go too (they
    kept a lock a second build then found taken), and it is reported as any other (recorded, so a kill -9 of
    plugindev meanwhile leaves a record of it). The set-up is slowed down so the cancel lands inside it."""
    marker = tmp_path / "started"
    real = asyncio.create_subprocess_exec

    async def slow_setup(*args: Any, **options: Any) -> asyncio.subprocess.Process:
        process = await real(*args, **options)
        await asyncio.sleep(5)  # the cancel arrives here: the child runs, its creation has not returned
        return process

    spawned: list[int] = []

    async def cancel_midway() -> tuple[int, int]:
        monkeypatch.setattr(asyncio, "create_subprocess_exec", slow_setup)
        starting = asyncio.ensure_future(spawn(["sh", "-c", f"sleep 60 & echo $$ $! > {marker}; wait"], cwd=tmp_path,
                                               on_spawn=spawned.append))
        while not marker.is_file() or len(marker.read_text().split()) < 2:
            await asyncio.sleep(0.02)
        child, grandchild = map(int, marker.read_text().split())
        starting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await starting
        return child, grandchild

    child, grandchild = asyncio.run(cancel_midway())
    assert not is_alive(grandchild) and not is_alive(child)
    assert spawned == [child]


def test_an_on_spawn_that_fails_leaves_none_of_the_group(tmp_path: Path) -> None:
    """A record that cannot be made: the caller never gets the process, so spawn ends it, and what it started."""
    marker = tmp_path / "started"

    def refuse(_pid: int) -> None:
        deadline = time.monotonic() + 10
        while (not marker.is_file() or not marker.read_text().strip()) and time.monotonic() < deadline:
            pass  # until the child has started one of its own
        raise OSError("no room for the record")

    async def scenario() -> int:
        with pytest.raises(OSError, match="no room"):
            await spawn(["sh", "-c", f"sleep 60 & echo $! > {marker}; wait"], cwd=tmp_path, on_spawn=refuse)
        return int(marker.read_text())

    grandchild = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert not is_alive(grandchild)
