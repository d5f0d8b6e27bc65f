"""`plugindev run` end to end: real Go builds, real go-plugin processes, real Vite, real gRPC health."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from tempfile import TemporaryDirectory

import grpc
import pytest
from api_support import ApiClient
from go_support import checks_answered, copy_fixture, set_marker
from grpc_health.v1 import health_pb2, health_pb2_grpc
from run_support import (
    RunHandle,
    devinfo,
    environ,
    gone,
    processes,
    ready,
    recorded_groups,
    run_env,
    running,
    wait_new_devinfo,
)

from orchestrator.authoring.scaffold import ScaffoldOptions, scaffold
from orchestrator.common.paths import SOCKET_FALLBACK
from orchestrator.common.process import group_alive, is_alive
from orchestrator.devloop.vite import allocate_port

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parent.parent
START = 120.0  # first start may install npm packages and build Go from a cold cache
HEALTH_INTERVAL = "0.1"  # --health-interval: a plugin's health is checked often, so a failing check shows at once


@pytest.fixture
def state_root(tmp_path: Path) -> Path:
    # not $HOME/.omniview (run_env gives the run a HOME of its own): plugindev must also put plugin.yaml
    # where the SDK reads it
    return tmp_path / "state"


@pytest.fixture
def testplugin(tmp_path: Path) -> Path:
    return copy_fixture(tmp_path / "testplugin")


def _health(address: str, network: str) -> int:
    target = f"unix:{address}" if network == "unix" else address
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        response = stub.Check(health_pb2.HealthCheckRequest(service="plugin"), timeout=5)
        return int(response.status)


def _builds(run: RunHandle) -> int:
    return run.log_count(lambda e: e["source"] == "go-build" and e["message"] == "go build ./pkg")


def _full_plugin(tmp_path: Path, template: str = "full") -> Path:
    plugin = tmp_path / "work" / "hello"
    scaffold(plugin, ScaffoldOptions("hello", "Hello", "", template).checked())
    return plugin


def test_start_advertises_a_healthy_plugin(testplugin: Path, state_root: Path) -> None:
    with running([str(testplugin)], run_env(state_root)) as run:
        run.wait_status(ready, START, "the plugin ready")
        info = run.wait_for(lambda _: devinfo(state_root, "testplugin"), 10, ".devinfo")
        goes = [s["goStatus"] for s in run.statuses()]
        assert goes.index("building") < goes.index("starting") < goes.index("ready")
        assert info["pid"] > 0 and is_alive(info["pid"]) and info["addr"] and info["pluginId"] == "testplugin"
        assert info["network"] == "unix" and info["protocol"] == "grpc" and info["protocolVersion"] == 1
        assert isinstance(info["processStartTime"], int) and "vitePort" not in info
        assert _health(info["addr"], info["network"]) == health_pb2.HealthCheckResponse.SERVING
        assert environ(info["pid"])["OMNIVIEW"] == "testplugin"  # the cookie: without it the plugin refuses
        assert (state_root / "plugins/testplugin/plugin.yaml").read_bytes() == (testplugin / "plugin.yaml").read_bytes()
        assert os.access(state_root / "plugins/testplugin/bin/plugin", os.X_OK)


def test_go_edit_restarts_and_a_broken_build_keeps_the_old_process(testplugin: Path, state_root: Path) -> None:
    with running([str(testplugin)], run_env(state_root)) as run:
        run.wait_status(ready, START, "the plugin ready")
        first = run.wait_for(lambda _: devinfo(state_root, "testplugin"), 10, ".devinfo")

        set_marker(testplugin, "marker-1")
        second = wait_new_devinfo(run, state_root, "testplugin", first["pid"])
        assert gone(first["pid"])  # the old one stops once the new one serves
        assert _health(second["addr"], second["network"]) == health_pb2.HealthCheckResponse.SERVING

        devinfo_file = state_root / "plugins/testplugin/.devinfo"
        before = devinfo_file.read_bytes()
        main_go = testplugin / "pkg/main.go"
        good = main_go.read_text()
        main_go.write_text(good.replace('const BUILD_MARKER = "marker-1"', 'const BUILD_MARKER = undefinedName'))
        line = next(i for i, text in enumerate(main_go.read_text().splitlines(), 1) if "undefinedName" in text)
        marker = len(run.statuses())
        failed = run.wait_status(lambda s: s["goStatus"] == "error", 60, "goStatus error", after=marker)
        assert f"{main_go}:{line}:" in failed["lastError"] and "undefinedName" in failed["lastError"]
        errors = run.wait_for(lambda r: [e for e in r.events if e["event"] == "plugin/devserver/error"], 5, "errors")
        (error,) = errors[-1]["data"]["errors"]
        assert (error["file"], error["line"], error["severity"]) == (str(main_go), line, "error")
        assert error["column"] > 0
        assert is_alive(second["pid"]) and devinfo_file.read_bytes() == before
        assert _health(second["addr"], second["network"]) == health_pb2.HealthCheckResponse.SERVING

        main_go.write_text(good)
        third = wait_new_devinfo(run, state_root, "testplugin", second["pid"])
        run.wait_status(ready, 10, "ready again", after=marker)
        assert gone(second["pid"]) and is_alive(third["pid"])


def test_a_burst_of_saves_builds_once(testplugin: Path, state_root: Path) -> None:
    # saves 50 ms apart against a 300 ms quiet period: room for a loaded 2-core machine's hiccups
    with running([str(testplugin), "--debounce", "300"], run_env(state_root)) as run:
        run.wait_status(ready, START, "the plugin ready")
        first = run.wait_for(lambda _: devinfo(state_root, "testplugin"), 10, ".devinfo")
        builds = _builds(run)
        for i in range(20):
            set_marker(testplugin, f"burst-{i}")
            time.sleep(0.045)
        wait_new_devinfo(run, state_root, "testplugin", first["pid"])
        time.sleep(1.5)  # room for a (wrong) second build to show up
        timeline = [f"{e['timestamp'][11:23]} {e['message']}" for e in run.logs()
                    if e["source"] in ("go-watch", "go-build")]
        assert _builds(run) == builds + 1, timeline


SLOW_GO = """#!/bin/sh
# a go whose builds (optionally) take their time, recording any overlap of two; its other commands (plugindev
# reads `go env` and `go mod edit -json` before a first build) run as they are. The lock is this script's (its
# build's group leader): the real go gets no copy of it, since a Go program may leave a telemetry process behind,
# in a session of its own, that would hold every descriptor it inherited. Only flock's conflict code means an
# overlap: a cancelled build's flock may be the tool plugindev interrupts (it then ends by SIGINT, 130).
if [ "$1" != build ]; then exec "{go}" "$@"; fi
exec 9>>"{lock}"
flock -n -E 99 9
if [ $? -eq 99 ]; then echo OVERLAP >> "{log}"; fi
echo "start $$" >> "{log}"
sleep {delay}
"{go}" "$@" 9>&-
status=$?
echo "end $$" >> "{log}"
exit $status
"""


def _logging_go(tmp_path: Path, delay: float) -> tuple[Path, Path]:
    """A `go` that waits `delay` s before each build and logs starts, ends and any overlap: (it, its log)."""
    log, go = tmp_path / "builds.log", tmp_path / "logging-go"
    real_go = subprocess.run(["go", "env", "GOROOT"], capture_output=True, text=True, check=True).stdout.strip()
    go.write_text(SLOW_GO.format(lock=tmp_path / "go.lock", log=log, go=f"{real_go}/bin/go", delay=delay))
    go.chmod(0o755)
    return go, log


def test_a_save_during_a_slow_build_cancels_it_and_builds_once_more(testplugin: Path, state_root: Path,
                                                                   tmp_path: Path) -> None:
    go, log = _logging_go(tmp_path, 1.5)
    with running([str(testplugin), "--go", str(go)], run_env(state_root)) as run:
        run.wait_status(ready, START, "the plugin ready")
        first = run.wait_for(lambda _: devinfo(state_root, "testplugin"), 10, ".devinfo")
        builds = _builds(run)
        set_marker(testplugin, "slow-1")
        # inside the slow build: the second go to start is in its 1.5 s wait
        run.wait_for(lambda _: log.read_text().count("start ") == 2, 10, "the slow build under way")
        set_marker(testplugin, "slow-2")
        wait_new_devinfo(run, state_root, "testplugin", first["pid"])
        time.sleep(1.0)
        assert _builds(run) == builds + 2
        assert run.log_count(lambda e: "cancelled it" in e["message"]) == 1
    entries = log.read_text().splitlines()
    assert "OVERLAP" not in entries
    assert "slow-2" in (state_root / "plugins/testplugin/bin/plugin").read_bytes().decode(errors="replace")


def test_with_the_default_quiet_period_a_burst_ends_in_one_finished_build_after_the_last_save(
        testplugin: Path, state_root: Path, tmp_path: Path) -> None:
    # the first save starts a build at once (after a ~25 ms quiet period); each later save cancels the build
    # under way and starts another: many starts, never two at once, one finished build, the last save's
    go, log = _logging_go(tmp_path, 0)
    with running([str(testplugin), "--go", str(go)], run_env(state_root)) as run:
        run.wait_status(ready, START, "the plugin ready")
        first = run.wait_for(lambda _: devinfo(state_root, "testplugin"), 10, ".devinfo")
        finished = run.log_count(lambda e: e["message"].startswith("built in"))
        for i in range(20):
            set_marker(testplugin, f"burst-{i}")
            time.sleep(0.045)
        wait_new_devinfo(run, state_root, "testplugin", first["pid"])
        time.sleep(1.5)  # room for a (wrong) second finished build to show up
        assert run.log_count(lambda e: e["message"].startswith("built in")) == finished + 1
    assert "OVERLAP" not in log.read_text().splitlines()
    assert "burst-19" in (state_root / "plugins/testplugin/bin/plugin").read_bytes().decode(errors="replace")


def test_flooding_plugin_stays_healthy_and_its_output_arrives(testplugin: Path, state_root: Path,
                                                              tmp_path: Path) -> None:
    checks = tmp_path / "checks"
    with running([str(testplugin), "--health-interval", HEALTH_INTERVAL],
                 run_env(state_root, TESTPLUGIN_MODE="flood", TESTPLUGIN_CHECKS_FILE=str(checks))) as run:
        run.wait_status(ready, START, "the plugin ready")
        info = run.wait_for(lambda _: devinfo(state_root, "testplugin"), 10, ".devinfo")
        # flooded for a while, and plugindev checked its health again and again meanwhile (ten checks are 50 s
        # at the default interval: --health-interval reached the backend)
        run.wait_for(lambda _: checks_answered(checks) >= 10, 30, "ten health checks answered during the flood")
        for _ in range(3):
            assert _health(info["addr"], info["network"]) == health_pb2.HealthCheckResponse.SERVING
        assert run.log_count(lambda e: e["source"] == "plugin" and "xxxxxxxxxx" in e["message"]) > 1000
        assert run.statuses()[-1]["grpcConnected"] is True


def test_plugin_that_exits_is_restarted(testplugin: Path, state_root: Path) -> None:
    with running([str(testplugin)], run_env(state_root, TESTPLUGIN_MODE="exitafter")) as run:
        run.wait_status(ready, START, "the plugin ready")
        run.wait_for(lambda r: r.log_count(lambda e: e["message"].startswith("plugin running: pid")) >= 3, 30,
                     "two restarts")
        exits = [e["message"] for e in run.logs() if "exited on its own with code 3" in e["message"]]
        assert len(exits) >= 2
        assert exits[0].endswith("in 0.5 s") and exits[1].endswith("in 1 s")  # backing off


def test_plugin_that_never_handshakes_times_out_and_leaves_nothing(testplugin: Path, state_root: Path) -> None:
    env = run_env(state_root, TESTPLUGIN_MODE="nohandshake")
    with running([str(testplugin), "--handshake-timeout", "2"], env) as run:
        failed = run.wait_status(lambda s: s["goStatus"] == "error", START, "the handshake timeout")
        assert "did not start" in failed["lastError"] and "handshake" in failed["lastError"]
        binary = str(state_root / "plugins/testplugin/bin/plugin")
        run.wait_for(lambda _: processes(exe=binary) == [], 10, "the plugin process ended")
        assert devinfo(state_root, "testplugin") is None


def _proc_link(pid: int, name: str) -> str:
    """A process's `exe` or `cwd`, "" when it is gone or not ours to read."""
    try:
        return os.readlink(f"/proc/{pid}/{name}")
    except OSError:
        return ""


