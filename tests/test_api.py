"""The control API and its event stream, method by method, against a real `plugindev serve` with real plugins
(the go-plugin test fixture: real Go builds, real processes, real gRPC health)."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import psutil
import pytest
from api_support import ApiClient, SseEvent
from go_support import checks_answered, copy_fixture, set_marker
from run_support import gone, run_env, running, wait_until

from orchestrator.common.process import is_alive

pytestmark = pytest.mark.integration

START = 240.0


def _ready(state: dict[str, object]) -> bool:
    return state["goStatus"] == "ready" and state["grpcConnected"] is True


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    return copy_fixture(tmp_path / "testplugin")


def test_the_api_is_local_guarded_and_mirrors_the_ides_methods(tmp_path: Path, plugin: Path) -> None:
    state_root = tmp_path / "state"
    with running([], run_env(state_root), command="serve") as serve:
        api = ApiClient.wait_for(state_root)
        assert stat.S_IMODE((state_root / "plugindev/api.json").stat().st_mode) == 0o600
        assert api.pid == serve.process.pid and api.url.startswith("http://127.0.0.1:")
        listening = [c.laddr for c in psutil.Process(serve.process.pid).net_connections("tcp")
                     if c.status == psutil.CONN_LISTEN]
        # loopback only: the API and the preview origin
        assert [address.ip for address in listening] == ["127.0.0.1", "127.0.0.1"]

        assert api.call("GET", "/api/plugins", token="wrong")[0] == 401
        assert api.call("GET", "/api/plugins", token="")[0] == 401
        status, body = api.call("GET", "/api/plugins", headers={"Origin": "http://evil.example"})
        assert status == 403 and "refused" in body["error"]
        assert api.call("GET", "/api/plugins", headers={"Host": "evil.example"})[0] == 403  # DNS rebinding
        assert api.get("/api/plugins") == []

        status, body = api.call("POST", "/api/plugins", {"path": str(tmp_path / "nowhere")})
        assert status == 400 and body["error"].endswith("nowhere: is not a directory")
        status, body = api.call("POST", "/api/plugins", {"folder": "x"})
        assert status == 400 and body == {"error": 'give the plugin folder: {"path": "<plugin folder>"}'}
        status, state = api.call("POST", "/api/plugins", {"path": str(plugin)})
        assert status == 201 and state["pluginID"] == "testplugin" and state["mode"] == "managed"
        ready = api.wait_state("testplugin", _ready, START, "the plugin ready")
        assert [s["pluginID"] for s in api.get("/api/plugins")] == ["testplugin"]

        logs = api.get("/api/plugins/testplugin/logs?count=2")
        assert len(logs) == 2 and {"timestamp", "source", "level", "message", "pluginID"} <= set(logs[0])
        assert len(api.get("/api/plugins/testplugin/logs?count=0")) > 2  # every kept entry
        assert api.call("GET", "/api/plugins/testplugin/logs?count=many")[0] == 400

        status, _ = api.call("POST", "/api/plugins/testplugin/rebuild")
        assert status == 200
        rebuilt = api.wait_state("testplugin", lambda s: _ready(s) and s["pid"] != ready["pid"], 60, "a new pid")
        assert gone(ready["pid"]) and is_alive(rebuilt["pid"])  # the old one stops once the new one serves

        assert api.call("POST", "/api/plugins/testplugin/stop")[0] == 200
        stopped = api.wait_state("testplugin", lambda s: s["goStatus"] == "stopped", 20, "stopped")
        assert not is_alive(rebuilt["pid"]) and stopped["grpcConnected"] is False
        assert not (state_root / "plugins/testplugin/.devinfo").exists()
        assert api.call("POST", "/api/plugins/testplugin/restart")[0] == 200
        api.wait_state("testplugin", _ready, 60, "ready after restart")

        status, body = api.call("GET", "/api/plugins/testplugin/external")
        assert status == 404 and "not attached" in body["error"]  # it is managed, not external
        status, body = api.call("DELETE", "/api/plugins/testplugin")
        assert status == 200 and body == {"removed": "testplugin"}
        status, body = api.call("GET", "/api/plugins/testplugin")
        assert status == 404 and "no plugin 'testplugin'" in body["error"]
        assert api.get("/api/plugins") == []
        assert serve.interrupt() == 0
    assert not (state_root / "plugindev/api.json").exists()


def test_the_event_stream_shows_a_rebuild_and_resumes_without_loss(tmp_path: Path, plugin: Path) -> None:
    state_root = tmp_path / "state"
    with running([str(plugin)], run_env(state_root)) as run:  # `run` serves the same API and stream
        api = ApiClient.wait_for(state_root)
        api.wait_state("testplugin", _ready, START, "the plugin ready")
        stream = api.stream()
        set_marker(plugin, "stream-1")
        building = stream.next_event(lambda e: e.name == "plugin/devserver/status" and e.data["goStatus"] == "building")
        built = stream.next_event(lambda e: e.name == "plugin/devserver/log" and
                                  e.data[0]["message"].startswith("built in"))
        ready = stream.next_event(lambda e: e.name == "plugin/devserver/status" and _ready(e.data) and
                                  e.data["lastBuildDuration"] > 0)
        assert building.id < built.id < ready.id
        same = [e for e in run.events if e.get("id") == ready.id]  # `run --json` carries the very same events
        assert [(e["event"], e["data"]) for e in same] == [(ready.name, ready.data)]
        assert set(ready.data) >= {"pluginID", "mode", "devPath", "vitePort", "viteURL", "viteStatus", "goStatus",
                                   "lastBuildDuration", "lastBuildTime", "lastError", "grpcConnected"}
        stream.close()

        # events that happen while nobody listens are replayed after the last id the client saw
        set_marker(plugin, "stream-2")
        api.wait_state("testplugin", lambda s: _ready(s) and s["pid"] != ready.data["pid"], 60, "the second build")
        resumed = api.stream(last_event_id=ready.id)
        replayed: list[SseEvent] = []
        while not (replayed and replayed[-1].name == "plugin/devserver/status" and _ready(replayed[-1].data)
                   and replayed[-1].data["pid"] != ready.data["pid"]):
            replayed.append(resumed.next_event(timeout=10))
        ids = [e.id for e in replayed]
        assert ids == sorted(ids) and ids[0] == ready.id + 1  # nothing lost, nothing repeated
        assert any(e.name == "plugin/devserver/log" and e.data[0]["message"].startswith("built in") for e in replayed)
        resumed.close()
        assert run.interrupt() == 0


def test_serve_starts_the_saved_plugins_again(tmp_path: Path, plugin: Path) -> None:
    state_root = tmp_path / "state"
    env = run_env(state_root)
    with running([], env, command="serve") as first:
        api = ApiClient.wait_for(state_root)
        assert api.call("POST", "/api/plugins", {"path": str(plugin)})[0] == 201
        api.wait_state("testplugin", _ready, START, "the plugin ready")
        assert first.interrupt() == 0
    with running([], env, command="serve"):
        api = ApiClient.wait_for(state_root)
        again = api.wait_state("testplugin", _ready, START, "the saved plugin ready again")
        assert again["devPath"] == str(plugin)


def test_ten_plugins_under_one_serve_keep_to_themselves(tmp_path: Path) -> None:
    state_root = tmp_path / "state"
    plugins = []
    for i in range(10):
        plugin = copy_fixture(tmp_path / f"p{i}")
        (plugin / "plugin.yaml").write_text((plugin / "plugin.yaml").read_text().replace("testplugin", f"p{i}"))
        plugins.append(plugin)
    env = run_env(state_root, TESTPLUGIN_ID_FROM_COOKIE="1")  # each fixture copy is the plugin it is started as
    with running([], env, command="serve") as serve:
        api = ApiClient.wait_for(state_root)
        for plugin in plugins:
            assert api.call("POST", "/api/plugins", {"path": str(plugin)})[0] == 201
        states = [api.wait_state(f"p{i}", _ready, START, f"p{i} ready") for i in range(10)]
        assert len({s["pid"] for s in states}) == 10
        before = {s["pluginID"]: s["lastBuildTime"] for s in api.get("/api/plugins")}
        set_marker(plugins[3], "only-p3")
        api.wait_state("p3", lambda s: _ready(s) and s["lastBuildTime"] != before["p3"], 60, "p3 rebuilt")
        time.sleep(1.0)
        after = {s["pluginID"]: s["lastBuildTime"] for s in api.get("/api/plugins")}
        assert [p for p in after if after[p] != before[p]] == ["p3"]  # an edit rebuilds only its plugin
        assert serve.interrupt(timeout=60) == 0
    for state in states:
        assert not is_alive(state["pid"])
    assert os.listdir(state_root / "plugindev" / "processes") == []


def test_a_plugin_run_by_hand_shows_up_as_external(tmp_path: Path, plugin: Path) -> None:
    state_root = tmp_path / "state"
    checks = tmp_path / "checks"
    env = run_env(state_root, TESTPLUGIN_CHECKS_FILE=str(checks))
    with running(["--health-interval", "0.1"], env, command="serve"):
        api = ApiClient.wait_for(state_root)
        with running([str(plugin)], env) as by_hand:  # another plugindev: to serve, an external plugin
            external = api.wait_state("testplugin", lambda s: s["mode"] == "external" and s["grpcConnected"], START,
                                      "the external plugin attached")
            # serve checks it every 0.1 s (the run every 5 s): at the default interval, 20 checks take a minute
            wait_until(lambda: checks_answered(checks) >= 20, 10, "20 health checks answered")
            info = api.get("/api/plugins/testplugin/external")
            assert info["pid"] == external["pid"] and info["pluginId"] == "testplugin"
            assert [s["mode"] for s in api.get("/api/plugins")] == ["external"]
            assert len(api.get("/api/plugins/testplugin/logs?count=0")) >= 1  # the monitor's own lines
            assert by_hand.interrupt() == 0
        deadline = time.monotonic() + 10
        while api.call("GET", "/api/plugins/testplugin")[0] != 404:  # its .devinfo went: it left the list
            assert time.monotonic() < deadline, "the external plugin is still listed"
            time.sleep(0.05)

