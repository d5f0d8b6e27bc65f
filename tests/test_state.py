"""The state a plugin's parts move, and the .devinfo it implies."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from orchestrator.common.process import start_time
from orchestrator.model.state import (
    HEALTH_LOST,
    BackendProcess,
    BuildFinished,
    Change,
    DevState,
    GoBusy,
    InstallFailed,
    PluginFailed,
    PluginHealth,
    PluginShutDown,
    PluginStarted,
    PluginStopped,
    ReplacementFailed,
    SessionStopped,
    Status,
    UiBuild,
    UiFailed,
    ViteReady,
    ViteStarting,
    apply_change,
)
from orchestrator.statefiles.devinfo import DevinfoFile, advertised

PROCESS = BackendProcess(4242, 17, "unix", "/tmp/sock", "grpc", 1, "2026-01-01T00:00:00.000Z", "0.1.0")


def _after(*changes: Change) -> DevState:
    state = DevState(pluginID="p", devPath="/x")
    for change in changes:
        state = apply_change(state, change)
    return state


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ((ViteStarting(15173),), {"viteStatus": Status.STARTING, "vitePort": 15173, "viteURL": ""}),
        ((ViteStarting(15173), ViteReady(15173)), {"viteStatus": Status.READY, "viteURL": "http://127.0.0.1:15173"}),
        ((ViteReady(15173), UiFailed("Vite exited")), {"viteStatus": Status.ERROR, "viteURL": "",
                                                       "lastError": "Vite exited"}),
        ((UiBuild(done=False),), {"viteStatus": Status.BUILDING}),
        ((UiBuild(done=False), UiBuild(done=True)), {"viteStatus": Status.READY}),
        ((GoBusy(Status.BUILDING),), {"goStatus": Status.BUILDING}),
        ((GoBusy(Status.BUILDING), BuildFinished(5, "a.go:1:1: bad")),
         {"goStatus": Status.ERROR, "lastError": "a.go:1:1: bad", "lastBuildDuration": 5}),
        ((GoBusy(Status.BUILDING), BuildFinished(5), GoBusy(Status.STARTING)),
         {"goStatus": Status.STARTING, "lastBuildDuration": 5}),
        ((PluginStarted(PROCESS),), {"goStatus": Status.READY, "grpcConnected": True, "process": PROCESS}),
        ((PluginStarted(PROCESS), GoBusy(Status.STARTING), ReplacementFailed("no handshake")),
         {"goStatus": Status.ERROR, "lastError": "no handshake", "process": PROCESS, "grpcConnected": True}),
        ((PluginStarted(PROCESS), PluginHealth(False, 4242)), {"goStatus": Status.ERROR, "grpcConnected": False,
                                                               "lastError": HEALTH_LOST, "process": PROCESS}),
        ((PluginStarted(PROCESS), PluginHealth(False, 4242), PluginHealth(True, 4242)),
         {"goStatus": Status.READY, "grpcConnected": True, "lastError": ""}),
        # a build error is not cleared by a health check that passes
        ((PluginStarted(PROCESS), BuildFinished(5, "bad"), PluginHealth(True, 4242)),
         {"goStatus": Status.ERROR, "lastError": "bad", "grpcConnected": True}),
        ((PluginStarted(PROCESS), PluginFailed("exited")), {"goStatus": Status.ERROR, "process": None,
                                                                  "grpcConnected": False, "lastError": "exited"}),
        ((PluginStarted(PROCESS), PluginStopped(4242)), {"goStatus": Status.READY, "process": None,
                                                           "grpcConnected": False}),
        ((PluginStarted(PROCESS), PluginStopped(4242, replaced=True)), {"goStatus": Status.READY, "process": PROCESS,
                                                                        "grpcConnected": True}),
        ((PluginStarted(PROCESS), PluginShutDown(4242, 0.5)), {"goStatus": Status.READY, "process": None,
                                                               "grpcConnected": False}),
        ((PluginStarted(PROCESS), InstallFailed("install failed: disk full", serving=True)),
         {"goStatus": Status.ERROR, "lastError": "install failed: disk full", "process": PROCESS}),
        ((ViteReady(1), PluginStarted(PROCESS), SessionStopped()),
         {"goStatus": Status.STOPPED, "viteStatus": Status.STOPPED, "viteURL": "", "process": None}),
    ],
)
def test_each_change_moves_the_state(changes: tuple[Change, ...], expected: dict[str, object]) -> None:
    state = _after(*changes)
    assert {name: getattr(state, name) for name in expected} == expected
    if any(isinstance(c, BuildFinished) for c in changes):
        assert state.lastBuildTime.endswith("Z")


def test_state_json_has_the_ides_names_and_the_pid() -> None:
    data = _after(ViteReady(15173), PluginStarted(PROCESS)).to_json()
    assert data == {"pluginID": "p", "mode": "managed", "devPath": "/x", "vitePort": 15173,
                    "viteURL": "http://127.0.0.1:15173", "viteStatus": "ready", "goStatus": "ready",
                    "lastBuildDuration": 0, "lastBuildTime": "", "lastError": "", "grpcConnected": True,
                    "pid": 4242}


@pytest.mark.parametrize(
    ("changes", "uses_vite", "advertises"),
    [
        ((PluginStarted(PROCESS),), False, True),
        ((PluginStarted(PROCESS),), True, False),  # Vite not ready yet
        ((ViteReady(15173), PluginStarted(PROCESS)), True, True),
        ((ViteReady(15173), PluginStarted(PROCESS), ReplacementFailed("x")), True, True),  # the old one serves
        ((ViteReady(15173), PluginStarted(PROCESS), PluginHealth(False, 4242)), True, False),
        ((ViteReady(15173), PluginStarted(PROCESS), UiFailed("exited")), True, False),
        ((ViteReady(15173), PluginStarted(PROCESS), BuildFinished(1, "bad")), True, True),  # old one serves
        ((ViteReady(15173), PluginStarted(PROCESS), PluginStopped(4242)), True, False),
    ],
)
def test_devinfo_is_there_exactly_while_a_healthy_process_serves(changes: tuple[Change, ...], uses_vite: bool,
                                                                 advertises: bool) -> None:
    info = advertised(_after(*changes), uses_vite)
    assert (info is not None) is advertises
    if info is not None:
        assert (info.pid, info.addr, info.network, info.processStartTime) == (4242, "/tmp/sock", "unix", 17)
        assert info.version == "0.1.0"  # the version the process was started with
        assert info.vitePort == (15173 if uses_vite else None) and info.plugindevPid == os.getpid()


def test_devinfo_file_is_written_atomically_and_only_on_change(tmp_path: Path) -> None:
    file = DevinfoFile(tmp_path / "plugins" / "p")
    process = BackendProcess(os.getpid(), start_time(os.getpid()), "unix", "/tmp/sock", "grpc", 1, "t", "0.1.0")
    info = advertised(_after(PluginStarted(process)), uses_vite=False)
    assert file.reconcile(info) is True
    data = json.loads(file.path.read_text())
    assert data["pid"] == os.getpid() and "vitePort" not in data and data["processStartTime"] == start_time(os.getpid())
    assert not file.path.with_name(".devinfo.tmp").exists()
    assert file.reconcile(info) is False  # the same state: nothing written
    assert file.reconcile(None) is True and not file.path.exists()