def test_sigint_stops_everything_and_exits_0(tmp_path: Path, state_root: Path) -> None:
    plugin = _full_plugin(tmp_path)
    with running([str(plugin)], run_env(state_root)) as run:
        run.wait_status(lambda s: ready(s) and s["viteStatus"] == "ready", START, "plugin and Vite ready")
        info = run.wait_for(lambda _: devinfo(state_root, "hello"), 10, ".devinfo")
        assert info["vitePort"] >= 15173
        groups = recorded_groups(state_root)
        kinds = {g["kind"] for g in groups}  # the type check starts once Vite is up: it may not have yet
        assert {"vite", "plugin"} <= kinds <= {"vite", "plugin", "tsc"}
        assert run.interrupt() == 0
        assert devinfo(state_root, "hello") is None
        assert not any(group_alive(g["pgid"]) for g in groups)
        assert run.statuses()[-1]["goStatus"] == "stopped" and run.statuses()[-1]["viteStatus"] == "stopped"


def test_kill_9_leftovers_are_ended_by_the_next_run(testplugin: Path, state_root: Path) -> None:
    env = run_env(state_root)
    with running([str(testplugin)], env) as run:
        run.wait_status(ready, START, "the plugin ready")
        info = run.wait_for(lambda _: devinfo(state_root, "testplugin"), 10, ".devinfo")
        os.kill(run.process.pid, signal.SIGKILL)
        run.process.wait(10)
        assert is_alive(info["pid"])  # the plugin outlived plugindev
        socket_dir = Path(info["addr"]).parent
        assert socket_dir.is_dir()
        # inside the first block: its clean-up (which ends every recorded group) must not do the work
        with running([str(testplugin)], env) as second:
            second.wait_for(lambda r: [m for m in r.said() if "ended leftover plugin" in m], 30, "the leftover ended")
            second.wait_status(ready, START, "the new plugin ready")
            assert not is_alive(info["pid"])
            assert not socket_dir.exists()  # its go-plugin socket folder went with it


