"""`plugindev install` of a plugin that is in development is refused before anything is built (it once built for
72 s, then refused), naming the command that holds the plugin (it named `run` when `serve` held it) and how to
let go of it; a dev session started while an install holds the plugin is refused until the install is done."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import plugindev
from external_support import sdk_devinfo, write
from go_support import copy_fixture
from run_support import ready, run_env, running

from orchestrator.release.install import installing

START = 120.0  # the session's first build may start from a cold Go cache


@pytest.fixture
def testplugin(tmp_path: Path) -> Path:
    return copy_fixture(tmp_path / "testplugin")


def _built(plugin: Path) -> bool:
    return (plugin / "build" / "release").exists()


@pytest.mark.integration
@pytest.mark.parametrize(("command", "advice"), [
    ("serve", "remove it from that serve (`plugindev remove testplugin`) or stop the serve"),
    ("run", "stop that run (Ctrl+C where it runs)"),
])
def test_an_install_is_refused_before_its_build_while_a_session_develops_the_plugin(
        tmp_path: Path, testplugin: Path, command: str, advice: str) -> None:
    env = run_env(tmp_path / "state")
    with running([str(testplugin)], env, command=command) as session:
        session.wait_status(ready, START, "the plugin ready")
        refused = plugindev("install", str(testplugin), env=env, timeout=120)
        assert refused.returncode == 1
        assert refused.stderr.splitlines() == [
            f"plugindev: error: plugin 'testplugin' is in development under `plugindev {command}` (pid "
            f"{session.process.pid}); {advice}, then install"]
        assert not _built(testplugin)
    installed = plugindev("install", str(testplugin), env=env, timeout=300)  # the session gone, it goes through
    assert installed.returncode == 0, installed.stderr
    assert (tmp_path / "state/plugins/testplugin/bin/plugin").is_file()


def test_a_session_started_during_an_install_is_refused_until_it_is_done(tmp_path: Path, testplugin: Path) -> None:
    state_root = tmp_path / "state"
    env = run_env(state_root)
    with installing("testplugin", state_root):  # as `plugindev install` holds it while it builds and installs
        refused = plugindev("run", str(testplugin), env=env, timeout=120)
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        f"plugindev: error: plugin 'testplugin' is being installed by `plugindev install` (pid {os.getpid()}); "
        "start it again once that is done"]


def test_an_install_is_refused_before_its_build_while_the_plugin_runs_outside_plugindev(
        tmp_path: Path, testplugin: Path) -> None:
    state_root = tmp_path / "state"
    write(state_root, "testplugin", sdk_devinfo(os.getpid(), "127.0.0.1:1234", "testplugin"))  # as the SDK does
    refused = plugindev("install", str(testplugin), env=run_env(state_root), timeout=120)
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        f"plugindev: error: plugin 'testplugin' runs in development from {state_root}/plugins/testplugin (pid "
        f"{os.getpid()}, see its .devinfo); stop it first, then install"]
    assert not _built(testplugin)
