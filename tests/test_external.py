"""External mode: `.devinfo` files written by plugindev, by the SDK's `WriteDevInfo` (v0.5.0 format) or by hand,
followed by ExternalMonitor with real files, real processes and real gRPC health checks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from external_support import Watching, connected, go_time, sdk_devinfo, stopped, write
from go_support import build_fixture, checks_answered, copy_fixture
from process_support import dead_pid
from run_support import devinfo, ready, run_env, running, wait_until

from orchestrator.common.process import is_alive, start_time
from orchestrator.devloop.plugin_process import PluginProcess
from orchestrator.model.state import DevState, ExternalFound, ExternalHealth, ExternalRejected, Status, apply_change
from orchestrator.statefiles.codec import Rejected
from orchestrator.statefiles.devinfo import (
    DevInfo,
    DevinfoFile,
    decode_devinfo,
    process_gone,
)

T = TypeVar("T")
FIXTURES = Path(__file__).resolve().parent / "fixtures"
DETECT_KILL = 6.0  # the bound: a kill -9 seen, and the file removed, within 6 s (checks every 5 s)


def run(coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
    return asyncio.run(asyncio.wait_for(coro, timeout))


# --- reading the files (units) -----------------------------------------------------------------------------

def test_a_devinfo_written_by_plugindev_is_read_with_its_network_and_process_identity(tmp_path: Path) -> None:
    writer = DevinfoFile(tmp_path / "plugins" / "my-plugin")
    writer.reconcile(DevInfo(pid=4242, protocol="grpc", protocolVersion=1, addr="127.0.0.1:5000", network="tcp",
                             pluginId="my-plugin", version="1.2.3", startedAt="2026-01-02T03:04:05.678Z",
                             processStartTime=1_700_000_000_123, plugindevPid=1, vitePort=15173))
    info = decode_devinfo(writer.path.read_bytes(), "my-plugin")
    assert (info.pid, info.network, info.grpc_target, info.vitePort) == (4242, "tcp", "127.0.0.1:5000", 15173)
    assert (info.processStartTime, info.version, info.protocolVersion) == (1_700_000_000_123, "1.2.3", 1)
    assert info.plugindevPid == 1  # the writer, for GetExternalPluginInfo


def test_a_devinfo_in_the_sdks_format_derives_the_network_from_the_address() -> None:
    unix = decode_devinfo(json.dumps(sdk_devinfo(10, "/tmp/plugin123", "p", 15180)).encode(), "p")
    assert (unix.network, unix.grpc_target, unix.processStartTime) == ("unix", "unix:/tmp/plugin123", None)
    assert unix.startedAt.endswith(".123456789Z") and unix.vitePort == 15180 and unix.plugindevPid is None
    tcp = decode_devinfo(json.dumps(sdk_devinfo(10, "127.0.0.1:42367", "p")).encode(), "p")
    assert (tcp.network, tcp.grpc_target, tcp.vitePort) == ("tcp", "127.0.0.1:42367", None)


def test_a_hand_written_devinfo_needs_only_pid_addr_and_plugin_id() -> None:
    info = decode_devinfo(b'{"pid": 7, "addr": "localhost:9000", "pluginId": "p"}', "p")
    assert (info.network, info.protocol, info.version, info.vitePort) == ("tcp", "grpc", "", None)


@pytest.mark.parametrize(("content", "reason"), [
    ('{"pid": 7, "addr": ', "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    ("[1, 2]", "not a JSON object but list"),
    ('{"pid": 0, "addr": "/s", "pluginId": "p"}', "pid must be a positive integer, got 0"),
    ('{"pid": -3, "addr": "/s", "pluginId": "p"}', "pid must be a positive integer, got -3"),
    ('{"addr": "/s", "pluginId": "p"}', "pid must be a positive integer, got null"),
    ('{"pid": "12", "addr": "/s", "pluginId": "p"}', 'pid must be an integer, got "12"'),
    ('{"pid": true, "addr": "/s", "pluginId": "p"}', "pid must be an integer, got true"),
    ('{"pid": 7, "addr": "", "pluginId": "p"}', "addr is empty"),
    ('{"pid": 7, "pluginId": "p"}', "addr is empty"),
    ('{"pid": 7, "addr": "/s", "pluginId": "other"}', "pluginId \"other\" is not its folder's name 'p'"),
    ('{"pid": 7, "addr": "/s"}', "pluginId null is not its folder's name 'p'"),
    ('{"pid": 7, "addr": "h:1", "network": "udp", "pluginId": "p"}', 'network must be unix or tcp, got "udp"'),
    ('{"pid": 7, "addr": "/s", "protocol": "netrpc", "pluginId": "p"}', 'protocol "netrpc"'),
    ('{"pid": 7, "addr": "/s", "vitePort": 70000, "pluginId": "p"}', "vitePort must be a TCP port, got 70000"),
    ('{"pid": 7, "addr": "/s", "processStartTime": "x", "pluginId": "p"}', "processStartTime must be an integer"),
])
def test_invalid_devinfo_files_are_rejected_with_the_reason(content: str | bytes, reason: str) -> None:
    with pytest.raises(Rejected) as caught:
        decode_devinfo(content.encode() if isinstance(content, str) else content, "p")
    assert reason in str(caught.value) and "\n" not in str(caught.value)


def test_a_process_is_gone_when_dead_or_when_its_pid_names_another_process(sleeper: subprocess.Popen[bytes]) -> None:
    def info(pid: int, started: int | None) -> Any:
        data = {"pid": pid, "addr": "/s", "pluginId": "p", "processStartTime": started}
        return decode_devinfo(json.dumps(data).encode(), "p")

    actual = start_time(sleeper.pid)
    assert actual is not None
    assert process_gone(info(sleeper.pid, None)) == ""
    assert process_gone(info(sleeper.pid, actual)) == ""
    assert process_gone(info(sleeper.pid, actual - 400)) == ""  # a writer that rounded to the second
    assert "was recycled" in process_gone(info(sleeper.pid, actual - 3_600_000))
    assert process_gone(info(dead_pid(), None)).endswith("is not running")


def test_the_state_of_an_external_plugin_follows_its_file_and_its_health_checks() -> None:
    info = decode_devinfo(json.dumps(sdk_devinfo(10, "/tmp/s", "p", 15180)).encode(), "p")
    unknown = DevState(pluginID="p", devPath="", mode="external")  # as the monitor's record of it starts
    found = ExternalFound(info.backend_process(), 15180)
    first = apply_change(unknown, found)
    good, bad = apply_change(first, ExternalHealth("")), apply_change(first, ExternalHealth("UNAVAILABLE"))
    assert (first.goStatus, first.grpcConnected, first.mode, first.devPath) == (Status.STARTING, False, "external", "")
    assert (good.goStatus, good.grpcConnected, good.viteURL) == (Status.READY, True, "http://127.0.0.1:15180")
    assert (bad.goStatus, bad.grpcConnected, bad.lastError) == (Status.ERROR, False, "UNAVAILABLE")
    assert good.process is not None and (good.process.pid, good.process.network) == (10, "unix")
    assert apply_change(bad, ExternalHealth("")) == good  # serves again
    # its file written again for the same process: what the checks said stands; a new process starts over
    rewritten = apply_change(bad, ExternalFound(info.backend_process(), 0, rewritten=True))
    assert rewritten == replace(bad, vitePort=0, viteURL="")
    assert apply_change(bad, found) == first
    # a rejected file shows nothing of the process it named, until a good one comes
    rejected = apply_change(good, ExternalRejected("pid must be positive"))
    assert rejected == replace(unknown, goStatus=Status.ERROR, lastError="pid must be positive")
    assert apply_change(rejected, found) == first


# --- the monitor with files and processes, no plugin needed -----------------------------------------------

def test_each_invalid_file_is_rejected_in_state_and_logs_until_a_good_one_or_none(tmp_path: Path) -> None:
    state_root = tmp_path / "state"
    cases: list[tuple[dict[str, Any] | str, str]] = [
        ("{not json", "not valid JSON"),
        ({"pid": 0, "addr": "/s", "pluginId": "bad"}, "pid must be a positive"),
        ({"pid": 7, "addr": "", "pluginId": "bad"}, "addr is empty"),
        ({"pid": 7, "addr": "/s", "pluginId": "elsewhere"}, "pluginId \"elsewhere\" is not its folder's name"),
    ]

    async def scenario() -> None:
        async with Watching(state_root, interval=5.0) as watching:
            for content, reason in cases:
                path = write(state_root, "bad", content)
                def rejected(status: dict[str, Any], reason: str = reason) -> bool:
                    return reason in status["lastError"]

                await watching.status("bad", rejected, 5, f"rejected: {reason}")
                state = watching.monitor.states()["bad"]
                assert (state.goStatus, state.grpcConnected, state.mode) == (Status.ERROR, False, "external")
                assert state.lastError.startswith(f"{path} rejected: ")
                assert watching.monitor.logs("bad")[-1].level == "error"
                assert reason in watching.monitor.logs("bad", 1)[0].message
                assert watching.monitor.devinfo("bad") is None
            assert path.exists()  # a rejected file is someone else's to fix: it stays
            path.unlink()
            await watching.status("bad", stopped, 5, "the last status once the file is gone")
            assert "bad" not in watching.monitor.states()

    run(scenario())


def test_files_of_dead_and_recycled_pids_are_removed_and_managed_plugins_are_left_alone(
        tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    state_root = tmp_path / "state"
    before = write(state_root, "dead-before", sdk_devinfo(dead_pid(), "/tmp/x", "dead-before"))
    managed = write(state_root, "mine", sdk_devinfo(dead_pid(), "/tmp/x", "mine"))
    actual = start_time(sleeper.pid)
    assert actual is not None

    async def scenario() -> None:
        async with Watching(state_root, managed=lambda: {"mine"}) as watching:
            after = write(state_root, "dead-after", sdk_devinfo(dead_pid(), "/tmp/x", "dead-after"))
            recycled = write(state_root, "recycled", sdk_devinfo(sleeper.pid, "/tmp/x", "recycled")
                             | {"processStartTime": actual - 3_600_000})
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 5
            while (before.exists() or after.exists() or recycled.exists()) and loop.time() < deadline:
                await asyncio.sleep(0.02)
            assert not before.exists() and not after.exists() and not recycled.exists()
            assert is_alive(sleeper.pid)  # a recycled PID's process is not the plugin's: never touched
            watching.events.extend((loop.time(), watching.queue.get_nowait()) for _ in range(watching.queue.qsize()))
            assert any("was recycled" in message for message in watching.messages("recycled"))  # told, and then
            assert watching.monitor.logs("recycled") == []  # nothing kept of a plugin never listed
            assert watching.monitor.states() == {}
            assert managed.exists() and watching.monitor.logs("mine") == []  # plugindev's own session's file

    run(scenario())


# --- real plugins --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def testplugin() -> Path:
    return build_fixture()


async def start_plugin(binary: Path, plugin_id: str, env: dict[str, str] | None = None) -> PluginProcess:
    """A real go-plugin process started by someone else than the monitor (here PluginProcess, which also
    reads its stdio stream as any starter must)."""
    return await PluginProcess.start(binary, plugin_id=plugin_id, cwd=binary.parent, env=env,
                                     extra_env={"TESTPLUGIN_ID": plugin_id}, on_output=lambda _stream, _line: None)


def advertise(state_root: Path, plugin: PluginProcess) -> Path:
    """The .devinfo plugindev's own writer makes for `plugin`."""
    handshake = plugin.handshake
    writer = DevinfoFile(state_root / "plugins" / plugin.plugin_id)
    writer.reconcile(DevInfo(pid=plugin.pid, protocol=handshake.protocol, protocolVersion=handshake.app_version,
                             addr=handshake.address, network=handshake.network, pluginId=plugin.plugin_id,
                             version="0.1.0", startedAt=go_time(datetime.now(UTC), 0),
                             processStartTime=plugin.start_time, plugindevPid=os.getpid()))
    return writer.path


