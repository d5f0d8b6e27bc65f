"""The go-plugin handshake parser, and real go-plugin processes (the `testplugin` fixture)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from go_support import PLUGIN_ID, build_fixture

from orchestrator.common.errors import PlugindevError
from orchestrator.common.process import group_alive, signal_group, start_time
from orchestrator.devloop.plugin_process import PluginProcess
from orchestrator.go.handshake import Handshake, HandshakeError, decode_stdio_data, parse_handshake

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
    """Run one scenario on a fresh event loop; a hang fails the test instead of stalling the session."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


# --- handshake parsing ------------------------------------------------------------------------------------------

def test_handshake_six_fields_unix() -> None:
    """go-plugin ≥ 1.5 on Linux/macOS: 6 fields (empty cert, trailing `|`), a unix socket."""
    hs = parse_handshake("1|1|unix|/tmp/plugin3584326542|grpc|\n")
    assert hs == Handshake(1, 1, "unix", "/tmp/plugin3584326542", "grpc")
    assert hs.grpc_target == "unix:/tmp/plugin3584326542"


def test_handshake_five_fields_tcp() -> None:
    hs = parse_handshake("1|3|tcp|127.0.0.1:42555|grpc")
    assert (hs.network, hs.address, hs.app_version) == ("tcp", "127.0.0.1:42555", 3)
    assert hs.grpc_target == "127.0.0.1:42555"


def test_handshake_seven_fields() -> None:
    assert parse_handshake("1|1|unix|/tmp/p|grpc||true").address == "/tmp/p"


def test_handshake_ansi_and_whitespace() -> None:
    assert parse_handshake("\x1b[0m  1|1|tcp|127.0.0.1:1|grpc|\x1b[0m \r\n").address == "127.0.0.1:1"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("2|1|unix|/tmp/p|grpc|", "core protocol 2"),
        ("1|1|unix|/tmp/p|netrpc|", "'netrpc'"),
        ("1|1|udp|/tmp/p|grpc|", "'udp'"),
        ("1|1|unix||grpc|", "empty address"),
        ("x|1|unix|/tmp/p|grpc|", "numbers"),
        ("1|1|unix|/tmp/p", "not a go-plugin handshake"),
        ("1|1|unix|/tmp/p|grpc|||x", "not a go-plugin handshake"),
        ("hello world", "not a go-plugin handshake"),
        ("", "not a go-plugin handshake"),
    ],
)
def test_handshake_errors(line: str, expected: str) -> None:
    with pytest.raises(HandshakeError) as caught:
        parse_handshake(line)
    message = str(caught.value)
    assert expected in message
    assert repr(line) in message  # names the offending line
    assert "\n" not in message
    assert isinstance(caught.value, PlugindevError)


# --- small pieces -----------------------------------------------------------------------------------------------

def test_decode_stdio_data() -> None:
    assert decode_stdio_data(b"\x08\x02\x12\x05hello") == (2, b"hello")
    assert decode_stdio_data(b"\x12\x02hi\x08\x01") == (1, b"hi")  # field order does not matter
    assert decode_stdio_data(b"") == (0, b"")
    with pytest.raises(ValueError, match="truncated"):
        decode_stdio_data(b"\x08")


# --- processes ---------------------------------------------------------------------------------------------------

class Spawned:
    """Every process PluginProcess spawns in a test: the finalizer SIGKILLs their groups (the safety net behind
    stop()) and removes the socket parent folder."""

    def __init__(self, socket_parent: Path) -> None:
        self.socket_parent = socket_parent
        self.pgids: list[int] = []
        self.envs: list[dict[str, str]] = []
        self.lines: list[tuple[str, str]] = []

    def on_output(self, stream: str, line: str) -> None:
        self.lines.append((stream, line))

    def text(self, stream: str) -> str:
        return "\n".join(line for name, line in self.lines if name == stream)