def test_vite_killed_comes_back_on_the_same_port(tmp_path: Path, state_root: Path) -> None:
    plugin = _full_plugin(tmp_path, "ui")
    with running([str(plugin)], run_env(state_root)) as run:
        up = run.wait_status(lambda s: s["viteStatus"] == "ready", START, "Vite ready")
        assert up["viteURL"] == f"http://127.0.0.1:{up['vitePort']}"
        (vite,) = [g for g in recorded_groups(state_root) if g["kind"] == "vite"]
        marker = len(run.statuses())
        os.killpg(vite["pgid"], signal.SIGKILL)
        down = run.wait_status(lambda s: s["viteStatus"] == "error", 10, "Vite error", after=marker)
        assert down["viteURL"] == "" and "Vite exited" in down["lastError"]
        again = run.wait_status(lambda s: s["viteStatus"] == "ready", 15, "Vite ready again", after=marker)
        assert again["vitePort"] == up["vitePort"]
        assert devinfo(state_root, "hello") is None  # UI only: no plugin process to advertise


def _hold(port: int) -> socket.socket:
    sock = socket.socket()
    # like Vite (Node) binds: a port whose old connections linger in TIME_WAIT is still usable
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


def test_a_taken_port_moves_vite_to_the_next(tmp_path: Path, state_root: Path) -> None:
    # (a full range is test_vite_server's: holding the shared range would fail every Vite started meanwhile, this
    # suite's other worker's and another suite's)
    plugin = _full_plugin(tmp_path, "ui")
    held = allocate_port()  # the port plugindev would take first
    with _hold(held), running([str(plugin)], run_env(state_root)) as run:
        up = run.wait_status(lambda s: s["viteStatus"] == "ready", START, "Vite ready")
        assert up["vitePort"] != held  # the held port is skipped (another may free up meanwhile)


