"""A slow first time is said as it goes: a first `go build` whose modules Go's module cache lacks downloads them
first, saying modules done of total, then its time so far, and once that it is a one-time cost; a UI install says
that it runs and its time so far. Real Go (an empty module cache, the Go module proxy), real processes."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from go_support import copy_fixture
from run_support import ready, run_env, running
from test_package_managers import INSTALL_SCRIPT, fake_plugin, register

from orchestrator.common.progress import every
from orchestrator.devloop.context import PartContext, RunOptions
from orchestrator.devloop.pool import PriorityPool, Slots, added_priority
from orchestrator.devloop.ui import prepare_ui as prepare_part_ui
from orchestrator.go.build import go_build
from orchestrator.go.progress import BuildProgress, Module, cached, escape, missing_modules, required_modules
from orchestrator.go.toolchain import find_go
from orchestrator.link.setup import prepare_ui
from orchestrator.model.events import Level, Source
from orchestrator.model.state import DevState

FIXTURE_MODULES = 14  # what tests/fixtures/testplugin/go.mod requires


def test_module_paths_are_spelled_as_the_module_cache_does() -> None:
    assert escape("github.com/BurntSushi/toml") == "github.com/!burnt!sushi/toml"
    assert escape("v1.2.3-RC.1") == "v1.2.3-!r!c.1"
    assert escape("golang.org/x/net") == "golang.org/x/net"


def test_required_modules_follow_replace_directives() -> None:
    go_mod = {
        "Require": [{"Path": "a.com/kept", "Version": "v1.0.0"},
                    {"Path": "b.com/local", "Version": "v1.0.0"},
                    {"Path": "c.com/any", "Version": "v1.0.0"},
                    {"Path": "d.com/exact", "Version": "v1.0.0"},
                    {"Path": "e.com/other-version", "Version": "v2.0.0", "Indirect": True}],
        "Replace": [{"Old": {"Path": "b.com/local"}, "New": {"Path": "../local"}},
                    {"Old": {"Path": "c.com/any"}, "New": {"Path": "c.com/fork", "Version": "v1.1.0"}},
                    {"Old": {"Path": "d.com/exact", "Version": "v1.0.0"},
                     "New": {"Path": "d.com/fork", "Version": "v1.0.1"}},
                    {"Old": {"Path": "e.com/other-version", "Version": "v1.0.0"}, "New": {"Path": "../e"}}],
    }
    assert required_modules(go_mod) == [Module("a.com/kept", "v1.0.0"), Module("c.com/fork", "v1.1.0"),
                                        Module("d.com/fork", "v1.0.1"), Module("e.com/other-version", "v2.0.0")]
    assert required_modules({"Module": {"Path": "x"}}) == []


def test_missing_modules_are_the_required_ones_the_cache_lacks(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = copy_fixture(tmp_path / "plugin")
    cache = tmp_path / "modcache"
    monkeypatch.setenv("GOMODCACHE", str(cache))

    found_cache, missing = asyncio.run(missing_modules(plugin, find_go()))
    assert found_cache == cache and len(missing) == FIXTURE_MODULES
    assert Module("github.com/hashicorp/go-plugin", "v1.7.0") in missing

    (cache / "github.com/hashicorp/go-plugin@v1.7.0").mkdir(parents=True)
    (cache / "github.com/oklog/run@v1.1.0").mkdir(parents=True)
    (cache / "github.com/oklog/run@v1.1.0.partial").touch()  # Go is still extracting it
    _cache, missing = asyncio.run(missing_modules(plugin, find_go()))
    assert len(missing) == FIXTURE_MODULES - 1 and Module("github.com/oklog/run", "v1.1.0") in missing

    (plugin / "vendor").mkdir()
    (plugin / "vendor" / "modules.txt").write_text("")
    assert asyncio.run(missing_modules(plugin, find_go()))[1] == []  # the build reads vendor/, not the cache
    (plugin / "go.mod").write_text("this is not a go.mod\n")
    assert asyncio.run(missing_modules(plugin, find_go()))[1] == []  # the build says what is wrong


def test_ticks_come_at_whole_intervals_while_the_work_runs_and_never_after() -> None:
    # what holds however late a loaded machine runs each tick: the n-th never comes before n whole intervals, at
    # most one comes per interval of the body, and none once the body is over
    ticks: list[float] = []

    async def work() -> tuple[int, float]:
        began = time.monotonic()
        async with every(0.05, ticks.append):
            await asyncio.sleep(0.23)
        during, body = len(ticks), time.monotonic() - began
        await asyncio.sleep(0.15)
        return during, body

    during, body = asyncio.run(work())
    assert 1 <= len(ticks) == during <= int(body / 0.05), ticks
    assert all(tick >= 0.05 * (i + 1) for i, tick in enumerate(ticks)), ticks


def test_a_slow_build_says_its_time_and_once_that_the_first_is_a_one_time_cost() -> None:
    said: list[str] = []
    progress = BuildProgress(said.append, interval=0.05)

    async def two_slow_builds() -> list[int]:
        counts = []
        for _ in range(2):
            async with progress.compiling():
                await asyncio.sleep(0.12)  # two intervals and more: each build says its time (twice, unless late)
            counts.append(len(said))
        return counts

    first, both = asyncio.run(two_slow_builds())
    assert 1 <= first < both and all(line.startswith("go build: ") and " s so far" in line for line in said), said
    assert [("one-time" in line or "once" in line) for line in said] == [True] + [False] * (both - 1), said


def test_a_download_that_fails_is_left_to_the_build_and_tried_again_said_shorter(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "go.mod").write_text("module example.com/p\n\ngo 1.22\n\nrequire example.com/absent v1.0.0\n")
    monkeypatch.setenv("GOMODCACHE", str(tmp_path / "modcache"))
    monkeypatch.setenv("GOPROXY", "off")  # every download fails at once
    said: list[str] = []
    debug: list[str] = []
    progress = BuildProgress(said.append)

    async def fetch() -> None:
        await progress.fetch_modules(plugin, find_go(), on_line=debug.append, on_spawn=lambda _pid: None)

    asyncio.run(fetch())
    asyncio.run(fetch())  # nothing was downloaded: looked at again
    assert said == ["first build: downloading 1 Go module, then compiling them (a one-time cost: later builds "
                    "reuse Go's module and build caches)", "downloading 1 Go module go.mod requires"]
    assert any("example.com/absent" in line for line in debug), debug  # go's own words, for -v


def _empty_module_cache(name: str) -> Path:
    """A module cache folder that is empty now, at the same path every time: Go's build cache keys on source paths,
    so the downloaded modules compile once, not in every test run."""
    cache = Path(os.environ["PLUGINDEV_CACHE_DIR"]) / "empty-modcache" / name
    subprocess.run([find_go(), "clean", "-modcache"], env=os.environ | {"GOMODCACHE": str(cache)}, check=True,
                   capture_output=True)  # Go makes the module cache read-only: it removes it as it should
    return cache


@pytest.mark.integration
def test_a_first_build_downloads_the_modules_saying_how_many_are_done(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = copy_fixture(tmp_path / "plugin")
    go_sum = (plugin / "go.sum").read_bytes()
    cache = _empty_module_cache("first-build")
    monkeypatch.setenv("GOMODCACHE", str(cache))
    said: list[str] = []
    progress = BuildProgress(said.append, interval=0.2)

    async def build() -> bool:
        result = await go_build(plugin, find_go(), tmp_path / "plugin.bin", on_line=lambda _line: None,
                                progress=progress)
        return result.ok

    assert asyncio.run(build())
    assert said[0] == (f"first build: downloading {FIXTURE_MODULES} Go modules, then compiling them (a one-time "
                       "cost: later builds reuse Go's module and build caches)")
    counts = [tuple(map(int, match.groups())) for line in said
              if (match := re.fullmatch(r"downloading Go modules: (\d+) of (\d+) \([\d.]+ s\)", line))]
    assert counts and all(total == FIXTURE_MODULES for _done, total in counts), said
    assert [done for done, _total in counts] == sorted(done for done, _total in counts)
    finished = next(i for i, line in enumerate(said) if line.startswith("downloaded the Go modules in "))
    assert finished > said.index(next(line for line in said if line.startswith("downloading Go modules:")))
    assert all(re.fullmatch(r"go build: [\d.]+ s so far", line) for line in said[finished + 1:]), said  # no note again
    assert all(cached(cache, module) for module in asyncio.run(missing_modules(plugin, find_go()))[1])
    assert (plugin / "go.sum").read_bytes() == go_sum  # the author's files are left alone

    said.clear()
    assert asyncio.run(build())  # go.mod unchanged, the modules there: nothing more to download or to say
    assert not any("download" in line for line in said), said


@pytest.mark.integration
def test_the_first_build_lines_reach_the_event_stream(tmp_path: Path) -> None:
    plugin = copy_fixture(tmp_path / "testplugin")
    state_root = tmp_path / "state"
    env = run_env(state_root, GOMODCACHE=str(_empty_module_cache("run")))
    with running([str(plugin)], env) as run:
        run.wait_status(ready, 180, "the plugin ready")
        lines = [(e["source"], e["level"], e["message"]) for e in run.logs() if e["source"] == "go-build"]

    def first(prefix: str) -> int:
        return next(i for i, (_source, level, message) in enumerate(lines)
                    if message.startswith(prefix) and level == "info")

    assert (first("go build ./pkg") < first(f"first build: downloading {FIXTURE_MODULES} Go modules")
            < first("downloaded the Go modules in ") < first("built in")), lines


@pytest.mark.integration
def test_a_ui_install_says_that_it_runs_and_its_time_so_far(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    again = INSTALL_SCRIPT.replace("parents=True", "parents=True, exist_ok=True")  # it runs twice here
    register(monkeypatch, tmp_path, "import time; time.sleep(0.5)\n" + again)
    monkeypatch.setattr("orchestrator.link.setup.PROGRESS_INTERVAL", 0.2)
    plugin = fake_plugin(tmp_path)
    said: list[str] = []

    assert asyncio.run(prepare_ui(plugin, on_progress=said.append)).installed
    assert said[0] == ("installing UI dependencies with fake@1.0.0 (the first install downloads them: a one-time "
                       "cost, later runs reuse them)")
    assert len(said) >= 3 and all(re.fullmatch(r"installing UI dependencies: [\d.]+ s so far", line)
                                  for line in said[1:]), said

    said.clear()
    package = plugin / "ui" / "package.json"
    package.write_text(json.dumps(json.loads(package.read_text()) | {"version": "1.0.1"}))
    assert asyncio.run(prepare_ui(plugin, on_progress=said.append)).installed
    assert said[0] == "installing UI dependencies with fake@1.0.0 (package.json, its lockfile or .npmrc changed)"


@pytest.mark.integration
def test_the_ui_part_waits_for_an_install_slot_and_says_its_install_in_its_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    register(monkeypatch, tmp_path, INSTALL_SCRIPT)
    plugin = fake_plugin(tmp_path)
    lines: list[tuple[Source, Level, str]] = []
    installs = PriorityPool(1)
    ctx = PartContext(
        plugin_id="p", plugin_dir=plugin, state_dir=tmp_path / "state", options=RunOptions(),
        report=lambda _change: None, log=lambda source, level, message: lines.append((source, level, message)),
        report_errors=lambda _source, _errors: None, record=lambda *_: None, forget=lambda _pid: None,
        state=lambda: DevState(pluginID="p", devPath=str(plugin)), unexpected=lambda _line: None,
        slots=Slots(PriorityPool(1), installs, order=2))

    async def behind_another_install() -> None:
        async with installs.slot(added_priority(1)):  # the plugin added before it installs
            preparing = asyncio.create_task(prepare_part_ui(ctx))
            await asyncio.sleep(0.5)
            assert not any("installing" in message for _source, _level, message in lines), lines
        await preparing

    asyncio.run(behind_another_install())
    assert (Source.MANAGER, Level.INFO, "installing UI dependencies with fake@1.0.0 (the first install downloads "
            "them: a one-time cost, later runs reuse them)") in lines
