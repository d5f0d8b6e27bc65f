"""`plugindev status`: the aggregate status, the API of a running plugindev (a real aiohttp server serving the
documented contract), the `.devinfo` fallback with real files and processes, `--json`, and `--watch`."""

from __future__ import annotations

import asyncio
import io
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from conftest import REPO, plugindev
from process_support import dead_pid

from orchestrator.common.process import start_time
from orchestrator.diagnose.aggregate import COLOURS, Aggregate, aggregate_status
from orchestrator.diagnose.status import NO_PLUGIN, Snapshot, StatusPrinter, watch_status

TOKEN = "test-token-0123456789"


def _state(plugin_id: str = "hello-plugin", **changes: Any) -> dict[str, Any]:
    """A state as the API serves it (DevState.to_json())."""
    state: dict[str, Any] = {
        "pluginID": plugin_id, "mode": "managed", "devPath": f"/src/{plugin_id}", "vitePort": 15173,
        "viteURL": "http://127.0.0.1:15173", "viteStatus": "ready", "goStatus": "ready",
        "lastBuildDuration": 1_800_000_000, "lastBuildTime": _today_utc(12, 1, 3), "lastError": "",
        "grpcConnected": True, "pid": 1234,
    }
    return {**state, **changes}


def _today_utc(hour: int, minute: int, second: int) -> str:
    """RFC 3339 (UTC) of a local time of day today, as the API writes lastBuildTime."""
    local = datetime.now().astimezone().replace(hour=hour, minute=minute, second=second, microsecond=0)
    return local.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _words(line: str) -> str:
    return " ".join(line.split())


# -- the aggregate status ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("vite", "go", "connected", "expected"), [
    ("ready", "error", True, Aggregate.ERROR),
    ("error", "ready", True, Aggregate.ERROR),
    ("error", "building", False, Aggregate.ERROR),  # error wins over building
    ("ready", "building", True, Aggregate.BUILDING),
    ("starting", "ready", True, Aggregate.BUILDING),
    ("stopped", "stopped", False, Aggregate.STOPPED),
    ("stopped", "ready", True, Aggregate.READY),  # vite stopped but the plugin still connected
    ("ready", "starting", False, Aggregate.CONNECTING),
    ("idle", "ready", False, Aggregate.CONNECTING),
    ("ready", "ready", True, Aggregate.READY),
    ("idle", "ready", True, Aggregate.READY),  # a backend-only plugin
])
def test_aggregate_follows_the_ide_rule_in_order(vite: str, go: str, connected: bool, expected: Aggregate) -> None:
    assert aggregate_status({"viteStatus": vite, "goStatus": go, "grpcConnected": connected}) is expected


def test_aggregate_colours_are_the_ides() -> None:
    assert COLOURS == {Aggregate.READY: "#3fb950", Aggregate.BUILDING: "#d29922", Aggregate.ERROR: "#f85149",
                       Aggregate.STOPPED: "#8b949e", Aggregate.CONNECTING: "#58a6ff"}


# -- .devinfo files ----------------------------------------------------------------------------------------


def _write_devinfo(root: Path, plugin_id: str, **info: Any) -> Path:
    folder = root / "plugins" / plugin_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ".devinfo"
    path.write_text(json.dumps({"protocol": "grpc", "protocolVersion": 1, "addr": "/tmp/plugin.sock",
                                "network": "unix", "pluginId": plugin_id, "version": "0.1.0",
                                "startedAt": "2025-01-01T00:00:00Z", **info}))
    return path


def _installed_binary(root: Path, plugin_id: str, built: datetime) -> None:
    binary = root / "plugins" / plugin_id / "bin" / "plugin"
    binary.parent.mkdir(parents=True, exist_ok=True)
    binary.write_bytes(b"\x7fELF")
    os.utime(binary, (built.timestamp(), built.timestamp()))


def test_devinfo_fallback_shows_live_stopped_unchecked_and_broken_plugins(state_dir: Path,
                                                                           sleeper: subprocess.Popen[bytes]) -> None:
    dead = dead_pid()
    _write_devinfo(state_dir, "live", pid=sleeper.pid, processStartTime=start_time(sleeper.pid), vitePort=15180,
                   plugindevPid=os.getpid())
    _installed_binary(state_dir, "live", datetime.now().replace(hour=9, minute=30, second=15, microsecond=0))
    stopped = _write_devinfo(state_dir, "gone", pid=dead, vitePort=15181, plugindevPid=os.getpid())
    # the plugin runs, but the plugindev that wrote the file (and checked its health) does not
    _write_devinfo(state_dir, "orphan", pid=sleeper.pid, plugindevPid=dead)
    broken = state_dir / "plugins" / "broken" / ".devinfo"
    broken.parent.mkdir(parents=True)
    broken.write_text("{not json")

    result = plugindev("status", env={**os.environ, "OMNIVIEW_STATE_DIR": str(state_dir)})

    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: _words(line) for line in result.stdout.splitlines()}
    assert lines["live"] == f"live ready vite http://127.0.0.1:15180 pid {sleeper.pid} built 09:30:15"
    assert lines["gone"] == (f"gone stopped vite stopped :15181 no process error: process {dead} of {stopped} "
                             "is no longer running")
    assert lines["orphan"] == (f"orphan connecting pid {sleeper.pid} error: no running plugindev checks "
                               f"process {sleeper.pid}'s health")
    assert lines["broken"].startswith(f"broken error no process error: {broken} is not a valid .devinfo")
    assert list(lines) == ["broken", "gone", "live", "orphan"]  # sorted by id, one line each
    assert stopped.is_file() and broken.is_file()  # status reads, never deletes


