"""Go builds for the dev loop and for a debugger: development builds leave DWARF out (panics keep file:line
traces), and `run --debug` runs a real SDK plugin under Delve, where an IDE breaks on a handler while the IDE's
go-plugin client, attached through .devinfo, waits for its answer and gets it once the debugger continues."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import struct
import subprocess
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import psutil
import pytest
from conftest import plugindev
from go_support import FIXTURE, copy_fixture
from run_support import RunHandle, devinfo, gone, ready, run_env, running, wait_new_devinfo, wait_until

from orchestrator.authoring.scaffold import ScaffoldOptions, scaffold
from orchestrator.common.net import DEBUG_PORT, HOST
from orchestrator.go.build import go_build
from orchestrator.go.delve import DELVE_VERSION
from orchestrator.go.toolchain import find_go

pytestmark = pytest.mark.integration

START = 300.0  # the first debug build compiles the SDK's whole tree without optimizations; Delve is installed
HEALTH_TIMEOUT = 5.0  # plugindev's gRPC health check gives up after this long (PluginProcess.check_health)
HANDLER = "main.itemResourcer.List"  # the scaffold's resource handler, which the IDE calls to list items
RESOURCE = "core::v1::Item"


def _sections(binary: Path) -> set[str]:
    """The section names of a 64-bit little-endian ELF file (what Go builds on linux/amd64 and arm64)."""
    data = binary.read_bytes()
    assert data[:6] == b"\x7fELF\x02\x01", f"{binary} is no 64-bit little-endian ELF file"
    shoff, = struct.unpack_from("<Q", data, 0x28)
    entsize, count, names_index = struct.unpack_from("<HHH", data, 0x3A)

    def header(index: int) -> tuple[int, int]:  # (name offset, file offset)
        name, = struct.unpack_from("<I", data, shoff + index * entsize)
        offset, = struct.unpack_from("<Q", data, shoff + index * entsize + 0x18)
        return name, offset

    names = header(names_index)[1]
    return {data[names + name:data.index(b"\0", names + name)].decode() for name, _ in map(header, range(count))}


def _has_dwarf(binary: Path) -> bool:
    return any(name.startswith((".debug_", ".zdebug_")) for name in _sections(binary))


def _build_settings(binary: Path) -> str:
    return subprocess.run([find_go(), "version", "-m", str(binary)], capture_output=True, text=True,
                          check=True).stdout


def test_dev_builds_leave_out_dwarf_and_a_panic_still_names_file_and_line(tmp_path: Path) -> None:
    binary = tmp_path / "plugin"
    result = asyncio.run(go_build(FIXTURE, find_go(), binary, on_line=lambda _line: None))
    assert result.ok, result.output
    assert not _has_dwarf(binary) and "-ldflags=-w" in _build_settings(binary)

    crashed = subprocess.run([str(binary)], env={"OMNIVIEW": "testplugin", "TESTPLUGIN_MODE": "crash"},
                             capture_output=True, text=True, timeout=30)
    panic_line = 1 + next(number for number, line in enumerate((FIXTURE / "pkg/main.go").read_text().splitlines())
                          if 'panic("testplugin: crash mode")' in line)
    assert crashed.returncode == 2
    assert "panic: testplugin: crash mode" in crashed.stderr
    assert "goroutine 1 [running]:" in crashed.stderr
    assert re.search(rf"\nmain\.main\(\)\n\t\S+/pkg/main\.go:{panic_line} ", crashed.stderr), crashed.stderr


class Delve:
    """An IDE's connection to Delve's JSON-RPC API (what VS Code's remote attach speaks too, in DAP)."""

    def __init__(self, port: int) -> None:
        self.socket = socket.create_connection((HOST, port), timeout=30)
        self.replies = self.socket.makefile("rb")
        self.last_id = 0

    def send(self, method: str, params: dict[str, Any]) -> None:
        """A request whose answer is read later (`continue` answers at the next stop)."""
        self.last_id += 1
        request = {"method": f"RPCServer.{method}", "params": [params], "id": self.last_id}
        self.socket.sendall(json.dumps(request).encode() + b"\n")

    def receive(self) -> Any:
        reply = json.loads(self.replies.readline())
        assert reply["error"] is None, reply["error"]
        return reply["result"]

    def call(self, method: str, params: dict[str, Any]) -> Any:
        self.send(method, params)
        return self.receive()

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.call("State", {"NonBlocking": True})["State"]
        return state

    def close(self) -> None:
        self.replies.close()
        self.socket.close()


def _debug_port(run: RunHandle, plugin_id: str) -> tuple[int, str]:
    """The port `plugin_id`'s Delve listens on, and the line that said it."""
    said = run.wait_for(lambda r: [e["message"] for e in r.logs()
                                   if e["pluginID"] == plugin_id and "Delve listens on" in e["message"]], 30,
                        f"the debug port of {plugin_id} said")
    match = re.search(rf"Delve listens on {re.escape(HOST)}:(\d+)", said[0])
    assert match is not None, said
    return int(match[1]), said[0]


def _under_delve(pid: int, port: int) -> bool:
    """Whether `pid` was launched by the Delve listening on `port`."""
    parent = psutil.Process(pid).parent()
    return parent is not None and parent.cmdline()[1:4] == ["exec", "--headless", f"--listen={HOST}:{port}"]


def _bound(sock: socket.socket, port: int) -> bool:
    try:
        sock.bind((HOST, port))
    except OSError:
        return False
    return True


def _attach(client: Path, info_file: Path) -> subprocess.Popen[str]:
    """The IDE's go-plugin client, reattaching through .devinfo and listing the resource."""
    return subprocess.Popen([str(client), "-devinfo", str(info_file), "-resource", RESOURCE],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _items(attached: subprocess.Popen[str]) -> list[dict[str, Any]]:
    out, err = attached.communicate(timeout=60)
    assert attached.returncode == 0, err
    items: list[dict[str, Any]] = json.loads(out)["resource"]["items"]
    return items


def _wait_halted_at(delve: Delve, function: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        state = delve.state()
        if not state["Running"]:
            thread = state["currentThread"]
            assert thread["function"]["name"] == function and thread["breakPoint"] is not None, thread
            return state
        assert time.monotonic() < deadline, f"the plugin did not stop at {function} within {timeout} s"
        time.sleep(0.02)


def test_run_debug_breaks_on_a_handler_and_the_ides_client_gets_its_answer(tmp_path: Path,
                                                                            attach_client: Path) -> None:
    plugin = tmp_path / "res"
    scaffold(plugin, ScaffoldOptions("res", "Res", "", "backend", ("resource",)).checked())
    state_root = tmp_path / "state"
    info_file = state_root / "plugins/res/.devinfo"
    env = run_env(state_root, PLUGINDEV_CACHE_DIR=str(tmp_path / "cache"))  # Delve is not installed there yet
    plugins: list[psutil.Process] = []  # the debugged plugins (psutil does not signal a pid that was reused)
    with running([str(plugin), "--debug", "--health-interval", "0.1"], env) as run:
        try:
            run.wait_status(ready, START, "the plugin ready under Delve")
            port, said = _debug_port(run, "res")
            info = run.wait_for(lambda _: devinfo(state_root, "res"), 10, ".devinfo")
            plugins.append(psutil.Process(info["pid"]))
            assert _under_delve(info["pid"], port)  # .devinfo names the plugin itself, which Delve launched
            binary = state_root / "plugins/res/bin/plugin"
            assert _has_dwarf(binary) and '-gcflags="all=-N -l"' in _build_settings(binary)

            # The IDE's debugger attaches and breaks on the handler; the IDE's client calls it and waits.
            delve = Delve(port)
            assert delve.call("Command", {"name": "halt"})["State"]["Running"] is False
            delve.call("CreateBreakpoint", {"Breakpoint": {"FunctionName": HANDLER}})
            delve.send("Command", {"name": "continue"})
            watcher = Delve(port)
            # the continue is under way (a loaded machine may answer State before it): a stop now is the breakpoint's
            wait_until(lambda: watcher.state()["Running"], 30, "the plugin running on after the halt")
            attached = _attach(attach_client, info_file)
            _wait_halted_at(watcher, HANDLER, 60)

            # Paused longer than a health check waits: plugindev does not take it for a failing plugin.
            paused_until = time.monotonic() + HEALTH_TIMEOUT + 1
            while time.monotonic() < paused_until:
                assert attached.poll() is None, "the client got an answer while the handler was stopped"
                assert devinfo(state_root, "res") == info
                time.sleep(0.1)
            assert not run.log_count(lambda e: "failing its health check" in e["message"]), run.last_logs()

            assert not delve.receive()["State"]["Running"]  # the first continue ended at the breakpoint
            delve.send("Command", {"name": "continue"})
            assert _items(attached) == [{"id": "example", "name": "Example item", "connection": "local"}]
            assert watcher.state()["Running"]

            # A save while the debugger holds the plugin paused rebuilds: Delve ends the paused one, and the new
            # process runs under a new Delve on the same port, which the IDE attaches to again; Delve is
            # installed only once.
            assert watcher.call("Command", {"name": "halt"})["State"]["Running"] is False
            delve.close()
            watcher.close()
            (plugin / "pkg" / "marker.go").write_text('package main\n\nconst marker = "saved"\n')
            again = wait_new_devinfo(run, state_root, "res", info["pid"], timeout=120)
            plugins.append(psutil.Process(again["pid"]))
            assert _under_delve(again["pid"], port) and gone(info["pid"])
            delve = Delve(port)
            assert delve.state()["Running"]
            delve.close()
            assert _items(_attach(attach_client, info_file))[0]["id"] == "example"
            installing = [e["message"] for e in run.logs() if e["message"].startswith("installing Delve")]
            assert installing == [f"installing Delve {DELVE_VERSION}, the Go debugger, into "
                                  f"{tmp_path / 'cache' / 'dlv' / DELVE_VERSION} (once)"]
            assert ("a scaffolded plugin's .vscode/launch.json attaches there" if port == DEBUG_PORT else
                    f'set "port": {port} in .vscode/launch.json') in said
            assert run.log_count(lambda e: e["message"].startswith("debugger: Delve listens on")) == 1  # once

            assert run.interrupt() == 0
            assert all(gone(process.pid) for process in plugins)
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((HOST, port))  # Delve is gone with its plugin
        finally:
            for process in plugins:  # each led a group of its own, which the run's cleanup does not know of
                with suppress(psutil.Error):
                    process.kill()


def test_plugins_share_one_delve_install_and_each_has_a_port_of_its_own_not_a_taken_one(tmp_path: Path) -> None:
    ids = ("one", "two")
    plugins = [copy_fixture(tmp_path / plugin_id) for plugin_id in ids]
    for plugin, plugin_id in zip(plugins, ids, strict=True):
        (plugin / "plugin.yaml").write_text((plugin / "plugin.yaml").read_text().replace("testplugin", plugin_id))
    state_root = tmp_path / "state"
    # each fixture copy is the plugin it is started as; Delve is not installed in that cache yet
    env = run_env(state_root, TESTPLUGIN_ID_FROM_COOKIE="1", PLUGINDEV_CACHE_DIR=str(tmp_path / "cache"))
    with socket.socket() as held:
        # held by this test: another's hold (a suite beside this one, debugging) may end before plugindev looks
        wait_until(lambda: _bound(held, DEBUG_PORT), 120, f"port {DEBUG_PORT} free to hold")
        held.listen()
        with running([*map(str, plugins), "--debug"], env) as run:
            for plugin_id in ids:
                run.wait_status(lambda s, plugin_id=plugin_id: s["pluginID"] == plugin_id and ready(s), START,
                                f"{plugin_id} ready under Delve")
            said = {plugin_id: _debug_port(run, plugin_id) for plugin_id in ids}
            ports = {port for port, _line in said.values()}
            assert len(ports) == 2 and DEBUG_PORT not in ports
            for plugin_id, (port, line) in said.items():
                assert f'{DEBUG_PORT} is taken: set "port": {port} in .vscode/launch.json' in line
                info = devinfo(state_root, plugin_id)
                assert info is not None and _under_delve(info["pid"], port)
            assert run.log_count(lambda e: e["message"].startswith("installing Delve")) == 1
            assert run.interrupt() == 0


def test_the_scaffold_attaches_vscode_to_delves_port(tmp_path: Path) -> None:
    backend = tmp_path / "backend"
    scaffold(backend, ScaffoldOptions("backend", "Backend", "", "backend").checked())
    text = (backend / ".vscode/launch.json").read_text()
    launch = json.loads("\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//")))
    assert launch["configurations"] == [{"name": "Attach to plugindev run --debug", "type": "go", "request": "attach",
                                         "mode": "remote", "host": HOST, "port": DEBUG_PORT}]
    ui_only = tmp_path / "ui-only"
    scaffold(ui_only, ScaffoldOptions("ui-only", "UI", "", "ui").checked())
    assert not (ui_only / ".vscode").exists()  # nothing to debug in Go


def test_debug_needs_the_go_backend(tmp_path: Path) -> None:
    result = plugindev("run", "--debug", "--no-go", str(tmp_path))
    assert result.returncode == 2
    assert "--debug debugs the Go backend, which --no-go leaves out" in result.stderr