def test_backend_only_no_vite_and_ui_build_modes(tmp_path: Path, state_root: Path) -> None:
    plugin = _full_plugin(tmp_path)
    with running([str(plugin), "--no-vite"], run_env(state_root)) as run:
        run.wait_status(ready, START, "plugin ready without Vite")
        info = run.wait_for(lambda _: devinfo(state_root, "hello"), 10, ".devinfo")
        assert "vitePort" not in info and all(s["viteStatus"] == "idle" for s in run.statuses())
        assert not [g for g in recorded_groups(state_root) if g["kind"] == "vite"]
        assert run.interrupt() == 0

    with running([str(plugin), "--ui", "build"], run_env(state_root)) as run:
        run.wait_status(lambda s: ready(s) and s["viteStatus"] == "ready", START, "UI built and plugin ready")
        entry = state_root / "plugins/hello/assets/entry.js"
        assert entry.read_text().startswith("System.register([")
        page = plugin / "ui/src/pages/HomePage.tsx"
        page.write_text(page.read_text().replace("Clicked {count} times", "Pressed {count} times"))
        run.wait_for(lambda _: "Pressed " in entry.read_text(), 60, "the rebuilt assets installed")
        info = run.wait_for(lambda _: devinfo(state_root, "hello"), 10, ".devinfo")
        assert "vitePort" not in info


