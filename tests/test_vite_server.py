"""The Vite dev server runner: ports, ANSI banners, readiness, timeouts, crashes, restarts, clean stops.

Fake `node_modules/.bin/vite` scripts cover the failure paths quickly; the integration tests run the real
Vite 8 of a scaffolded UI-only plugin. Every process group a test starts is gone when it ends (checked, and
killed by group id in the teardown otherwise), never by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from run_support import recorded_groups
from session_support import Harness, harness
from vite_support import free_port, own_port

from orchestrator.authoring.scaffold import ScaffoldOptions, scaffold
from orchestrator.common.errors import PlugindevError
from orchestrator.common.lines import strip_ansi
from orchestrator.common.node import ensure_node_env
from orchestrator.common.process import group_alive as group_runs
from orchestrator.common.process import signal_group
from orchestrator.devloop.vite import PORT_RANGE, ViteServer, allocate_port, port_is_free
from orchestrator.link.setup import prepare_ui

pytestmark = pytest.mark.usefixtures("own_home")

# What Vite 8.3.8 prints when colours are on (FORCE_COLOR or a TTY): the URL's port is wrapped in bold codes.
VITE8_LOCAL = "  \x1b[32m➜\x1b[39m  \x1b[1mLocal\x1b[22m:   \x1b[36mhttp://127.0.0.1:\x1b[1m15173\x1b[22m/\x1b[39m"
VITE8_READY = ("  \x1b[32m\x1b[1mVITE\x1b[22m v8.3.8\x1b[39m  "
               "\x1b[2mready in \x1b[0m\x1b[1m185\x1b[22m\x1b[2m\x1b[0m ms\x1b[22m")


def group_alive(pgid: int, grace: float = 5.0) -> bool:
    """Whether a live member of the process group is still there after `grace` seconds."""
    deadline = time.monotonic() + grace
    while group_runs(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return group_runs(pgid)


class Started:
    """Every ViteServer a test creates; the teardown SIGKILLs the group of any that is still alive."""

    def __init__(self) -> None:
        self.servers: list[ViteServer] = []
        self.lines: list[str] = []

    def server(self, ui_dir: Path, port: int, env: dict[str, str] | None = None, **kwargs: Any) -> ViteServer:
        server = ViteServer(ui_dir, port, env=env or dict(os.environ), on_output=self.lines.append, **kwargs)
        self.servers.append(server)
        return server

    def on(self, ui_dir: Path, env: dict[str, str] | None = None) -> Servers:
        """A `make_server` for a session's UI part: real ViteServers on `ui_dir`, tracked here."""
        return Servers(self, ui_dir, env)

    def leftovers(self) -> list[int]:
        return [s.pid for s in self.servers if s.pid is not None and group_alive(s.pid)]


class Servers:
    def __init__(self, started: Started, ui_dir: Path, env: dict[str, str] | None) -> None:
        self.started, self.ui_dir, self.env = started, ui_dir, env

    def make_server(self, _ui_dir: Path, port: int, _env: dict[str, str], on_output: Callable[[str], None],
                    timeout: float, on_spawn: Callable[[int], None]) -> ViteServer:
        server = self.started.server(self.ui_dir, port, self.env, ready_timeout=timeout, on_spawn=on_spawn)
        server.on_output = lambda line: (self.started.lines.append(line), on_output(line))[-1]
        return server


@pytest.fixture
def started() -> Iterator[Started]:
    tracker = Started()
    yield tracker
    leftovers = tracker.leftovers()
    for pgid in leftovers:
        signal_group(pgid, signal.SIGKILL)
    assert not leftovers, f"process groups left running: {leftovers}"


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 90))


def fake_vite(tmp_path: Path, script: str) -> Path:
    """A ui/ whose `node_modules/.bin/vite` is a shell script (gets `--port N ...` as "$@", port as $2)."""
    ui_dir = tmp_path / "ui"
    binary = ui_dir / "node_modules" / ".bin" / "vite"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n" + script)
    binary.chmod(0o755)
    return ui_dir


