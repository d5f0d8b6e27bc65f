"""Many plugins under one `serve`: their Go builds go through one pool (`--jobs`), one at a time with a pool of
one, the initial builds of a restart in the order the plugins were added, and after saves the plugin saved last
first. Real `serve`, real Go builds of copies of the go-plugin test fixture; what is checked is the order of the
build lines of the event stream."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from go_support import copy_fixture, set_marker
from run_support import RunHandle, ready, run_env, running

from orchestrator.go.toolchain import find_go
from orchestrator.statefiles.managed import SavedSet, encode_saved_set

pytestmark = pytest.mark.integration

START = 180.0  # four first builds, one after the other, maybe on a cold Go build cache
PLUGINS = ("p0", "p1", "p2", "p3")
BUILD_DELAY = 1.5  # seconds the go wrapper waits before each build: the later saves all come while one builds


def _plugins(tmp_path: Path) -> list[Path]:
    plugins = []
    for plugin_id in PLUGINS:
        plugin = copy_fixture(tmp_path / plugin_id)
        manifest = plugin / "plugin.yaml"
        manifest.write_text(manifest.read_text().replace("testplugin", plugin_id))
        plugins.append(plugin)
    return plugins


def _slow_go(tmp_path: Path) -> Path:
    """The real go, but every `go build` starts BUILD_DELAY seconds late (a build that takes a while, without
    burning the cores: the order of the queued builds is what is looked at)."""
    wrapper = tmp_path / "slow-go"
    wrapper.write_text(f'#!/bin/sh\nif [ "$1" = build ]; then sleep {BUILD_DELAY}; fi\nexec {find_go()} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def _build_lines(run: RunHandle) -> list[tuple[str, str]]:
    """(plugin, "start" or "end") for each build, in the order the event stream said them."""
    found = []
    for event in list(run.events):
        if event["event"] != "plugin/devserver/log":
            continue
        for entry in event["data"]:
            if entry["source"] == "go-build" and entry["message"] == "go build ./pkg":
                found.append((event["pluginID"], "start"))
            elif entry["source"] == "go-build" and entry["message"].startswith("built in"):
                found.append((event["pluginID"], "end"))
    return found


def _one_at_a_time(lines: list[tuple[str, str]]) -> list[str]:
    """The plugins in the order they were built, checking that each build ended before the next one started."""
    assert [kind for _plugin, kind in lines] == ["start", "end"] * (len(lines) // 2), lines
    assert all(lines[i][0] == lines[i + 1][0] for i in range(0, len(lines), 2)), lines
    return [plugin for plugin, kind in lines if kind == "start"]


def _all_ready(run: RunHandle, after: int = 0) -> Any:
    return all(any(ready(s) for s in run.statuses(plugin_id)[after:]) for plugin_id in PLUGINS)


def test_a_pool_of_one_builds_one_at_a_time_the_first_added_then_the_last_saved_first(tmp_path: Path) -> None:
    plugins = _plugins(tmp_path)
    state_root = tmp_path / "state"
    saved = state_root / "plugindev" / "managed.json"
    saved.parent.mkdir(parents=True)
    saved.write_bytes(encode_saved_set(SavedSet(tuple(plugins))))  # as a serve that ran before left it
    env = run_env(state_root, TESTPLUGIN_ID_FROM_COOKIE="1")

    with running(["--jobs", "1", "--go", str(_slow_go(tmp_path))], env, command="serve") as serve:
        serve.wait_for(_all_ready, START, "the four plugins ready")
        assert _one_at_a_time(_build_lines(serve)) == list(PLUGINS)  # the restart: in the order they were added

        before = len(_build_lines(serve))
        set_marker(plugins[0], "saved first")
        serve.wait_for(lambda r: len(_build_lines(r)) > before, 10, "p0's build started")
        for plugin in plugins[1:]:  # while p0 builds: these wait, and go in the latest first
            time.sleep(0.2)
            set_marker(plugin, f"saved after {plugin.name}")
        serve.wait_for(lambda r: len(_build_lines(r)) == before + 2 * len(PLUGINS), START,
                       "the four builds after the saves")
        assert _one_at_a_time(_build_lines(serve)[before:]) == ["p0", "p3", "p2", "p1"]