def test_a_new_directory_is_watched_too(testplugin: Path, state_root: Path) -> None:
    with running([str(testplugin)], run_env(state_root)) as run:
        run.wait_status(ready, START, "the plugin ready")
        builds = _builds(run)
        extra = testplugin / "pkg" / "helpers"
        extra.mkdir()
        run.wait_for(lambda r: _builds(r) == builds + 1, 20, "a build for the new folder (now watched too)")
        run.wait_status(ready, 30, "ready after the new folder's build", after=len(run.statuses()) - 1)
        builds = _builds(run)
        (extra / "helpers.go").write_text("package helpers\n\nconst Answer = 42\n")
        run.wait_for(lambda r: _builds(r) == builds + 1, 20, "a build after a file in a new folder")
        (testplugin / "pkg" / "notes.txt").write_text("not Go\n")
        (testplugin / "build").mkdir(exist_ok=True)
        (testplugin / "build" / "ignored.go").write_text("package ignored\n")
        time.sleep(1.0)
        assert _builds(run) == builds + 1  # neither a non-Go file nor build/ output triggers one


def test_renaming_pkg_away_and_back_rebuilds_each_time(testplugin: Path, state_root: Path) -> None:
    with running([str(testplugin)], run_env(state_root)) as run:
        run.wait_status(ready, START, "the plugin ready")
        first = run.wait_for(lambda _: devinfo(state_root, "testplugin"), 10, ".devinfo")
        (testplugin / "pkg").rename(testplugin / "pkg.away")
        gone = run.wait_status(lambda s: s["goStatus"] == "error", 30, "the missing package reported",
                               after=len(run.statuses()) - 1)
        assert "pkg/main.go" in gone["lastError"] and is_alive(first["pid"])  # the old one keeps serving
        (testplugin / "pkg.away").rename(testplugin / "pkg")
        wait_new_devinfo(run, state_root, "testplugin", first["pid"])
        run.wait_status(ready, 30, "ready again", after=len(run.statuses()) - 1)


def test_the_example_runs_from_a_fresh_copy(tmp_path: Path, state_root: Path) -> None:
    checkout = tmp_path / "checkout"
    listed = subprocess.run(["git", "ls-files", "-z", "examples/hello-plugin"], cwd=REPO, capture_output=True,
                            check=True)
    for name in filter(None, listed.stdout.decode().split("\0")):
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        (checkout / name).write_bytes((REPO / name).read_bytes())
    with running(["examples/hello-plugin"], run_env(state_root), cwd=checkout) as run:
        run.wait_status(lambda s: ready(s) and s["viteStatus"] == "ready", START, "the example ready")
        info = run.wait_for(lambda _: devinfo(state_root, "hello-plugin"), 10, ".devinfo")
        assert info["vitePort"] >= 15173 and is_alive(info["pid"])
        run.wait_for(lambda r: r.log_count(lambda e: e["message"].startswith("ready in ")) == 1, 5, "ready line")
        (line,) = [e["message"] for e in run.logs() if e["message"].startswith("ready in ")]
        url = re.search(r"UI (http://\S+),", line)
        assert url is not None and url[1] == f"http://127.0.0.1:{info['vitePort']}/src/entry.ts"
        with urllib.request.urlopen(url[1], timeout=10) as response:  # a URL an author can open: no 404
            assert response.status == 200 and b"plugin" in response.read()
        assert run.interrupt() == 0


def test_vite_that_cannot_start_is_a_one_line_error(tmp_path: Path, state_root: Path) -> None:
    plugin = _full_plugin(tmp_path, "ui")
    (plugin / "ui/vite.config.ts").write_text("export default {{{\n")
    with running([str(plugin)], run_env(state_root)) as run:
        assert run.process.wait(120) == 1
        run.wait_for(lambda r: r.stderr, 5, "the error")
        (line,) = run.stderr
        assert line.startswith("plugindev: error: Vite exited with code 1 before it was ready on port")
        assert "PARSE_ERROR" in line
        assert processes(cwd=str(plugin / "ui")) == []  # no Vite left behind



