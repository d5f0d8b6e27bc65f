"""Units of the dev loop that need no real processes: errors, filters, events, printer, rebuild serialization."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from orchestrator.authoring.manifest import PluginManifest
from orchestrator.common.rebuild import rebuild_loop
from orchestrator.devloop.context import RunOptions
from orchestrator.devloop.plugin_output import RepeatFolder
from orchestrator.devloop.session import PluginSession
from orchestrator.devloop.vite import PortAllocator, vite_line
from orchestrator.go.build import BuildResult, build_failure_lines, parse_build_errors
from orchestrator.go.watch import GoFileFilter, watch_paths
from orchestrator.model.events import (
    EVENT_ERROR,
    EVENT_LOG,
    EVENT_STATUS,
    LOG_CAPACITY,
    BuildError,
    BuildErrors,
    EventBus,
    Level,
    LogAppended,
    Source,
    StatusChanged,
)
from orchestrator.model.state import GoBusy, Status
from orchestrator.statefiles.registry import ProcessRegistry
from orchestrator.terminal.printer import Printer

GO_OUTPUT = """\
# example.com/testplugin/pkg
pkg/main.go:36:22: undefined: undefinedThing
./pkg/util.go:7:2: "fmt" imported and not used
pkg/other.go:12: syntax error: unexpected newline
/abs/path/x.go:1:1: absolute stays
note: module requires Go 1.99
"""


def test_build_errors_are_parsed_with_absolute_paths(tmp_path: Path) -> None:
    errors = parse_build_errors(GO_OUTPUT, tmp_path)
    assert errors == [
        BuildError(str(tmp_path / "pkg/main.go"), 36, 22, "undefined: undefinedThing"),
        BuildError(str(tmp_path / "pkg/util.go"), 7, 2, '"fmt" imported and not used'),
        BuildError(str(tmp_path / "pkg/other.go"), 12, 0, "syntax error: unexpected newline"),
        BuildError("/abs/path/x.go", 1, 1, "absolute stays"),
    ]
    assert all(e.severity == "error" for e in errors)
    assert str(errors[0]) == f"{tmp_path}/pkg/main.go:36:22: undefined: undefinedThing"


MISSING_GO_SUM = """\
pkg/main.go:3:8: missing go.sum entry for module providing package github.com/omniviewdev/plugin-sdk/pkg/sdk \
(imported by github.com/example/x/pkg); to add:
	go get github.com/example/x/pkg