def attached_to(pid: int) -> Callable[[dict[str, Any]], bool]:
    return lambda status: connected(status) and status["pid"] == pid


@pytest.mark.integration
def test_a_plugin_is_attached_its_kill_seen_and_its_new_pid_reattached(tmp_path: Path, testplugin: Path) -> None:
    state_root = tmp_path / "state"
    took: dict[str, float] = {}

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        first = await start_plugin(testplugin, "ext-plugin")
        second: PluginProcess | None = None
        try:
            async with Watching(state_root) as watching:
                began = loop.time()
                path = advertise(state_root, first)  # plugindev's format
                took["attach"] = await watching.status("ext-plugin", attached_to(first.pid), 1.5, "attached") - began
                assert watching.monitor.devinfo("ext-plugin") == json.loads(path.read_text())
                state = watching.monitor.states()["ext-plugin"]
                assert state.process is not None and (state.process.network, state.lastError) == ("unix", "")

                began = loop.time()
                os.kill(first.pid, signal.SIGKILL)
                took["kill"] = await watching.status("ext-plugin", stopped, DETECT_KILL, "the kill seen") - began
                assert not path.exists() and "ext-plugin" not in watching.monitor.states()
                assert any(m == f"pid {first.pid} is not running: removed {path}"
                           for m in watching.messages("ext-plugin"))

                second = await start_plugin(testplugin, "ext-plugin")
                began = loop.time()
                write(state_root, "ext-plugin", sdk_devinfo(second.pid, second.handshake.address, "ext-plugin"))
                took["reattach"] = await watching.status("ext-plugin", attached_to(second.pid), 1.5,
                                                         "attached to the new pid") - began
        finally:
            await first.stop()
            if second is not None:
                await second.stop()

    run(scenario())
    print(f"\nexternal monitor: attach {took['attach'] * 1000:.0f} ms, kill -9 seen and file removed in "
          f"{took['kill'] * 1000:.0f} ms, new pid attached in {took['reattach'] * 1000:.0f} ms")