def test_several_plugins_at_once_keep_to_themselves(tmp_path: Path, state_root: Path) -> None:
    plugins = []
    for name in ("alpha", "beta"):
        plugin = tmp_path / name / name
        scaffold(plugin, ScaffoldOptions(name, name, "", "full").checked())
        plugins.append(plugin)
    with running([str(p) for p in plugins], run_env(state_root)) as run:
        for name in ("alpha", "beta"):
            run.wait_for(lambda r, n=name: any(ready(s) and s["viteStatus"] == "ready" for s in r.statuses(n)),
                         START, f"{name} ready")
        infos = {name: run.wait_for(lambda _, n=name: devinfo(state_root, n), 10, f"{name} .devinfo")
                 for name in ("alpha", "beta")}
        assert infos["alpha"]["vitePort"] != infos["beta"]["vitePort"]
        assert infos["alpha"]["pid"] != infos["beta"]["pid"]

        def builds(r: RunHandle, plugin_id: str) -> int:
            return sum(1 for e in r.events if e["event"] == "plugin/devserver/log" and e["pluginID"] == plugin_id
                       for entry in e["data"] if entry["message"].startswith("built in"))

        before = {name: builds(run, name) for name in ("alpha", "beta")}
        main_go = plugins[0] / "pkg/main.go"
        for i in range(5):
            main_go.write_text(main_go.read_text() + f"\n// save {i}\n")
            time.sleep(0.03)
        wait_new_devinfo(run, state_root, "alpha", infos["alpha"]["pid"])
        time.sleep(1.0)
        assert builds(run, "alpha") == before["alpha"] + 1
        assert builds(run, "beta") == before["beta"]
        beta = devinfo(state_root, "beta")
        assert beta is not None and beta["pid"] == infos["beta"]["pid"]


def test_ctrl_c_during_a_slow_start_does_not_wait_for_the_handshake(testplugin: Path, state_root: Path) -> None:
    env = run_env(state_root, TESTPLUGIN_MODE="nohandshake")
    with running([str(testplugin), "--handshake-timeout", "60"], env) as run:
        run.wait_status(lambda s: s["goStatus"] == "starting", START, "the plugin starting")
        run.wait_for(lambda r: r.log_count(lambda e: "mode=nohandshake" in e["message"]), 10,
                     "the plugin up, waiting before its handshake")
        begun = time.monotonic()
        assert run.interrupt(timeout=20) == 0
        assert time.monotonic() - begun < 10
        binary = str(state_root / "plugins/testplugin/bin/plugin")
        assert processes(exe=binary) == []


def test_kill_9_during_the_handshake_leaves_nothing_for_the_next_run(testplugin: Path, state_root: Path) -> None:
    env = run_env(state_root)
    with running([str(testplugin)], {**env, "TESTPLUGIN_MODE": "nohandshake"}) as run:
        run.wait_status(lambda s: s["goStatus"] == "starting", START, "the plugin starting")
        # recorded the moment it exists, not after its handshake
        (plugin,) = run.wait_for(lambda _: [g for g in recorded_groups(state_root) if g["kind"] == "plugin"], 10,
                                 "the plugin recorded")
        # once it has printed (a Go program writing to a pipe nobody reads any more dies of SIGPIPE)
        run.wait_for(lambda r: r.log_count(lambda e: "mode=nohandshake" in e["message"]), 10, "the plugin's line")
        os.kill(run.process.pid, signal.SIGKILL)
        run.process.wait(10)
        assert is_alive(plugin["pid"])  # still waiting to print its handshake, and nobody's child
        with running([str(testplugin)], env) as second:
            second.wait_for(lambda r: [m for m in r.said() if "ended leftover plugin" in m], 30, "the leftover ended")
            assert not is_alive(plugin["pid"])
            second.wait_status(ready, START, "the new plugin ready")


def test_a_plugin_that_keeps_exiting_leaves_no_socket_folders(testplugin: Path, state_root: Path) -> None:
    with TemporaryDirectory(prefix="pd-", dir=SOCKET_FALLBACK) as short:  # room for the socket's name in it
        sockets = Path(short)  # go-plugin's socket folders go under TMPDIR
        env = run_env(state_root, TESTPLUGIN_MODE="exitafter", TMPDIR=str(sockets))
        with running([str(testplugin)], env) as run:
            run.wait_for(lambda r: r.log_count(lambda e: "exited on its own with code 3" in e["message"]) >= 3, 60,
                         "three exits")
            assert len(list(sockets.glob("plugindev-*"))) <= 1  # the current process's, at most
            assert run.interrupt() == 0
        assert list(sockets.glob("plugindev-*")) == []


