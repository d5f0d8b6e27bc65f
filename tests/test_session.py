"""A plugin's session in process: the real coordinator and parts, fake Go builder, plugin process and Vite.

Each row of the transition table is one test; each runs in well under a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from session_support import FAST_BACKOFF, FakeGo, FakeVite, Harness, harness
from vite_support import own_port

from orchestrator.common.net import HOST
from orchestrator.common.process import is_alive
from orchestrator.devloop.context import RunOptions
from orchestrator.devloop.vite import PortAllocator
from orchestrator.model.state import HEALTH_LOST

pytestmark = pytest.mark.usefixtures("own_home")


def run(scenario: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(scenario, 10))


def test_first_build_fails_then_a_fix_makes_it_ready_and_advertised(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with harness(tmp_path, go=FakeGo(build_fails=True)) as h:
            await h.until(lambda: h.state.goStatus == "error", "the failed build")
            assert h.state.lastError.endswith("main.go:3:1: undefined: x") and h.devinfo() is None
            assert "the backend is not running: fix the errors above and save, plugindev builds again" in h.messages()
            h.go.build_fails = False
            h.backend.build_wanted.set()
            await h.until(lambda: h.devinfo() is not None, ".devinfo")
            assert h.state.goStatus == "ready" and h.state.grpcConnected and h.state.lastError == ""
            info = h.devinfo()
            assert info["pid"] == h.go.current.pid and info["vitePort"] == h.state.vitePort
        assert h.devinfo() is None and h.state.goStatus == "stopped"  # stopped: nothing advertised

    run(scenario())


def test_a_failed_build_while_serving_leaves_the_process_and_devinfo_alone(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with harness(tmp_path) as h:
            await h.advertised()
            before = h.session.devinfo.path.read_bytes()
            serving = h.go.current
            h.go.build_fails = True
            h.backend.build_wanted.set()
            await h.until(lambda: h.state.goStatus == "error", "the failed build")
            assert serving.running and h.session.devinfo.path.read_bytes() == before
            assert h.state.grpcConnected and "build failed: the running plugin keeps serving" in h.messages()

    run(scenario())


def test_a_good_build_replaces_the_process_and_rewrites_devinfo(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with harness(tmp_path) as h:
            first = (await h.advertised())["pid"]
            h.backend.build_wanted.set()
            await h.until(lambda: (h.devinfo() or {}).get("pid") not in (None, first), "the new process")
            first = h.go.plugins[0]
            await h.until(lambda: first.stopped, "the old process stopped after its handover")
            assert h.go.current.running and len(h.go.plugins) == 2

    run(scenario())


def test_vite_that_exits_is_reported_and_restarted_on_the_same_port(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with harness(tmp_path, ports=own_port()) as h:
            port = (await h.advertised())["vitePort"]
            h.vite.servers[0].exit(1)
            await h.until(lambda: h.state.viteStatus == "error", "Vite's exit")
            assert h.devinfo() is None  # no Vite, no advertised plugin
            await h.until(lambda: h.state.viteStatus == "ready", "Vite again")
            assert len(h.vite.servers) == 2 and h.state.vitePort == port
            assert h.devinfo() is not None and h.devinfo()["vitePort"] == port
            assert "Vite exited with code 1; restarting it in 0.01 s" in h.messages()

    run(scenario())


def test_a_vite_that_cannot_start_at_all_ends_the_session_with_its_message(tmp_path: Path) -> None:
    async def scenario() -> None:
        with pytest.raises(ExceptionGroup) as raised:
            async with harness(tmp_path, vite=FakeVite(fail=True)) as h:
                await h.until(lambda: any(s["viteStatus"] == "stopped" for s in h.statuses()),
                              "the session ended by itself", timeout=5)
        assert "before it was ready" in str(raised.value.exceptions[0])

    run(scenario())


def test_a_plugin_that_keeps_exiting_backs_off_and_the_count_starts_over_after_a_stable_run(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with harness(tmp_path, ui=False) as h:
            await h.advertised()
            for _ in range(5):
                count = len(h.go.plugins)
                h.go.current.exit(3)
                await h.until(lambda c=count: len(h.go.plugins) == c + 1 and h.state.grpcConnected, "restart")
            delays = [m.rsplit(" in ", 1)[1] for m in h.messages() if "exited on its own" in m]
            assert delays == ["0.01 s", "0.02 s", "0.04 s", "0.1 s", "0.1 s"]
            await asyncio.sleep(FAST_BACKOFF.stable_after + 0.05)  # a run longer than stable_after
            h.go.current.exit(3)
            await h.until(lambda: len([m for m in h.messages() if "exited on its own" in m]) == 6, "the exit")
            after_stable_run = [m for m in h.messages() if "exited on its own" in m][-1]
            assert after_stable_run.endswith("restarting it in 0.01 s")
            assert all(p.stopped for p in h.go.plugins[:-1])  # each exited process was released

    run(scenario())


def test_health_flaps_move_the_status_and_devinfo_with_them(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with harness(tmp_path, ui=False) as h:
            await h.advertised()
            h.go.current.healthy = False
            await h.until(lambda: not h.state.grpcConnected, "unhealthy")
            assert h.state.goStatus == "error" and h.state.lastError == HEALTH_LOST and h.devinfo() is None
            h.go.current.healthy = True
            await h.until(lambda: h.state.grpcConnected, "healthy again")
            assert h.state.goStatus == "ready" and h.state.lastError == "" and h.devinfo() is not None

    run(scenario())


def test_a_plugin_that_does_not_start_waits_for_the_next_build(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with harness(tmp_path, ui=False, go=FakeGo(start_fails=True)) as h:
            await h.until(lambda: h.state.goStatus == "error", "the failed start")
            assert "no handshake" in h.state.lastError
            await asyncio.sleep(0.2)
            assert h.go.plugins == [] and h.devinfo() is None  # no retry loop on a binary that cannot start
            h.go.start_fails = False
            h.backend.build_wanted.set()
            await h.until(lambda: h.devinfo() is not None, ".devinfo")

    run(scenario())


def test_a_vite_that_must_move_never_takes_another_plugins_port(tmp_path: Path) -> None:
    async def scenario() -> None:
        ports = PortAllocator()
        other = ports.allocate()  # another plugin's Vite, down for a restart: its port is free but not ours
        async with harness(tmp_path, backend=False, ports=ports) as h:
            await h.until(lambda: h.state.viteStatus == "ready", "Vite ready")
            ours = h.state.vitePort
            assert ours != other
            with socket.socket() as squatter:
                squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                squatter.bind((HOST, ours))
                squatter.listen()
                h.vite.servers[0].exit(1)
                await h.until(lambda: len(h.vite.servers) == 2 and h.state.viteStatus == "ready", "Vite moved")
            assert h.state.vitePort not in (ours, other)
            assert f"port {ours} is taken; moving to {h.state.vitePort}" in h.messages()

    run(scenario())


SLOW_BUILD = """#!/bin/sh
# a `vite build` that takes its time in a child process, as Vite's bundler workers do
sleep 60 &
echo $! >> "{children}"
wait
"""


def test_a_change_during_vite_build_ends_the_builds_whole_group(tmp_path: Path) -> None:
    ui = tmp_path / "src" / "fake" / "ui"
    children = tmp_path / "children"
    vite = ui / "node_modules" / ".bin" / "vite"
    vite.parent.mkdir(parents=True)
    vite.write_text(SLOW_BUILD.format(children=children))
    vite.chmod(0o755)
    (ui / "src").mkdir()

    async def scenario() -> None:
        async with harness(tmp_path, backend=False, ui_build=True) as h:
            # `>>` makes the file before the pid is in it: wait for the pid
            await h.until(lambda: children.exists() and children.read_text().split(), "the first build's child",
                          timeout=10)
            first = int(children.read_text().split()[0])
            assert is_alive(first)
            # the watcher starts beside the first build, unseen: save until a save is seen (each is a change)
            async with asyncio.timeout(10):
                while len(children.read_text().split()) < 2:
                    (ui / "src" / "App.tsx").write_text("export {}\n")
                    with contextlib.suppress(TimeoutError):
                        await h.until(lambda: len(children.read_text().split()) == 2, "the second build", 0.5)
            assert "UI changed during the build: building again" in h.messages()
            assert not is_alive(first)  # the cancelled build's child went with it

    run(scenario())


async def _devinfo_pids_during(h: Harness, action: Callable[[], None], until: Callable[[], bool]) -> list[int | None]:
    """Every .devinfo pid seen (None: no file), polled every millisecond while `action` takes effect."""
    seen: list[int | None] = []

    def look() -> None:
        pid = (h.devinfo() or {}).get("pid")
        if not seen or seen[-1] != pid:
            seen.append(pid)

    action()
    async with asyncio.timeout(3):
        while not until():
            look()
            await asyncio.sleep(0.001)
    look()
    return seen


def test_a_replacement_overlaps_so_the_ide_always_sees_a_live_plugin(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with harness(tmp_path, ui=False, go=FakeGo(start_delay=0.1)) as h:
            first = (await h.advertised())["pid"]
            seen = await _devinfo_pids_during(h, h.backend.build_wanted.set,
                                              lambda: len(h.go.plugins) == 2 and h.devinfo() is not None
                                              and h.devinfo()["pid"] != first)
            assert seen == [first, h.go.current.pid]  # straight from one to the other, never absent
            await h.until(lambda: h.go.plugins[0].stopped, "the old process stopped after its handover")
            assert h.go.current.running

    run(scenario())


def test_without_overlap_the_old_process_stops_first(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with harness(tmp_path, ui=False, go=FakeGo(start_delay=0.1), options=RunOptions(overlap=False)) as h:
            first = (await h.advertised())["pid"]
            seen = await _devinfo_pids_during(h, h.backend.build_wanted.set,
                                              lambda: len(h.go.plugins) == 2 and h.devinfo() is not None
                                              and h.devinfo()["pid"] != first)
            assert seen == [first, None, h.go.current.pid]  # the gap that --overlap closes

    run(scenario())


def test_a_replacement_that_does_not_start_leaves_the_old_one_serving(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with harness(tmp_path, ui=False) as h:
            before = await h.advertised()
            h.go.start_fails = True
            h.backend.build_wanted.set()
            await h.until(lambda: h.state.goStatus == "error", "the failed replacement")
            assert "no handshake" in h.state.lastError and h.state.grpcConnected
            assert h.devinfo() == before and h.go.current.running
            assert "plugin 'fake' did not start: no handshake; the running plugin keeps serving" in h.messages()

    run(scenario())


def test_an_install_that_fails_is_a_failed_build_and_the_old_plugin_keeps_serving(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        async with harness(tmp_path, ui=False) as h:
            before = await h.advertised()

            def disk_full(*_args: object) -> list[Path]:
                raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "plugins/fake/plugin.yaml"))

            monkeypatch.setattr("orchestrator.devloop.backend.sync_manifest", disk_full)
            h.backend.build_wanted.set()
            await h.until(lambda: h.state.goStatus == "error", "the failed install")
            error = h.state.lastError
            assert error.startswith("install failed: cannot write") and "free some space" in error
            assert h.devinfo() == before and h.go.current.running and len(h.go.plugins) == 1
            assert any(m.endswith("(the running plugin keeps serving)") for m in h.messages())

    run(scenario())