@pytest.fixture
def spawned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Spawned]:
    # A short private parent for the socket folders: unix socket paths are limited to ~104 bytes. (tmp_path
    # is requested first so pytest's own temp root is made before `tempfile.tempdir` points here.)
    parent = Path(tempfile.mkdtemp(prefix="pdt-"))
    monkeypatch.setattr(tempfile, "tempdir", str(parent))
    record = Spawned(parent)
    original = asyncio.create_subprocess_exec

    async def spawn(*args: Any, **kwargs: Any) -> asyncio.subprocess.Process:
        proc = await original(*args, **kwargs)
        record.pgids.append(proc.pid)  # start_new_session: pid == pgid
        record.envs.append(dict(kwargs.get("env") or {}))
        return proc

    monkeypatch.setattr(asyncio, "create_subprocess_exec", spawn)
    yield record
    for pgid in record.pgids:
        signal_group(pgid, signal.SIGKILL)
    shutil.rmtree(parent, ignore_errors=True)


def fake_plugin(folder: Path, body: str) -> Path:
    """A shell script standing in for a plugin binary (no Go needed)."""
    script = folder / "fake-plugin"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_early_output_tcp_and_env(spawned: Spawned, tmp_path: Path) -> None:
    """Lines before the handshake are output; env carries the cookie and socket dir, not go-plugin's mux/mTLS."""
    binary = fake_plugin(tmp_path, 'echo "cookie=$OMNIVIEW mux=${PLUGIN_MULTIPLEX_GRPC-unset} x=$X"\n'
                                   'echo "1|1|tcp|127.0.0.1:1|grpc|"\necho after\nexec sleep 30\n')

    async def scenario() -> None:
        env = {"PATH": os.environ["PATH"], "PLUGIN_MULTIPLEX_GRPC": "1", "X": "base"}
        plugin = await PluginProcess.start(binary, plugin_id="my-plugin", cwd=tmp_path, env=env,
                                           extra_env={"X": "extra"}, on_output=spawned.on_output)
        try:
            assert plugin.handshake.grpc_target == "127.0.0.1:1"
            assert await plugin.check_health(timeout=0.5) is False  # nothing listens there
        finally:
            assert await plugin.stop(timeout=1) == -signal.SIGTERM
        assert not group_alive(plugin.pid)
        assert not plugin.socket_dir.exists()
        assert spawned.envs[0]["PLUGIN_UNIX_SOCKET_DIR"] == str(plugin.socket_dir)

    run(scenario())
    assert spawned.lines[:2] == [("stdout", "cookie=my-plugin mux=unset x=extra"), ("stdout", "after")]


def test_bad_handshake_kills_the_process(spawned: Spawned, tmp_path: Path) -> None:
    binary = fake_plugin(tmp_path, 'echo "2|1|unix|/tmp/x|grpc|"\nexec sleep 30\n')
    with pytest.raises(HandshakeError, match="core protocol 2"):
        run(PluginProcess.start(binary, plugin_id="p", cwd=tmp_path, on_output=spawned.on_output))
    assert not group_alive(spawned.pgids[0])
    assert list(spawned.socket_parent.iterdir()) == []


def test_missing_binary(spawned: Spawned, tmp_path: Path) -> None:
    with pytest.raises(PlugindevError, match="cannot start plugin 'p'"):
        run(PluginProcess.start(tmp_path / "nope", plugin_id="p", cwd=tmp_path, on_output=spawned.on_output))
    assert list(spawned.socket_parent.iterdir()) == []


# --- the real go-plugin fixture ----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def binary() -> Path:
    return build_fixture()


async def start(binary: Path, spawned: Spawned, mode: str, timeout: float = 30.0) -> PluginProcess:
    return await PluginProcess.start(binary, plugin_id=PLUGIN_ID, cwd=binary.parent, on_output=spawned.on_output,
                                     extra_env={"TESTPLUGIN_MODE": mode}, handshake_timeout=timeout)


@pytest.mark.integration
def test_start_health_stop(binary: Path, spawned: Spawned) -> None:
    async def scenario() -> None:
        plugin = await start(binary, spawned, "normal")
        assert plugin.handshake.network == "unix"
        assert Path(plugin.handshake.address).parent == plugin.socket_dir
        assert Path(plugin.handshake.address).is_socket()
        assert os.getpgid(plugin.pid) == plugin.pid != os.getpgid(0)  # it leads a group of its own
        if sys.platform.startswith("linux"):
            assert plugin.start_time == start_time(plugin.pid) is not None
        assert await plugin.check_health() is True
        began = time.monotonic()
        assert await plugin.stop() == 0
        assert time.monotonic() - began < 1.5  # graceful Shutdown, not the SIGTERM/SIGKILL bounds
        assert plugin.returncode == 0
        assert not group_alive(plugin.pid)
        assert not plugin.socket_dir.exists()
        assert await plugin.stop() == 0  # idempotent
        assert await plugin.check_health() is False

    run(scenario())
    assert "testplugin id=testplugin mode=normal" in spawned.text("stderr")


