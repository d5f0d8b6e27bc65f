"""Plugins on the real Omniview plugin SDK (v0.5.0, from the module proxy) under `plugindev run`, and the IDE's
way of attaching to them: a go-plugin v1.7 client that reattaches from `.devinfo` and talks to the SDK's
lifecycle service."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from run_support import RunHandle, devinfo, environ, ready, run_env, running, wait_new_devinfo

from orchestrator.authoring.scaffold import ScaffoldOptions, scaffold
from orchestrator.common.process import is_alive

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parent / "fixtures"
START = 240.0  # a cold Go cache builds the SDK and its dependencies first
HEALTH_INTERVAL = 0.1  # --health-interval: many rounds of plugindev's health check in a moment


def _attach(client: Path, info_file: Path, *, close: bool = False, resource: str = "") -> dict[str, Any]:
    args = [str(client), "-devinfo", str(info_file), *(["-close"] if close else []),
            *(["-resource", resource] if resource else [])]
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _plugin_errors(run: RunHandle) -> list[str]:
    """What the plugin itself logged at error level (hclog's `[ERROR]`, or an error-level entry)."""
    return [e["message"] for e in run.logs() if e["source"] == "plugin" and
            (e["level"] == "error" or "[ERROR]" in e["message"])]


def _backend_capabilities(plugin: Path) -> list[str]:
    declared = yaml.safe_load((plugin / "plugin.yaml").read_text())["capabilities"]
    return sorted(c for c in declared if c != "ui")


def test_scaffolded_resource_plugin_serves_the_ides_attach_path_over_a_unix_socket(
        tmp_path: Path, attach_client: Path) -> None:
    plugin = tmp_path / "work" / "res-plugin"
    scaffold(plugin, ScaffoldOptions("res-plugin", "Res", "", "full", ("resource",)).checked())
    state_root = tmp_path / "state"
    env = run_env(state_root, OMNIVIEW_DEV="1")  # as if the author's shell had it: must not reach the plugin
    sdk_copy = Path(env["HOME"]) / ".omniview/plugins/res-plugin/plugin.yaml"
    sdk_copy.parent.mkdir(parents=True)
    sdk_copy.write_text((plugin / "plugin.yaml").read_text().replace("version: 0.1.0", "version: 0.0.9"))  # stale

    with running([str(plugin)], env) as run:
        run.wait_status(lambda s: ready(s) and s["viteStatus"] == "ready", START, "plugin and Vite ready")
        info_file = state_root / "plugins/res-plugin/.devinfo"
        info = run.wait_for(lambda _: devinfo(state_root, "res-plugin"), 10, ".devinfo")
        assert info["network"] == "unix" and info["addr"].startswith("/")

        # plugin.yaml where the SDK reads it, said once; HOME and the rest of the environment as the author's
        assert sdk_copy.read_bytes() == (plugin / "plugin.yaml").read_bytes()
        assert run.log_count(lambda e: e["message"].startswith("installed plugin.yaml also into")) == 1
        plugin_env = environ(info["pid"])
        assert plugin_env["HOME"] == env["HOME"] and "OMNIVIEW_DEV" not in plugin_env
        assert _plugin_errors(run) == []  # plugindev's own connection (stdio, health) logs no error

        first = _attach(attach_client, info_file)
        assert first["health"] == "SERVING_STATUS_SERVING"
        assert first["capabilities"] == _backend_capabilities(plugin) == ["resource", "settings"]
        assert first["version"] == "0.1.0"  # the manifest being developed, not the stale copy

        closed = _attach(attach_client, info_file, close=True)  # go-plugin's Close(): the plugin shuts down
        assert closed["closed"] is True
        run.wait_for(lambda r: r.log_count(lambda e: "was shut down by a client" in e["message"]), 20,
                     "the exit reported")
        again = wait_new_devinfo(run, state_root, "res-plugin", info["pid"])
        assert not is_alive(info["pid"]) and is_alive(again["pid"])
        assert _attach(attach_client, info_file)["health"] == "SERVING_STATUS_SERVING"


def test_the_scaffolds_resource_capability_answers_the_ides_v1_resource_client(tmp_path: Path,
                                                                             attach_client: Path) -> None:
    # The IDE dispenses `resource` as omniview.sdk.resource.v1.ResourcePlugin; the SDK's older registration
    # serves another service, which answers Unimplemented although the lifecycle lists `resource`.
    plugin = tmp_path / "work" / "items-plugin"
    scaffold(plugin, ScaffoldOptions("items-plugin", "Items", "", "backend", ("resource",)).checked())
    state_root = tmp_path / "state"
    with running([str(plugin)], run_env(state_root)) as run:
        run.wait_status(ready, START, "the plugin ready")
        run.wait_for(lambda _: devinfo(state_root, "items-plugin"), 10, ".devinfo")
        report = _attach(attach_client, state_root / "plugins/items-plugin/.devinfo", resource="core::v1::Item")
        assert report["capabilities"] == ["resource", "settings"]
        assert report["resource"] == {
            "connections": [{"id": "local", "name": "Local"}],
            "started": "CONNECTED",
            "items": [{"id": "example", "name": "Example item", "connection": "local"}],
        }


def test_an_sdk_plugin_on_tcp_is_attached_closed_and_restarted(tmp_path: Path, attach_client: Path) -> None:
    plugin = tmp_path / "tcpplugin"
    shutil.copytree(FIXTURES / "tcpplugin", plugin)
    state_root = tmp_path / "state"
    with running([str(plugin)], run_env(state_root)) as run:
        run.wait_status(ready, START, "the plugin ready")
        info = run.wait_for(lambda _: devinfo(state_root, "tcpplugin"), 10, ".devinfo")
        assert info["network"] == "tcp" and info["addr"].startswith("127.0.0.1:")
        info_file = state_root / "plugins/tcpplugin/.devinfo"
        report = _attach(attach_client, info_file, close=True)
        assert report["health"] == "SERVING_STATUS_SERVING" and report["capabilities"] == ["settings"]
        again = wait_new_devinfo(run, state_root, "tcpplugin", info["pid"])
        assert again["network"] == "tcp" and again["addr"] != info["addr"]
        assert _attach(attach_client, info_file)["health"] == "SERVING_STATUS_SERVING"


def test_plugin_yaml_edits_restart_the_plugin_and_a_bad_edit_keeps_it_serving(tmp_path: Path,
                                                                              attach_client: Path) -> None:
    plugin = tmp_path / "work" / "yaml-plugin"
    scaffold(plugin, ScaffoldOptions("yaml-plugin", "Yaml", "", "backend").checked())
    state_root = tmp_path / "state"
    env = run_env(state_root)
    manifest = plugin / "plugin.yaml"
    good = manifest.read_text()
    with running([str(plugin)], env) as run:
        run.wait_status(ready, START, "the plugin ready")
        info_file = state_root / "plugins/yaml-plugin/.devinfo"
        first = run.wait_for(lambda _: devinfo(state_root, "yaml-plugin"), 10, ".devinfo")

        manifest.write_text(good.replace("version: 0.1.0", "version: 0.2.0"))
        second = wait_new_devinfo(run, state_root, "yaml-plugin", first["pid"])
        assert second["version"] == "0.2.0" and _attach(attach_client, info_file)["version"] == "0.2.0"
        assert (Path(env["HOME"]) / ".omniview/plugins/yaml-plugin/plugin.yaml").read_text() == manifest.read_text()

        before = info_file.read_bytes()
        marker = len(run.logs())
        manifest.write_text(good.replace("version: 0.1.0", "version: not-semver"))
        run.wait_for(lambda r: [e for e in r.logs()[marker:] if e["level"] == "error"], 30, "the bad edit reported")
        time.sleep(1.0)
        errors = [e["message"] for e in run.logs()[marker:] if e["level"] == "error"]
        assert any("plugin.yaml: version: 'not-semver' is not a semantic version" in m for m in errors), errors
        assert run.statuses()[-1]["goStatus"] == "error"
        assert is_alive(second["pid"]) and info_file.read_bytes() == before  # still serving, still advertised
        assert (state_root / "plugins/yaml-plugin/plugin.yaml").read_text() != manifest.read_text()

        manifest.write_text(good)
        wait_new_devinfo(run, state_root, "yaml-plugin", second["pid"])
        run.wait_status(ready, 30, "ready again", after=len(run.statuses()) - 1)


def test_a_start_and_stop_print_no_error_lines(tmp_path: Path) -> None:
    plugin = tmp_path / "work" / "quiet-plugin"
    scaffold(plugin, ScaffoldOptions("quiet-plugin", "Quiet", "", "backend").checked())
    with running([str(plugin), "--health-interval", str(HEALTH_INTERVAL)], run_env(tmp_path / "state")) as run:
        run.wait_status(ready, START, "the plugin ready")
        time.sleep(10 * HEALTH_INTERVAL)  # rounds of health checks
        assert run.interrupt() == 0
    assert _plugin_errors(run) == []
    assert [e for e in run.logs() if e["level"] == "error"] == []


def test_a_backend_that_never_started_says_so_and_what_to_do(tmp_path: Path) -> None:
    plugin = tmp_path / "work" / "nosum-plugin"
    scaffold(plugin, ScaffoldOptions("nosum-plugin", "No sum", "", "backend").checked())
    (plugin / "go.sum").unlink()
    with running([str(plugin)], run_env(tmp_path / "state")) as run:
        failed = run.wait_status(lambda s: s["goStatus"] == "error", START, "goStatus error")
        assert "missing go.sum entry" in failed["lastError"] and failed["grpcConnected"] is False
        errors = run.wait_for(lambda r: [e for e in r.events if e["event"] == "plugin/devserver/error"], 5, "errors")
        assert errors[-1]["data"]["errors"][0]["file"] == str(plugin / "pkg/main.go")
        run.wait_for(lambda r: r.log_count(lambda e: e["message"].startswith("the backend is not running")), 5,
                     "the backend-not-running line")
        messages = [e["message"] for e in run.logs() if e["level"] == "error"]
        assert f"go.mod or go.sum does not match the imports: run `go mod tidy` in {plugin}" in messages
        shown = [m for m in messages if "missing go.sum entry" in m]
        assert len(shown) == 1 and shown[0].startswith("pkg/main.go:")  # once, relative to the plugin
        assert devinfo(tmp_path / "state", "nosum-plugin") is None


def test_no_go_serves_only_the_ui_of_a_full_plugin(tmp_path: Path) -> None:
    plugin = tmp_path / "work" / "ui-work"
    scaffold(plugin, ScaffoldOptions("ui-work", "UI work", "", "full").checked())
    with running([str(plugin), "--no-go"], run_env(tmp_path / "state")) as run:
        state = run.wait_status(lambda s: s["viteStatus"] == "ready", START, "Vite ready")
        assert state["viteURL"].startswith("http://127.0.0.1:") and state["goStatus"] == "idle"
        time.sleep(1.0)
        assert run.log_count(lambda e: e["source"] == "go-build") == 0
        assert not (plugin / "build").exists()


def test_an_sdk_that_logs_every_rpc_does_not_fill_the_terminal(tmp_path: Path) -> None:
    plugin = tmp_path / "sdk-old"
    shutil.copytree(FIXTURES / "sdk011plugin", plugin)  # SDK v0.1.1 logs `[RPC] <method>` for every call
    with running([str(plugin), "--health-interval", str(HEALTH_INTERVAL)], run_env(tmp_path / "state")) as run:
        run.wait_status(ready, START, "the plugin ready")
        time.sleep(10 * HEALTH_INTERVAL)  # rounds of plugindev's health check
        assert run.interrupt() == 0
    messages = [e["message"] for e in run.logs() if e["source"] == "plugin"]
    shown = [m for m in messages if "[RPC] /grpc.health.v1.Health/Check" in m]
    folded = sum(int(m.split()[4]) for m in messages if m.startswith("(the line above came "))
    # at least three checks were served (one at the start, then every 0.1 s); the first may come before the
    # stdio stream's `[STREAM] opened` line, so at most two are shown and the rest are counted
    assert len(shown) <= 2 and len(shown) + folded >= 3, messages