@pytest.mark.integration
def test_a_real_sdk_plugin_described_by_an_sdk_format_devinfo(tmp_path: Path) -> None:
    binary = build_fixture(FIXTURES / "tcpplugin")  # Omniview plugin SDK v0.5.0, reached over TCP
    home = tmp_path / "home"
    (home / ".omniview/plugins/tcpplugin").mkdir(parents=True)  # the SDK panics without its plugin.yaml
    (home / ".omniview/plugins/tcpplugin/plugin.yaml").write_bytes((FIXTURES / "tcpplugin/plugin.yaml").read_bytes())
    state_root = tmp_path / "state"

    async def scenario() -> None:
        plugin = await start_plugin(binary, "tcpplugin", env=dict(os.environ, HOME=str(home)))
        try:
            assert plugin.handshake.network == "tcp"
            async with Watching(state_root) as watching:
                path = write(state_root, "tcpplugin", sdk_devinfo(plugin.pid, plugin.handshake.address, "tcpplugin",
                                                                   vite_port=15199))
                await watching.status("tcpplugin", attached_to(plugin.pid), 5, "attached")
                state = watching.monitor.states()["tcpplugin"]
                assert (state.viteURL, state.vitePort) == ("http://127.0.0.1:15199", 15199)
                assert state.process is not None and state.process.network == "tcp"
                assert f"attached to pid {plugin.pid} (tcp {plugin.handshake.address}; the SDK's lifecycle " \
                       "service serves)" in watching.messages("tcpplugin")
                os.kill(plugin.pid, signal.SIGKILL)
                await watching.status("tcpplugin", stopped, DETECT_KILL, "the kill seen")
                assert not path.exists()
        finally:
            await plugin.stop()

    run(scenario(), timeout=300)


