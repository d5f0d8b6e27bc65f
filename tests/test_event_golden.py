"""The typed events as their readers get them: the IDE and the dashboard (the event stream, its replay from the
history, the preview's stream, the REST API) and `--json` readers get, byte for byte, what they got when events
carried JSON already (tests/golden/, written from that output); and plugindev's own messages, which went to the
terminal only, reach the event stream as well."""

from __future__ import annotations

import asyncio
import io
import json
import re
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from api_support import ApiClient
from run_support import run_env, running

from orchestrator.api import auth, handlers
from orchestrator.api.history import EventHistory
from orchestrator.devloop.context import RunOptions
from orchestrator.devloop.manager import DevManager
from orchestrator.model.events import (
    BuildError,
    BuildErrors,
    Event,
    EventBus,
    Level,
    LogAppended,
    LogEntry,
    Published,
    Source,
    StatusChanged,
    SystemMessage,
)
from orchestrator.model.state import BackendProcess, DevState, Status
from orchestrator.terminal.printer import Printer
from orchestrator.web import server

GOLDEN = Path(__file__).parent / "golden"
PROCESS = BackendProcess(pid=4242, start_time=1714557600123, network="unix", address="/tmp/plugin-4242.sock",
                         protocol="grpc", protocol_version=1, started_at="2024-05-01T10:00:00.000Z", version="0.1.0")
SERVING = DevState(pluginID="alpha", devPath="/src/alpha", vitePort=15173, viteURL="http://127.0.0.1:15173",
                   viteStatus=Status.READY, goStatus=Status.READY, lastBuildDuration=1234567890,
                   lastBuildTime="2024-05-01T10:00:01.500Z", grpcConnected=True, process=PROCESS)
FAILED = DevState(pluginID="alpha", devPath="/src/alpha", vitePort=15173, viteStatus=Status.ERROR,
                  goStatus=Status.ERROR, lastBuildDuration=987, lastBuildTime="2024-05-01T10:00:02.000Z",
                  lastError='build failed: "pkg/main.go" \\ undefined: x\tcafé ✓')
EXTERNAL = DevState(pluginID="ext", devPath="", mode="external", vitePort=15180, viteURL="http://127.0.0.1:15180",
                    goStatus=Status.STARTING, process=PROCESS)
ENTRIES = [  # every source and level; quotes, backslashes, non-ASCII and control characters to escape
    LogEntry("2024-05-01T10:00:00.001Z", Source.VITE, Level.INFO, "ready in 120 ms ✓", "alpha"),
    LogEntry("2024-05-01T10:00:00.002Z", Source.GO_BUILD, Level.WARN, 'pkg/main.go:3:1: "x" \\ declared', "alpha"),
    LogEntry("2024-05-01T10:00:00.003Z", Source.GO_WATCH, Level.DEBUG, "changed: pkg/main.go", "alpha"),
    LogEntry("2024-05-01T10:00:00.004Z", Source.MANAGER, Level.ERROR, "the Go backend stopped: \x1b[31mboom", "alpha"),
    LogEntry("2024-05-01T10:00:00.005Z", Source.PLUGIN, Level.INFO, "héllo 日本 </script>", "ext"),
    LogEntry("2024-05-01T10:00:00.006Z", Source.MANAGER, Level.WARN, "cannot write managed.json", ""),  # plugindev's
]
ERRORS = (BuildError("/src/alpha/pkg/main.go", 3, 1, "undefined: x"),
          BuildError("/src/alpha/pkg/a.go", 10, 2, 'declared and not used: "y"', "warning"))
# the golden files' events, ids 1 to 11 (a bus counting from 1)
PUBLISHED: list[Published] = [
    StatusChanged(SERVING), LogAppended(ENTRIES[0]), LogAppended(ENTRIES[1]), BuildErrors("alpha", ERRORS),
    StatusChanged(FAILED), LogAppended(ENTRIES[2]), LogAppended(ENTRIES[3]), StatusChanged(EXTERNAL),
    LogAppended(ENTRIES[4]), LogAppended(ENTRIES[5]), BuildErrors("alpha", ()),
]
DASHBOARD = SystemMessage("dashboard: http://127.0.0.1:1/?token=é")


def golden(name: str) -> Any:
    return json.loads((GOLDEN / name).read_text())


class External:
    """What the API reads of the external monitor: one plugin, two kept log lines."""

    def states(self) -> dict[str, DevState]:
        return {"ext": EXTERNAL}

    def devinfo(self, plugin_id: str) -> dict[str, Any] | None:
        return None

    def logs(self, plugin_id: str, count: int = 0) -> list[LogEntry]:
        kept = [ENTRIES[4], ENTRIES[4]]
        return kept if count <= 0 else kept[-count:]


async def frames(response: ClientResponse, count: int) -> list[str]:
    """The next `count` SSE frames of a stream, as sent."""
    return [(await asyncio.wait_for(response.content.readuntil(b"\n\n"), 10)).decode() for _ in range(count)]