def fake_serving_vite(tmp_path: Path) -> Path:
    """A fake Vite that prints Vite 8's coloured banner, then serves /@vite/client with Python's http.server."""
    root = tmp_path / "www"
    (root / "@vite").mkdir(parents=True)
    (root / "@vite" / "client").write_text("export {}\n")
    banner = VITE8_LOCAL.replace("15173", "$2")
    return fake_vite(tmp_path, f"printf '%s\\n' \"{banner}\"\n"
                               f"exec {sys.executable} -m http.server \"$2\" --bind 127.0.0.1 --directory {root}\n")


def held_port(port: int | None = None) -> tuple[socket.socket, int]:
    """A listening socket on `port`, by default the first free port of the Vite range (15173 on a quiet machine)."""
    port = allocate_port() if port is None else port
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # earlier tests' TIME_WAIT connections
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock, port


async def get_status(port: int, path: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
    status = (await reader.readline()).split()[1]
    writer.close()
    return int(status)


async def wait_for_status(statuses: list[tuple[str, str]], wanted: Callable[[list[str]], bool],
                          timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not wanted([state for state, _ in statuses]):
        assert time.monotonic() < deadline, f"statuses so far: {statuses}"
        await asyncio.sleep(0.05)


# --- ports and banners -------------------------------------------------------------------------------


def test_strip_ansi_exposes_the_port_of_a_vite8_banner() -> None:
    assert "127.0.0.1:15173" not in VITE8_LOCAL  # why stripping matters: bold codes split host and port
    plain = strip_ansi(VITE8_LOCAL)
    assert plain == "  ➜  Local:   http://127.0.0.1:15173/"
    assert "Local:" in plain and ":15173/" in plain
    assert strip_ansi(VITE8_READY) == "  VITE v8.3.8  ready in 185 ms"
    assert strip_ansi("\x1b]8;;http://x\x07link\x1b]8;;\x07 \x1b[2K\x1b[1Gdone") == "link done"


def test_allocate_port_skips_taken_ports() -> None:
    first = allocate_port()
    assert allocate_port(taken={first}, ports=range(first, first + 50)) > first
    assert allocate_port() == first  # taken ports are not reserved anywhere: only skipped


def test_allocate_port_skips_a_bound_port() -> None:
    sock, port = held_port()
    with sock:
        assert not port_is_free(port)
        assert allocate_port() > port  # 15174 when 15173 is the one held
    assert port_is_free(port)


def test_allocate_port_names_the_range_when_all_are_taken() -> None:
    with pytest.raises(PlugindevError, match="15300-15302"):
        allocate_port(taken={15300, 15301, 15302}, ports=range(15300, 15303))
    sock, port = held_port(free_port())  # one of this test's own: holding the shared range fails others' Vites
    with sock, pytest.raises(PlugindevError, match=f"^no free port for Vite in {port}-{port} on 127.0.0.1; stop "
                                                   "whatever listens there"):
        allocate_port(ports=range(port, port + 1))
    assert range(15173, 15273) == PORT_RANGE


# --- fake Vite: readiness, failures, stopping -----------------------------------------------------------


def test_ansi_banner_and_http_check_make_it_ready(tmp_path: Path, started: Started) -> None:
    async def scenario() -> None:
        port = allocate_port()
        spawned: list[int] = []
        server = started.server(fake_serving_vite(tmp_path), port, ready_timeout=10, on_spawn=spawned.append)
        await server.start()
        assert spawned == [server.pid] and server.pid is not None and os.getpgid(server.pid) == server.pid
        assert await get_status(port, "/@vite/client") == 200
        assert any("Local" in line and "\x1b[" in line for line in started.lines)  # raw lines reach on_output
        await server.stop()

    run(scenario())


def test_no_banner_times_out_and_kills_the_group(tmp_path: Path, started: Started) -> None:
    ui_dir = fake_vite(tmp_path, "echo booting\nsleep 60\n")  # sh + a sleep child in the group

    async def scenario() -> None:
        server = started.server(ui_dir, allocate_port(), ready_timeout=0.5)
        with pytest.raises(PlugindevError, match=r"did not report ready on port \d+ within 0.5 s; "
                                                 r"last output: booting"):
            await server.start()
        assert server.pid is not None and not group_alive(server.pid)

    run(scenario())


def test_exit_before_ready_names_the_code_and_output(tmp_path: Path, started: Started) -> None:
    ui_dir = fake_vite(tmp_path, "echo \"Error: Port $2 is already in use\" >&2\nexit 1\n")

    async def scenario() -> None:
        server = started.server(ui_dir, allocate_port())
        with pytest.raises(PlugindevError, match=r"Vite exited with code 1 before it was ready .*already in use"):
            await server.start()

    run(scenario())


def test_missing_binary_is_a_clear_error(tmp_path: Path, started: Started) -> None:
    with pytest.raises(PlugindevError, match="is missing; install the UI's dependencies"):
        run(started.server(tmp_path, allocate_port()).start())


def test_stop_kills_a_group_that_ignores_sigterm(tmp_path: Path, started: Started) -> None:
    # The banner makes start() wait for HTTP; stop() while it waits must end the group (cancellation path),
    # and a stubborn group (SIGTERM ignored, inherited by its children) gets SIGKILL after the timeout.
    ui_dir = fake_vite(tmp_path, "trap '' TERM\necho \"Local: http://127.0.0.1:$2/\"\n"
                                 "while :; do sleep 0.1; done\n")

    async def scenario() -> None:
        server = started.server(ui_dir, allocate_port(), ready_timeout=30)
        starting = asyncio.create_task(server.start())
        async with asyncio.timeout(10):  # its banner: SIGTERM is ignored by then, and start() waits for HTTP
            while not any("Local:" in line for line in started.lines):
                await asyncio.sleep(0.01)
        assert server.pid is not None and group_alive(server.pid, grace=0)
        t0 = time.monotonic()
        await server.stop(timeout=0.5)
        assert time.monotonic() - t0 < 3
        assert not group_alive(server.pid)
        await server.stop()  # idempotent
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError, PlugindevError):
            await starting

    run(scenario())


# _serving: the Vite that serves is the last one started: one whose port another program took just before it
# listened (another test run beside this one) is followed by one on the next port.


def _vite_statuses(h: Harness) -> list[str]:
    """The UI part's status changes, in order, without repeats."""
    seen: list[str] = []
    for status in h.statuses():
        if not seen or seen[-1] != status["viteStatus"]:
            seen.append(status["viteStatus"])
    return seen


def test_a_first_start_that_fails_ends_the_ui_part_with_vites_words(tmp_path: Path, started: Started) -> None:
    ui_dir = fake_vite(tmp_path, "echo 'error: broken config' >&2\nexit 3\n")

    async def scenario() -> None:
        with pytest.raises(ExceptionGroup) as raised:
            async with harness(tmp_path, backend=False, vite=started.on(ui_dir)) as h:
                await h.until(lambda: "stopped" in _vite_statuses(h), "the UI part ended by itself", timeout=10)
        (error,) = raised.value.exceptions
        assert str(error).startswith("Vite exited with code 3 before it was ready on port")
        assert "error: broken config" in str(error)
        assert _vite_statuses(h) == ["starting", "error", "stopped"]

    run(scenario())


def test_a_crashed_vite_is_restarted_on_the_same_port(tmp_path: Path, started: Started) -> None:
    ui_dir = fake_serving_vite(tmp_path)

    async def scenario() -> None:
        async with harness(tmp_path, backend=False, vite=started.on(ui_dir), ports=own_port()) as h:
            await h.until(lambda: h.state.viteStatus == "ready", "Vite ready", timeout=10)
            port, first, began = h.state.vitePort, started.servers[-1], len(started.servers)  # see _serving
            assert first.pid is not None
            signal_group(first.pid, signal.SIGKILL)
            await h.until(lambda: len(started.servers) > began and h.state.viteStatus == "ready", "again", timeout=10)
            assert started.servers[-1].port == port
            assert "Vite exited with code -9 (SIGKILL); restarting it in 0.01 s" in h.messages()
        assert _vite_statuses(h) == ["starting", "ready", "error", "starting", "ready", "stopped"]

    run(scenario())


# --- real Vite 8 of a scaffolded UI-only plugin --------------------------------------------------------


@pytest.fixture(scope="module")
def real_ui(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    plugin_dir = tmp_path_factory.mktemp("vite-server") / "viteserver"
    scaffold(plugin_dir, ScaffoldOptions("viteserver", "Vite Server", "", "ui").checked())

    async def prepare() -> dict[str, str]:
        node_env = await ensure_node_env()
        await prepare_ui(plugin_dir, node_env)
        return node_env.environ()

    env = asyncio.run(prepare())
    return plugin_dir / "ui", env


@pytest.mark.integration
def test_real_vite_starts_serves_and_stops(real_ui: tuple[Path, dict[str, str]], started: Started) -> None:
    ui_dir, env = real_ui

    async def scenario() -> None:
        server = started.server(ui_dir, allocate_port(), env)
        await server.start()
        assert server.pid is not None and server.pid == os.getpgid(server.pid) and server.pid != os.getpgid(0)
        assert await get_status(server.port, "/@vite/client") == 200
        assert any("Local:" in strip_ansi(line) for line in started.lines)
        await server.stop()
        with pytest.raises(ProcessLookupError):  # at once: Vite 8 has no child processes to wait for
            os.killpg(server.pid, 0)
        assert port_is_free(server.port)

    run(scenario())


@pytest.mark.integration
def test_real_vite_killed_is_restarted_on_the_same_port(real_ui: tuple[Path, dict[str, str]], started: Started,
                                                        tmp_path: Path) -> None:
    ui_dir, env = real_ui

    async def scenario() -> None:
        async with harness(tmp_path, backend=False, vite=started.on(ui_dir, env), ports=own_port()) as h:
            await h.until(lambda: h.state.viteStatus == "ready", "Vite ready", timeout=30)
            port, first, began = h.state.vitePort, started.servers[-1], len(started.servers)  # see _serving
            assert first.pid is not None
            signal_group(first.pid, signal.SIGKILL)
            t0 = time.monotonic()
            await h.until(lambda: len(started.servers) > began and h.state.viteStatus == "ready", "again", timeout=10)
            assert time.monotonic() - t0 < 5
            second = started.servers[-1]
            assert second.port == port and await get_status(port, "/@vite/client") == 200
        assert second.pid is not None and not group_alive(second.pid)
        assert _vite_statuses(h) == ["starting", "ready", "error", "starting", "ready", "stopped"]

    run(scenario())


@pytest.mark.integration
def test_a_held_port_is_skipped_and_vite_never_wanders_off_one(real_ui: tuple[Path, dict[str, str]],
                                                               started: Started) -> None:
    ui_dir, env = real_ui
    sock, held = held_port()

    async def scenario() -> None:
        port = allocate_port()
        assert port > held  # 15174 when the test holds 15173
        server = started.server(ui_dir, port, env)
        await server.start()
        assert await get_status(port, "/@vite/client") == 200
        await server.stop()
        # given the held port itself, --strictPort makes Vite fail rather than pick another
        blocked = started.server(ui_dir, held, env)
        with pytest.raises(PlugindevError, match=rf"Vite exited with code 1 before it was ready on port {held}; "
                                                 rf"last output: .*{held}"):
            await blocked.start()

    with sock:
        run(scenario())


@pytest.mark.integration
def test_a_port_taken_between_the_check_and_vites_listen_moves_vite_to_the_next(
        real_ui: tuple[Path, dict[str, str]], started: Started, tmp_path: Path) -> None:
    """Two plugindevs starting at the same moment both find the first port free; the one whose Vite comes second
    meets it taken (Vite, --strictPort, exits) and tries the next free port, instead of ending the run."""
    ui_dir, env = real_ui
    taker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)

    class Racing(Servers):
        def make_server(self, ui: Path, port: int, *args: Any) -> ViteServer:
            if not started.servers:  # the other program listens just before the first Vite does
                taker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                taker.bind(("127.0.0.1", port))
                taker.listen()
            return super().make_server(ui, port, *args)

    async def scenario() -> None:
        async with harness(tmp_path, backend=False, vite=Racing(started, ui_dir, env)) as h:
            await h.until(lambda: h.state.viteStatus == "ready", "Vite ready on another port", timeout=60)
            # the next port may be taken too (other tests share the range): then it moves on again
            first, second = started.servers[0].port, started.servers[-1].port
            assert h.state.vitePort == second != first == taker.getsockname()[1]
            assert any(m.startswith(f"port {first} is taken; moving to ") for m in h.messages())
            vites = [group["pid"] for group in recorded_groups(tmp_path) if group["kind"] == "vite"]
            assert vites == [started.servers[-1].pid]  # the failed one's record is gone with it
            assert await get_status(second, "/@vite/client") == 200

    with taker:
        run(scenario())