@pytest.mark.integration
def test_a_plugin_folder_made_after_the_start_is_watched_and_the_monitor_never_stops_a_plugin(
        tmp_path: Path, testplugin: Path) -> None:
    state_root = tmp_path / "state"

    async def scenario() -> None:
        plugin = await start_plugin(testplugin, "late-plugin")
        try:
            async with Watching(state_root) as watching:
                await asyncio.sleep(0.2)  # the watch is on before the folder exists
                path = advertise(state_root, plugin)
                await watching.status("late-plugin", attached_to(plugin.pid), 1.5, "attached")
                path.write_text("{")  # a rewrite that is rejected: the process goes on
                await watching.status("late-plugin", lambda s: "not valid JSON" in s["lastError"], 5, "rejected")
                advertise(state_root, plugin)
                await watching.status("late-plugin", attached_to(plugin.pid), 1.5, "attached again")
            assert is_alive(plugin.pid) and await plugin.check_health(timeout=2)
            assert path.exists()  # a live plugin's file stays after the monitor stops
        finally:
            await plugin.stop()

    run(scenario())


@pytest.mark.integration
def test_a_plugin_that_plugindev_run_restarts_is_reattached_on_its_new_pid(tmp_path: Path) -> None:
    plugin_dir = copy_fixture(tmp_path / "testplugin")
    state_root = tmp_path / "state"
    with running([str(plugin_dir)], run_env(state_root)) as handle:
        handle.wait_status(ready, 240, "the plugin ready")
        first = handle.wait_for(lambda _: devinfo(state_root, "testplugin"), 10, ".devinfo")

        async def scenario() -> int:
            async with Watching(state_root) as watching:
                await watching.status("testplugin", attached_to(first["pid"]), 1.5, "attached")
                os.kill(first["pid"], signal.SIGKILL)  # plugindev run restarts it and writes a new .devinfo
                await watching.status("testplugin", lambda s: connected(s) and s["pid"] not in (0, first["pid"]), 60,
                                      "attached to the restarted plugin")
                state = watching.monitor.states()["testplugin"]
                assert state.process is not None
                return state.process.pid

        again = run(scenario())
        assert devinfo(state_root, "testplugin") is not None  # the new file was never taken for a stale one
        assert is_alive(again) and handle.process.poll() is None


