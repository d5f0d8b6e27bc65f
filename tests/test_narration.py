"""The line the author reads for each change a part tells: made from the change alone, and said before the state
moves."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.devloop.context import PartContext, RunOptions
from orchestrator.devloop.narration import Line, narrate
from orchestrator.model.events import Level, Source
from orchestrator.model.state import (
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
)

PROCESS = BackendProcess(4242, 17, "unix", "/tmp/plugin.sock", "grpc", 1, "2026-01-01T00:00:00.000Z", "0.1.0")
GO, VITE, MANAGER = Source.GO_BUILD, Source.VITE, Source.MANAGER


@pytest.mark.parametrize(("change", "line"), [
    (ViteStarting(15174, moved_from=15173), Line(VITE, Level.WARN, "port 15173 is taken; moving to 15174")),
    (ViteReady(15173), Line(VITE, Level.INFO, "ready: the IDE loads http://127.0.0.1:15173/src/entry.ts")),
    (ViteReady(15173, "the IDE would get HTTP 404 for /src/entry.ts"),
     Line(VITE, Level.ERROR, "the IDE would get HTTP 404 for /src/entry.ts")),
    (UiBuild(done=False), Line(VITE, Level.INFO, "vite build")),
    (UiBuild(done=True, installed_into="/s/plugins/p/assets"),
     Line(VITE, Level.INFO, "installed UI assets into /s/plugins/p/assets")),
    (UiFailed("Vite exited with code 1; restarting it in 0.5 s"),
     Line(VITE, Level.ERROR, "Vite exited with code 1; restarting it in 0.5 s")),
    (BuildFinished(1_234_567_890), Line(GO, Level.INFO, "built in 1.23 s")),
    (BuildFinished(5, "a.go:1:1: bad", serving=True),
     Line(GO, Level.WARN, "build failed: the running plugin keeps serving")),
    (BuildFinished(5, "a.go:1:1: bad"),
     Line(MANAGER, Level.ERROR, "the backend is not running: fix the errors above and save, plugindev builds again")),
    (InstallFailed("install failed: disk full", serving=True),
     Line(MANAGER, Level.ERROR, "install failed: disk full (the running plugin keeps serving)")),
    (InstallFailed("install failed: disk full", serving=False),
     Line(MANAGER, Level.ERROR, "install failed: disk full (the backend is not running)")),
    (PluginStarted(PROCESS), Line(MANAGER, Level.INFO, "plugin running: pid 4242, unix /tmp/plugin.sock")),
    (ReplacementFailed("no handshake"), Line(MANAGER, Level.ERROR, "no handshake; the running plugin keeps serving")),
    (PluginFailed("plugin exited on its own with code 3; restarting it in 0.5 s"),
     Line(MANAGER, Level.ERROR, "plugin exited on its own with code 3; restarting it in 0.5 s")),
    (PluginHealth(False, 4242), Line(MANAGER, Level.ERROR, "plugin pid 4242 is failing its health check")),
    (PluginHealth(True, 4242), Line(MANAGER, Level.INFO, "plugin pid 4242 is healthy again")),
    (PluginShutDown(4242, 0.5),
     Line(MANAGER, Level.INFO, "plugin pid 4242 was shut down by a client (go-plugin's Shutdown, as the IDE sends on "
                               "closing); restarting it in 0.5 s")),
    (PluginStopped(4242), Line(MANAGER, Level.DEBUG, "stopped plugin pid 4242")),
    (PluginStopped(4242, replaced=True), Line(MANAGER, Level.DEBUG, "stopped plugin pid 4242 (replaced)")),
    (ViteStarting(15173), None),  # its status says it
    (GoBusy(Status.BUILDING), None),
    (SessionStopped(), None),
])
def test_each_change_has_its_line(change: Change, line: Line | None) -> None:
    assert narrate(change) == line


def test_a_told_change_is_said_before_the_state_moves() -> None:
    seen: list[object] = []
    context = PartContext(
        plugin_id="p", plugin_dir=Path("/p"), state_dir=Path("/s"), options=RunOptions(),
        report=seen.append, log=lambda source, level, message: seen.append(Line(source, level, message)),
        report_errors=lambda _source, _errors: None, record=lambda *_: None, forget=lambda _pid: None,
        state=lambda: DevState(pluginID="p", devPath="/p"), unexpected=lambda _line: None)
    context.tell(PluginStarted(PROCESS))
    context.tell(GoBusy(Status.STARTING))
    assert seen == [narrate(PluginStarted(PROCESS)), PluginStarted(PROCESS), GoBusy(Status.STARTING)]