def test_the_streams_and_the_rest_api_send_what_they_sent_before(tmp_path: Path) -> None:
    async def scenario() -> dict[str, Any]:
        bus = EventBus(first_id=1)
        api = handlers.Api(DevManager(tmp_path, RunOptions(), fail_fast=False), EventHistory(bus), External())
        bearer = {"Authorization": f"Bearer {api.token}"}
        sent: dict[str, Any] = {}
        async with TestClient(TestServer(server.api_app(api), host="127.0.0.1")) as client, \
                TestClient(TestServer(server.preview_app(api), host="127.0.0.1")) as preview:
            api.port, api.preview_port = client.port or 0, preview.port or 0
            live = await client.get("/api/events", headers=bearer)
            opening = await frames(live, 1)
            for payload in PUBLISHED:
                bus.publish(payload)
            sent["live"] = opening + await frames(live, len(PUBLISHED))
            replay = await client.get("/api/events", headers={**bearer, "Last-Event-ID": "4"})
            sent["after_4"] = await frames(replay, 8)  # from the history
            replay.close()
            port = api.preview_port
            cookie = {"Cookie": f"{auth.cookie_name(port)}={auth.cookie_value(api.token, port)}"}
            followed = await preview.get("/preview/alpha/events", headers=cookie)
            sent["preview_alpha"] = await frames(followed, 5)  # alpha's status and error events only
            page = await (await preview.get("/preview/ext", headers=cookie)).text()
            config = re.search(r'id="plugindev-preview">(.*?)</script>', page)
            sent["preview_page_config"] = config.group(1) if config else page
            sent["rest"] = {path: await (await client.get(path, headers=bearer)).text()
                            for path in golden("rest.json")}
            # plugindev's own message: on the API's stream (it has the token), never on a preview's (plugin code)
            bus.publish(DASHBOARD)
            bus.publish(StatusChanged(SERVING))
            sent["live_system"] = await frames(live, 1)
            sent["preview_after"] = await frames(followed, 1)
            live.close()
            followed.close()
        return sent

    sent = run(scenario())
    stream = golden("sse.json")
    for name in ("live", "after_4", "preview_alpha"):
        assert sent[name] == stream[name], name
    config, sent_config = stream["preview_page_config"], sent["preview_page_config"]
    assert sent_config[sent_config.index('"state": '):] == config[config.index('"state": '):]
    assert '"errors": [], "events": ' in sent_config  # what the page opens with: its plugin has none
    assert sent["rest"] == golden("rest.json")
    assert sent["live_system"] == ["id: 12\nevent: plugindev/system\n"
                                   'data: {"tag":"system","message":"dashboard: http://127.0.0.1:1/?token=\\u00e9"}\n\n']
    assert sent["preview_after"] == [stream["preview_alpha"][1].replace("id: 1\n", "id: 13\n", 1)]


def test_the_json_lines_printed_are_what_they_were() -> None:
    async def scenario() -> list[Event]:
        bus = EventBus(first_id=1)
        queue = bus.subscribe()
        for payload in [*PUBLISHED, DASHBOARD]:
            bus.publish(payload)
        return [queue.get_nowait() for _ in range(queue.qsize())]

    events = run(scenario())
    printed = io.StringIO()
    printer = Printer(stream=printed, as_json=True)
    for event in events:
        printer.handle(event)
    *lines, system = printed.getvalue().splitlines(keepends=True)
    before = golden("printer.json")
    assert lines == before["events"]
    # printed directly before, plugindev's own message is an event now: the same line, with its id
    assert system == before["system"].removesuffix("}\n") + ', "id": 12}\n'


def test_plugindevs_own_messages_reach_an_event_stream_client(tmp_path: Path) -> None:
    state_root = tmp_path / "state"
    saved = state_root / "plugindev" / "managed.json"
    saved.parent.mkdir(parents=True)
    saved.write_text(json.dumps({"plugins": [str(tmp_path / "gone")]}))  # said before the API listens
    with running([], run_env(state_root), command="serve") as serve:
        api = ApiClient.wait_for(state_root)
        stream = api.stream()
        try:
            def system(start: str) -> Any:
                return lambda event: event.name == "plugindev/system" and event.data["message"].startswith(start)

            not_restarted = stream.next_event(system("not restarted: "), 30)
            dashboard = stream.next_event(system("dashboard: "), 30)
        finally:
            stream.close()
        assert str(tmp_path / "gone") in not_restarted.data["message"] and not_restarted.id < dashboard.id
        assert dashboard.data == {"tag": "system", "message": f"dashboard: {api.url}/?token={api.token}"}
        assert serve.interrupt() == 0
    said = serve.said()  # and printed, as they were
    assert said[0] == not_restarted.data["message"] and dashboard.data["message"] in said
    assert said[-2:] == ["stopping (press Ctrl+C again to force)", "stopped"]


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)