def test_a_temp_folder_too_deep_for_a_socket_puts_the_plugins_socket_in_tmp(testplugin: Path, state_root: Path,
                                                                            tmp_path: Path) -> None:
    deep = tmp_path / ("deep-" * 16)  # with go-plugin's names a socket path there is over 103 bytes
    deep.mkdir()
    with running([str(testplugin)], run_env(state_root, TMPDIR=str(deep))) as run:
        run.wait_status(ready, START, "the plugin ready")
        (group,) = [group for group in recorded_groups(state_root) if group["kind"] == "plugin"]
        folder = Path(group["temp_dir"])
        assert folder.parent == SOCKET_FALLBACK and folder.is_dir()
        assert run.interrupt() == 0
    assert not folder.exists() and list(deep.iterdir()) == []


def test_a_second_run_of_the_same_plugin_is_refused_and_leaves_the_first_alone(testplugin: Path,
                                                                                state_root: Path) -> None:
    env = run_env(state_root)
    with running([str(testplugin)], env) as first:
        first.wait_status(ready, START, "the first run ready")
        info = first.wait_for(lambda _: devinfo(state_root, "testplugin"), 10, ".devinfo")
        second = subprocess.run([sys.executable, "-m", "orchestrator", "run", str(testplugin)], env=env,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert second.stderr.splitlines() == [
            f"plugindev: error: plugin 'testplugin' is already running under `plugindev run` (pid "
            f"{first.process.pid}); "
            "stop that one first, or develop this plugin there"]
        assert devinfo(state_root, "testplugin") == info and is_alive(info["pid"])
        os.kill(first.process.pid, signal.SIGKILL)  # a dead holder: the next run takes over and cleans up
        first.process.wait(10)
        with running([str(testplugin)], env) as third:
            third.wait_status(ready, START, "the third run ready")
            assert not is_alive(info["pid"])


def test_a_stopped_plugin_is_unadvertised_and_comes_back_on_sigcont(testplugin: Path, state_root: Path) -> None:
    with running([str(testplugin), "--health-interval", HEALTH_INTERVAL], run_env(state_root)) as run:
        run.wait_status(ready, START, "the plugin ready")
        info = run.wait_for(lambda _: devinfo(state_root, "testplugin"), 10, ".devinfo")
        os.kill(info["pid"], signal.SIGSTOP)
        try:
            down = run.wait_status(lambda s: not s["grpcConnected"], 20, "the health check failing",
                                   after=len(run.statuses()) - 1)
            assert down["goStatus"] == "error" and devinfo(state_root, "testplugin") is None
        finally:
            os.kill(info["pid"], signal.SIGCONT)
        run.wait_status(ready, 20, "healthy again", after=len(run.statuses()) - 1)
        again = run.wait_for(lambda _: devinfo(state_root, "testplugin"), 10, ".devinfo again")
        assert again["pid"] == info["pid"]  # the same process, advertised again


def test_kill_9_during_a_build_leaves_nothing_for_the_next_run(testplugin: Path, state_root: Path,
                                                               tmp_path: Path) -> None:
    go, _ = _logging_go(tmp_path, 30)
    temp = tmp_path / "temp"
    temp.mkdir()
    env = run_env(state_root, TMPDIR=str(temp))
    with running([str(testplugin), "--go", str(go)], env) as run:
        (build,) = run.wait_for(lambda _: [g for g in recorded_groups(state_root) if g["kind"] == "go-build"], 30,
                                "the build recorded")
        os.kill(run.process.pid, signal.SIGKILL)
        run.process.wait(10)
        assert group_alive(build["pgid"])  # the slow build outlived plugindev, and so did its GOTMPDIR
        build_temp = Path(build["temp_dir"])
        assert build_temp.parent == temp and build_temp.is_dir()
        with running([str(testplugin)], env) as second:
            second.wait_for(lambda r: [m for m in r.said() if "ended leftover go-build" in m], 30, "the build ended")
            assert not group_alive(build["pgid"]) and not build_temp.exists()
            second.wait_status(ready, START, "the next run ready")


def test_a_run_whose_output_reader_is_gone_still_stops_cleanly(testplugin: Path, state_root: Path,
                                                               tmp_path: Path) -> None:
    """`plugindev run | tee run.log`, then Ctrl+C: tee ends first, so every line plugindev prints from then on
    meets a closed pipe; the run must still stop cleanly and leave nothing running."""
    read_end, write_end = os.pipe()
    with open(tmp_path / "stderr", "w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "orchestrator", "run", str(testplugin)],
                                   env=run_env(state_root), stdin=subprocess.DEVNULL, stdout=write_end,
                                   stderr=stderr, start_new_session=True)
    os.close(write_end)
    plugin_pid = 0
    try:
        printed = b""
        deadline = time.monotonic() + START
        while b"ready in" not in printed and time.monotonic() < deadline:
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            printed += chunk
        assert b"ready in" in printed, printed.decode()[-2000:]
        plugin_pid = devinfo(state_root, "testplugin")["pid"]
        os.close(read_end)
        read_end = -1
        os.killpg(process.pid, signal.SIGINT)  # a terminal's Ctrl+C: plugindev's group (plugins have their own)
        assert process.wait(30) == 0, (tmp_path / "stderr").read_text()[-2000:]
        assert gone(plugin_pid)
        assert devinfo(state_root, "testplugin") is None
    finally:
        if read_end >= 0:
            os.close(read_end)
        for group in (process.pid, plugin_pid):  # whatever a failed stop left (the plugin has its own group)
            if group and group_alive(group):
                os.killpg(group, signal.SIGKILL)
        process.wait(10)


@pytest.mark.parametrize("opens", [True, False])
def test_run_open_prints_the_dashboard_and_opens_it_or_says_it_could_not(testplugin: Path, state_root: Path,
                                                                         tmp_path: Path, opens: bool) -> None:
    opened = tmp_path / "opened"
    browser = tmp_path / "browser.sh"  # what $BROWSER names is what Python's webbrowser runs
    browser.write_text(f'#!/bin/sh\nprintf %s "$1" > {opened}\n' if opens else "#!/bin/sh\nexit 1\n")
    browser.chmod(0o755)

    def said(run: RunHandle) -> list[str]:
        return [m for m in run.said() if "dashboard" in m or "browser" in m]

    with running(["--open", str(testplugin)], run_env(state_root, BROWSER=str(browser))) as run:
        api = ApiClient.wait_for(state_root)
        url = f"{api.url}/?token={api.token}"
        if opens:
            run.wait_for(lambda _: opened.exists() and opened.read_text(), 10, "the browser started")
            assert opened.read_text().startswith(f"{api.url}/?code=")  # not the token (tests/test_token_origins.py)
            # the line goes through the bus and the printer: it may come a moment after the browser started
            assert run.wait_for(lambda r: said(r), 10, "the dashboard line") == [f"dashboard: {url}"]
        else:
            lines = run.wait_for(lambda r: len(said(r)) == 2 and said(r), 10, "the line about no browser")
            assert lines == [f"dashboard: {url}", "no web browser could be opened here: open the dashboard URL above"]


def test_run_prints_only_entry_urls_that_answer_and_says_what_the_ide_would_get_otherwise(tmp_path: Path,
                                                                                          state_root: Path) -> None:
    plugin = _full_plugin(tmp_path)
    entry = plugin / "ui/src/entry.ts"
    good = entry.read_text()
    entry.write_text(good + "\nexport const broken = ;\n")  # still exports `plugin`: validate lets it run

    def printed_urls(run: RunHandle) -> list[str]:  # debug lines (Vite's banner) are printed with -v only
        shown = [e["message"] for e in run.logs() if e["level"] != "debug"]
        return [url for message in shown for url in re.findall(r"https?://[^\s,]+", message)]

    with running([str(plugin)], run_env(state_root)) as run:
        run.wait_status(lambda s: ready(s) and s["viteStatus"] == "ready", START, "plugin and Vite ready")
        (summary,) = run.wait_for(lambda r: [e["message"] for e in r.logs() if e["message"].startswith("ready in ")],
                                  10, "the ready line")
        assert "UI entry not loadable (see the error above), plugin pid" in summary
        problems = [e for e in run.logs() if e["source"] == "vite" and e["level"] == "error"]
        assert [e["message"] for e in problems] == [
            "the IDE would get HTTP 500 for /src/entry.ts: Vite cannot compile it or a module it imports (its error "
            "is above); fix that and save"]
        assert printed_urls(run) == []

        entry.write_text(good)
        (vite,) = [g for g in recorded_groups(state_root) if g["kind"] == "vite"]
        os.killpg(vite["pgid"], signal.SIGKILL)  # a Vite start checks the entry again
        lines = run.wait_for(lambda r: [m for m in (e["message"] for e in r.logs()) if m.startswith("ready: the IDE")],
                             30, "Vite's ready line")
        port = run.statuses()[-1]["vitePort"]  # the first, unless another program took it while Vite was down
        assert lines == [f"ready: the IDE loads http://127.0.0.1:{port}/src/entry.ts"]
        (url,) = printed_urls(run)
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200 and b"plugin" in response.read()
        assert run.interrupt() == 0