def test_json_adds_the_aggregate_and_its_colour(state_dir: Path, sleeper: subprocess.Popen[bytes]) -> None:
    _write_devinfo(state_dir, "live", pid=sleeper.pid, processStartTime=start_time(sleeper.pid),
                   plugindevPid=os.getpid())
    _write_devinfo(state_dir, "gone", pid=dead_pid())

    result = plugindev("status", "--json", env={**os.environ, "OMNIVIEW_STATE_DIR": str(state_dir)})

    assert result.returncode == 0, result.stderr
    states = json.loads(result.stdout)
    assert [(s["pluginID"], s["aggregate"], s["aggregateColor"]) for s in states] == [
        ("gone", "stopped", "#8b949e"), ("live", "ready", "#3fb950")]
    live = states[1]
    assert live["pid"] == sleeper.pid and live["grpcConnected"] is True and live["viteURL"] == ""
    assert set(live) >= {"pluginID", "mode", "devPath", "vitePort", "viteStatus", "goStatus", "lastBuildDuration",
                         "lastBuildTime", "lastError"}


def test_no_plugin_says_so_and_how_to_start_one(state_dir: Path) -> None:
    result = plugindev("status", env={**os.environ, "OMNIVIEW_STATE_DIR": str(state_dir)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == NO_PLUGIN
    assert "plugindev run" in NO_PLUGIN


# -- a running plugindev's API -----------------------------------------------------------------------------


class FakeApi:
    """The API contract of a running `plugindev serve`/`run`: api.json with url, token and pid, a bearer token
    on every request, `GET /api/plugins`, and the SSE stream `GET /api/events`."""

    def __init__(self, states: list[dict[str, Any]]) -> None:
        self.states = states
        self.stream: asyncio.Queue[tuple[str, Any] | None] = asyncio.Queue()  # None ends the stream
        self.list_requests = 0
        self._runner: web.AppRunner | None = None
        self._next_id = 0

    def _refused(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": "missing or wrong token"}, status=401)
        return None

    async def plugins(self, request: web.Request) -> web.Response:
        self.list_requests += 1
        return self._refused(request) or web.json_response(self.states)

    async def events(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refused(request)) is not None:
            return refused
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b": heartbeat\n\n")
        while (item := await self.stream.get()) is not None:
            name, data = item
            self._next_id += 1
            await response.write(f"id: {self._next_id}\nevent: {name}\ndata: {json.dumps(data)}\n\n".encode())
        return response

    async def start(self, root: Path, pid: int | None = None) -> None:
        app = web.Application()
        app.add_routes([web.get("/api/plugins", self.plugins), web.get("/api/events", self.events)])
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        api_json = root / "plugindev" / "api.json"
        api_json.parent.mkdir(parents=True, exist_ok=True)
        api_json.write_text(json.dumps({"url": f"http://127.0.0.1:{port}", "token": TOKEN,
                                        "pid": os.getpid() if pid is None else pid}))
        api_json.chmod(0o600)

    async def close(self) -> None:
        self.stream.put_nowait(None)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def _cli(root: Path, *args: str) -> tuple[int, str, str]:
    """The real command line, run while the fake API serves on this event loop."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator", *args, cwd=REPO, env={**os.environ, "OMNIVIEW_STATE_DIR": str(root)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 30)
    return process.returncode or 0, out.decode(), err.decode()


def test_status_reads_a_running_plugindev_through_its_api(state_dir: Path) -> None:
    # a .devinfo that the API's answer must win over
    _write_devinfo(state_dir, "hello-plugin", pid=dead_pid())

    async def scenario() -> None:
        api = FakeApi([_state(), _state("other", viteStatus="starting", viteURL="", goStatus="building", pid=0,
                                        grpcConnected=False, lastBuildTime="", lastBuildDuration=0)])
        await api.start(state_dir)
        try:
            code, out, err = await _cli(state_dir, "status")
            assert code == 0, err
            assert [_words(line) for line in out.splitlines()] == [
                "hello-plugin ready vite http://127.0.0.1:15173 pid 1234 built 12:01:03 (1.8 s)",
                "other building vite starting :15173 no process",
            ]
            assert api.list_requests == 1
            code, out, err = await _cli(state_dir, "status", "--json")
            assert code == 0, err
            assert [(s["pluginID"], s["aggregate"]) for s in json.loads(out)] == [("hello-plugin", "ready"),
                                                                                 ("other", "building")]
        finally:
            await api.close()

    asyncio.run(scenario())


def test_a_refusing_api_falls_back_to_the_devinfo_files_with_a_warning(state_dir: Path) -> None:
    _write_devinfo(state_dir, "from-devinfo", pid=dead_pid())

    async def scenario() -> None:
        api = FakeApi([_state()])
        await api.start(state_dir)
        data = json.loads((state_dir / "plugindev/api.json").read_text())
        (state_dir / "plugindev/api.json").write_text(json.dumps({**data, "token": "wrong"}))
        try:
            code, out, err = await _cli(state_dir, "status")
        finally:
            await api.close()
        assert code == 0, err
        assert _words(out).startswith("from-devinfo stopped")
        assert "answered 401: missing or wrong token; showing the .devinfo files instead" in err
        assert "Traceback" not in err

    asyncio.run(scenario())


def test_an_api_json_of_a_dead_process_is_ignored(state_dir: Path) -> None:
    _write_devinfo(state_dir, "from-devinfo", pid=dead_pid())

    async def scenario() -> None:
        api = FakeApi([_state()])
        await api.start(state_dir, pid=dead_pid())
        try:
            code, out, err = await _cli(state_dir, "status")
        finally:
            await api.close()
        assert code == 0, err
        assert _words(out).startswith("from-devinfo stopped") and err == ""
        assert api.list_requests == 0

    asyncio.run(scenario())


# -- --watch -----------------------------------------------------------------------------------------------


def test_watch_follows_the_event_stream_then_the_files_when_plugindev_stops(state_dir: Path) -> None:
    out = io.StringIO()
    printer = StatusPrinter(out, as_json=False, colour=False, watching=True)
    shown: list[Snapshot] = []

    def show(snapshot: Snapshot) -> None:
        shown.append(snapshot)
        printer(snapshot)

    async def until(condition: Any) -> None:
        while not condition():
            await asyncio.sleep(0.01)

    async def scenario() -> None:
        api = FakeApi([_state(goStatus="building", grpcConnected=False)])
        await api.start(state_dir)
        for old in ("starting", "building"):  # a replay of earlier events, sent as the stream opens
            api.stream.put_nowait(("plugin/devserver/status", _state(goStatus=old)))
        api.stream.put_nowait(("plugin/devserver/log", [{"message": "not a status"}]))
        watcher = asyncio.create_task(watch_status(state_dir, show, poll_interval=0.05, quiet=0.05))
        try:
            async with asyncio.timeout(10):
                await until(lambda: api.list_requests >= 2)  # the replay was read, as one burst
                api.states = [_state()]
                api.stream.put_nowait(("plugin/devserver/status", _state()))
                await until(lambda: "ready" in out.getvalue())
                # plugindev stops: its stream ends, its server closes, and its api.json goes a moment later;
                # meanwhile the .devinfo files are read, with no warning about an API that is stopping
                await api.close()
                await until(lambda: NO_PLUGIN in out.getvalue())
                (state_dir / "plugindev/api.json").unlink()
                _write_devinfo(state_dir, "by-hand", pid=dead_pid())
                await until(lambda: "by-hand" in out.getvalue())
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
            await api.close()

    asyncio.run(scenario())
    blocks = [_words(block) for block in out.getvalue().strip().split("\n\n")]
    expected = ["hello-plugin building vite http://127.0.0.1:15173 pid 1234",  # once: the replay showed no change
                "hello-plugin ready vite http://127.0.0.1:15173 pid 1234", NO_PLUGIN, "by-hand stopped no process"]
    assert len(blocks) == len(expected), blocks
    assert all(block.startswith(start) for block, start in zip(blocks, expected, strict=True)), blocks
    assert [s.source.startswith("the API") for s in shown[:2]] == [True, True]
    assert [s.notes for s in shown if s.notes] == []


def test_watch_on_the_command_line_prints_changes_and_ends_on_ctrl_c(state_dir: Path) -> None:
    process = subprocess.Popen([sys.executable, "-m", "orchestrator", "status", "--watch", "--json"], cwd=REPO,
                               env={**os.environ, "OMNIVIEW_STATE_DIR": str(state_dir)}, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout or ()], daemon=True).start()
    try:
        assert json.loads(lines.get(timeout=20)) == []
        _write_devinfo(state_dir, "late", pid=dead_pid())
        change = json.loads(lines.get(timeout=10))  # the files are read once a second
        assert [(s["pluginID"], s["aggregate"]) for s in change] == [("late", "stopped")]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        assert process.stderr is not None and "Traceback" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