@pytest.mark.integration
def test_watch_external_prints_a_line_per_change_and_exits_0_on_sigint(tmp_path: Path, testplugin: Path) -> None:
    state_root = tmp_path / "state"
    sockets = Path(tempfile.mkdtemp(prefix="pdx-"))  # unix socket paths are limited to ~104 bytes
    checks = tmp_path / "checks"
    plugin = subprocess.Popen([str(testplugin)], env=dict(os.environ, OMNIVIEW="cli-plugin", TESTPLUGIN_ID="cli-plugin",
                                                            PLUGIN_UNIX_SOCKET_DIR=str(sockets),
                                                            TESTPLUGIN_CHECKS_FILE=str(checks)),
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    watcher = subprocess.Popen([sys.executable, "-m", "orchestrator", "watch-external", "--health-interval", "0.1"],
                               env=dict(os.environ, OMNIVIEW_STATE_DIR=str(state_root), NO_COLOR="1"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    lines: list[str] = []

    def next_line(fragment: str) -> str:
        assert watcher.stdout is not None
        while True:
            line = watcher.stdout.readline()
            assert line, f"watch-external ended before a line with {fragment!r}; it printed {lines}"
            lines.append(line.rstrip("\n"))
            if fragment in line:
                return lines[-1]

    try:
        assert plugin.stdout is not None
        address = plugin.stdout.readline().split("|")[3]
        assert "watching" in next_line("/plugins/*/.devinfo")
        path = write(state_root, "cli-plugin", sdk_devinfo(plugin.pid, address, "cli-plugin"))
        assert next_line("[system] found pid").split(" ", 1)[1].startswith("cli-plugin [system] found pid")
        next_line(f"[system] attached to pid {plugin.pid} (unix {address}; no SDK lifecycle service)")
        # checked every 0.1 s: ten checks would take 50 s at the default interval
        wait_until(lambda: checks_answered(checks) >= 10, 20, "ten health checks answered")
        path.write_text('{"pid": 0}')
        next_line(f"[error] {path} rejected: pid must be a positive integer, got 0")
        path.unlink()
        next_line(f"[system] {path} was removed: no longer following the rejected file")
        watcher.send_signal(signal.SIGINT)
        assert watcher.wait(10) == 0
        assert plugin.poll() is None  # watching never stops a plugin
    finally:
        for process in (watcher, plugin):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        shutil.rmtree(sockets, ignore_errors=True)
    assert watcher.stderr is not None and watcher.stderr.read() == ""


@pytest.mark.integration
def test_grpc_connected_only_while_the_check_passes(tmp_path: Path, testplugin: Path) -> None:
    state_root = tmp_path / "state"

    async def scenario() -> None:
        plugin = await start_plugin(testplugin, "frozen-plugin")
        try:
            async with Watching(state_root, interval=1.0) as watching:
                path = advertise(state_root, plugin)
                await watching.status("frozen-plugin", attached_to(plugin.pid), 1.5, "attached")
                os.kill(plugin.pid, signal.SIGSTOP)  # alive, but it answers nothing
                await watching.status("frozen-plugin", lambda s: s["goStatus"] == "error" and not s["grpcConnected"]
                                      and "DEADLINE_EXCEEDED" in s["lastError"], 5, "the failing check shown")
                assert path.exists()  # the process lives: its file stays
                os.kill(plugin.pid, signal.SIGCONT)
                await watching.status("frozen-plugin", attached_to(plugin.pid), 5, "connected again")
                assert f"pid {plugin.pid} serves again" in watching.messages("frozen-plugin")
        finally:
            os.kill(plugin.pid, signal.SIGCONT)
            await plugin.stop()

    run(scenario())