@pytest.mark.integration
def test_cookie_is_required(binary: Path, spawned: Spawned, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMNIVIEW"}
    result = subprocess.run([str(binary)], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "This binary is a plugin" in result.stderr
    # A wrong plugin id is a wrong cookie value: the same refusal, reported as a handshake failure.
    with pytest.raises(HandshakeError, match=r"exited with code 1.*This binary is a plugin"):
        run(PluginProcess.start(binary, plugin_id="other", cwd=tmp_path, on_output=spawned.on_output))


@pytest.mark.integration
def test_no_handshake_times_out(binary: Path, spawned: Spawned) -> None:
    began = time.monotonic()
    with pytest.raises(HandshakeError, match=r"within 2 s.*mode=nohandshake"):
        run(start(binary, spawned, "nohandshake", timeout=2))
    assert time.monotonic() - began < 4
    assert not group_alive(spawned.pgids[0])
    assert list(spawned.socket_parent.iterdir()) == []


@pytest.mark.integration
def test_crash_before_handshake(binary: Path, spawned: Spawned) -> None:
    with pytest.raises(HandshakeError, match=r"exited with code 2; stderr: panic: testplugin: crash mode"):
        run(start(binary, spawned, "crash"))
    assert not group_alive(spawned.pgids[0])


@pytest.mark.integration
def test_exit_on_its_own(binary: Path, spawned: Spawned) -> None:
    async def scenario() -> None:
        plugin = await start(binary, spawned, "exitafter")
        assert await plugin.check_health() is True  # it exits 300 ms after its first answered check
        assert await asyncio.wait_for(plugin.wait(), 10) == 3
        assert plugin.returncode == 3
        assert await plugin.stop() == 3  # still needed: readers, channel and socket folder
        assert not plugin.socket_dir.exists()

    # Not asserted: the plugin's "exiting with status 3" line. It goes through go-plugin's stdio stream and
    # os.Exit right after the write usually ends the process before go-plugin forwards it.
    run(scenario())


@pytest.mark.integration
def test_flood_stays_healthy(binary: Path, spawned: Spawned) -> None:
    """A plugin printing megabytes per second through go-plugin's stdio stream neither blocks nor starves health."""

    async def scenario() -> None:
        plugin = await start(binary, spawned, "flood")
        try:
            for _ in range(4):
                await asyncio.sleep(0.5)
                assert await plugin.check_health(timeout=2) is True
            assert plugin.returncode is None
        finally:
            await plugin.stop()

    run(scenario())
    flood = [line for stream, line in spawned.lines if stream == "stdout"]
    assert len(flood) > 1000
    assert flood[0].startswith("0 xxxx") and flood[1].startswith("1 xxxx")  # whole lines, in order


@pytest.mark.integration
def test_ignoreterm_stops_with_shutdown(binary: Path, spawned: Spawned) -> None:
    async def scenario() -> None:
        plugin = await start(binary, spawned, "ignoreterm")
        began = time.monotonic()
        assert await plugin.stop(timeout=5) == 0  # exit code 0: Shutdown did it, not a signal
        assert time.monotonic() - began < 2
        assert not group_alive(plugin.pid)

    run(scenario())


async def _no_shutdown(self: PluginProcess, timeout: float) -> None:
    """Stands in for a plugin whose gRPC Shutdown does nothing."""


@pytest.mark.integration
@pytest.mark.parametrize(("mode", "code"), [("normal", -signal.SIGTERM), ("ignoreterm", -signal.SIGKILL)])
def test_signal_fallbacks(binary: Path, spawned: Spawned, monkeypatch: pytest.MonkeyPatch, mode: str,
                          code: int) -> None:
    monkeypatch.setattr(PluginProcess, "_request_shutdown", _no_shutdown)

    async def scenario() -> None:
        plugin = await start(binary, spawned, mode)
        began = time.monotonic()
        assert await plugin.stop(timeout=2) == code
        assert time.monotonic() - began < 3
        assert not group_alive(plugin.pid)
        assert not plugin.socket_dir.exists()

    run(scenario())