"""


def test_a_failed_build_is_shown_once_relative_with_hints_and_what_to_do(tmp_path: Path) -> None:
    result = BuildResult(False, 1, GO_OUTPUT.replace("/abs/path", str(tmp_path / "pkg")), [])
    assert build_failure_lines(result, tmp_path) == [
        "pkg/main.go:36:22: undefined: undefinedThing",
        'pkg/util.go:7:2: "fmt" imported and not used',
        "pkg/other.go:12: syntax error: unexpected newline",
        "pkg/x.go:1:1: absolute stays",
        "note: module requires Go 1.99",  # Go's own hint lines stay
    ]

    tidy = build_failure_lines(BuildResult(False, 1, MISSING_GO_SUM, []), tmp_path)
    assert tidy[0].startswith("pkg/main.go:3:8: missing go.sum entry")
    assert tidy[1] == "\tgo get github.com/example/x/pkg"
    assert tidy[-1] == f"go.mod or go.sum does not match the imports: run `go mod tidy` in {tmp_path.resolve()}"


def test_repeated_plugin_lines_fold_apart_from_times_and_durations() -> None:
    folder = RepeatFolder()
    rpc = "2026/11/26 12:45:{:02d} [RPC] /grpc.health.v1.Health/Check duration={}µs"
    assert not folder.seen(rpc.format(1, 53.2))
    assert [folder.seen(rpc.format(s, d)) for s, d in ((6, 40.1), (11, 61.0))] == [True, True]
    assert folder.take_repeats() == 2 and folder.take_repeats() == 0
    assert not folder.seen("[STREAM] /plugin.GRPCStdio/StreamStdio opened")
    assert not folder.seen(rpc.format(16, 1.0))  # not the line just before: shown again


@pytest.mark.parametrize(
    ("rel", "watched"),
    [
        ("pkg/main.go", True), ("go.mod", True), ("go.sum", True), ("internal/x/y.go", True),
        ("pkg/main.txt", False), ("ui/src/x.go", False), ("ui/node_modules/a/b.go", False),
        ("build/bin/x.go", False), ("vendor/a/a.go", False), ("pkg/testdata/t.go", False),
        (".git/x.go", False), ("pkg/.hidden/x.go", False), ("node_modules/x.go", False),
        ("plugin.yaml", True), ("pkg/plugin.yaml", False), ("ui/plugin.yaml", False),
        ("pkg/sub", True), ("pkg/gone", True),  # a package folder (made below), and one just renamed away
        ("ui/node_modules/x", False), ("build", False), (".git/objects", False), ("pkg/notes.txt", False),
    ],
)
def test_go_file_filter(tmp_path: Path, rel: str, watched: bool) -> None:
    for folder in ("pkg/sub", "ui/node_modules/x", "build", ".git/objects"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    (tmp_path / "pkg/notes.txt").write_text("not Go\n")
    assert GoFileFilter([tmp_path])(None, str(tmp_path / rel)) is watched


def test_watch_paths_follow_go_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOWORK", raising=False)
    plugin = tmp_path / "plugin"
    shared = tmp_path / "shared"
    for folder in (plugin / "pkg", shared / "pkg"):
        folder.mkdir(parents=True)
    (tmp_path / "go.work").write_text("go 1.25\n\nuse (\n\t./plugin\n\t./shared // a library\n)\n")
    assert watch_paths(plugin) == [plugin.resolve(), tmp_path / "go.work", (shared / "pkg").resolve()]


def _session(tmp_path: Path) -> PluginSession:
    manifest = PluginManifest("p", "0.1.0", "p", ("settings",))
    return PluginSession(tmp_path / "p", manifest, EventBus(), RunOptions(), state_root=tmp_path,
                         registry=ProcessRegistry(tmp_path), ports=PortAllocator(), make_parts=lambda *_: [])


def test_session_events_and_log_ring(tmp_path: Path) -> None:
    async def scenario() -> None:
        session = _session(tmp_path)
        queue = session.bus.subscribe()
        session.report(GoBusy(Status.BUILDING))
        session.report(GoBusy(Status.BUILDING))  # no change, no event
        session.record.log(Source.GO_BUILD, Level.WARN, "hello")
        session.record.report_errors("go", [BuildError("/x/a.go", 1, 2, "bad")])
        events = [queue.get_nowait() for _ in range(queue.qsize())]
        assert [e.name for e in events] == [EVENT_STATUS, EVENT_LOG, EVENT_ERROR]
        status, log, errors = (event.payload for event in events)
        assert isinstance(status, StatusChanged) and status.state == session.state
        assert status.state.goStatus == "building" and status.plugin_id == "p" and status.state.viteURL == ""
        assert isinstance(log, LogAppended) and log.plugin_id == "p"
        assert (log.entry.source, log.entry.level, log.entry.message) == (Source.GO_BUILD, Level.WARN, "hello")
        assert errors == BuildErrors("p", (BuildError("/x/a.go", 1, 2, "bad"),))
        for i in range(LOG_CAPACITY + 10):
            session.record.log(Source.MANAGER, Level.INFO, f"m{i}")
        assert len(session.record.logs) == LOG_CAPACITY
        assert session.record.recent_logs(2)[-1].message == f"m{LOG_CAPACITY + 9}"
        assert len(session.record.recent_logs(0)) == LOG_CAPACITY

    asyncio.run(scenario())


def test_printer_lines_and_json(tmp_path: Path) -> None:
    async def scenario() -> tuple[str, str]:
        session = _session(tmp_path)
        queue = session.bus.subscribe()
        session.record.log(Source.VITE, Level.INFO, "ready")
        session.record.log(Source.GO_BUILD, Level.DEBUG, "debug detail")
        session.record.log(Source.PLUGIN, Level.ERROR, "boom")
        session.record.report_errors("go", [BuildError("/x/a.go", 3, 4, "undefined: y")])
        events = [queue.get_nowait() for _ in range(queue.qsize())]
        text, ndjson = io.StringIO(), io.StringIO()
        for event in events:
            Printer(stream=text).handle(event)
            Printer(stream=ndjson, as_json=True).handle(event)
        return text.getvalue(), ndjson.getvalue()

    text, ndjson = asyncio.run(scenario())
    lines = text.splitlines()
    # build errors reach the terminal as the session's log lines; the error event is for --json readers
    assert [line[9:] for line in lines] == ["[vite] ready", "[error] boom"]
    assert all(line[2] == ":" and line[5] == ":" for line in lines)
    assert "\x1b[" not in text  # not a TTY: no colour
    parsed = [json.loads(line) for line in ndjson.splitlines()]
    assert [p["event"] for p in parsed] == [EVENT_LOG, EVENT_LOG, EVENT_LOG, EVENT_ERROR]


def test_rebuild_loop_cancels_a_build_on_change_and_never_overlaps() -> None:
    async def scenario() -> tuple[int, int, int, int]:
        trigger, stop = asyncio.Event(), asyncio.Event()
        running = 0
        overlap = 0
        started = 0
        finished = 0

        async def build() -> bool:
            nonlocal running, overlap, started, finished
            running += 1
            started += 1
            overlap = max(overlap, running)
            try:
                await asyncio.sleep(0.3)
                finished += 1
                return True
            finally:
                running -= 1

        successes: list[int] = []

        async def on_success() -> None:
            successes.append(started)

        cancelled: list[int] = []
        loop_task = asyncio.create_task(rebuild_loop(trigger, stop, build, on_success, lambda: cancelled.append(1)))
        trigger.set()
        await asyncio.sleep(0.1)
        trigger.set()  # during the first build: it is cancelled and one more follows
        await asyncio.sleep(0.05)
        trigger.set()  # during the second build
        await asyncio.sleep(0.6)
        stop.set()
        await loop_task
        return started, finished, overlap, len(cancelled) + 10 * len(successes)

    started, finished, overlap, outcome = asyncio.run(scenario())
    assert (started, finished, overlap) == (3, 1, 1)
    assert outcome == 2 + 10  # two cancelled, one success


# Vite's line -> (shown only with -v, the text shown)
VITE_LINES = {
    "  \x1b[32mVITE v8.3.8\x1b[39m  ready in 273 ms": (True, "  VITE v8.3.8  ready in 273 ms"),
    "  ➜  Local:   http://127.0.0.1:15173/": (True, "  ➜  Local:   http://127.0.0.1:15173/"),
    "1:02:48 PM [vite] Internal server error: Transform failed": (False, "Internal server error: Transform failed"),
    "13:02:48 [vite] (client) page reload src/App.tsx": (False, "(client) page reload src/App.tsx"),
    "      at transformWithOxc (file:///x/node.js:7673:19)": (True, "      at transformWithOxc (file:///x/node.js:7673:19)"),
    " 10 │       <h1>{TITLE}</h2>": (False, " 10 │       <h1>{TITLE}</h2>"),
}


@pytest.mark.parametrize("line", VITE_LINES)
def test_vite_lines_lose_their_own_stamp_and_the_banner_is_detail(line: str) -> None:
    assert vite_line(line) == VITE_LINES[line]


def test_vites_readiness_probe_tells_nothing_listening_not_http_and_a_status_apart() -> None:
    import socket

    from aiohttp import web

    from orchestrator.devloop.vite import http_status

    async def scenario() -> tuple[int, int]:
        with socket.socket() as probe:  # a port nothing listens on
            probe.bind(("127.0.0.1", 0))
            closed = probe.getsockname()[1]
        with pytest.raises(OSError):  # the caller retries
            await http_status(closed, "/", 1.0)
        garbage = await asyncio.start_server(lambda _r, w: (w.write(b"no http here\r\n\r\n"), w.close()),
                                             "127.0.0.1", 0)
        not_http = await http_status(garbage.sockets[0].getsockname()[1], "/", 1.0)
        garbage.close()
        async def vite_client(_request: web.Request) -> web.Response:
            return web.Response(status=200)

        app = web.Application()
        app.router.add_get("/@vite/client", vite_client)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            served = await http_status(runner.addresses[0][1], "/@vite/client", 1.0)
        finally:
            await runner.cleanup()
        return not_http, served

    assert asyncio.run(scenario()) == (0, 200)
