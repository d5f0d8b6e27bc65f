"""Package managers are data: one registered in a test (its install a small real script) is chosen by its
lockfile and run by the real link step; and an install cancelled midway leaves none of its processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from orchestrator.common.install_errors import InstallError, install_error
from orchestrator.common.node import NodeEnv, ensure_node_env
from orchestrator.link.managers.base import ChosenManager
from orchestrator.link.package_managers import MANAGERS
from orchestrator.link.setup import DEPS, GENERATED_PACKAGE, VITE_PLUGIN_PACKAGE, prepare_ui

pytestmark = pytest.mark.integration

LOCKFILE = "fake.lock"
READY_TIMEOUT = 30.0  # seconds for the fake install to say it runs

# Writes node_modules the way an install does, and what it was run with to $FAKE_RECORD.
INSTALL_SCRIPT = """\
import json, os, pathlib, sys
package = pathlib.Path("node_modules/fake-dep")
package.mkdir(parents=True)
(package / "package.json").write_text(json.dumps({"name": "fake-dep", "version": "1.2.3"}))
pathlib.Path(os.environ["FAKE_RECORD"]).write_text(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd()}))
"""
# Runs on like a slow install that started a helper (npm runs node, pnpm its workers): both pids go to
# $FAKE_RECORD once both run.
HANGING_SCRIPT = """\
import json, os, pathlib, subprocess, sys, time
helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
record = pathlib.Path(os.environ["FAKE_RECORD"])
record.with_suffix(".tmp").write_text(json.dumps({"pids": [os.getpid(), helper.pid]}))
record.with_suffix(".tmp").rename(record)
time.sleep(600)
"""


@dataclass(frozen=True)
class ScriptManager:
    """A package manager whose install is a Python script, selected by `fake.lock` in ui/."""

    script: Path
    record: Path
    LOCKFILES: tuple[str, ...] = (LOCKFILE,)
    LOCAL_PROTOCOL: str = "file:"

    def version(self, pinned: str | None, lockfile_head: str) -> str:
        return pinned or "1.0.0"

    async def install_command(self, chosen: ChosenManager, env: NodeEnv) -> list[str]:
        return [sys.executable, str(self.script), "install", chosen.label]

    def environment(self, chosen: ChosenManager, env: NodeEnv) -> dict[str, str]:
        return {**env.environ(), "FAKE_RECORD": str(self.record)}

    def fresh_lockfile(self, chosen: ChosenManager) -> bytes | None:
        return None

    def pin_shared(self, manifest: dict[str, Any], installed_shared: Mapping[str, str]) -> dict[str, Any]:
        return manifest

    def condense(self, output: str, dependencies: Mapping[str, str]) -> InstallError:
        return install_error(output, "EFAKE", "", dependencies)


def fake_plugin(tmp_path: Path) -> Path:
    plugin = tmp_path / "plugin"
    (plugin / "ui" / "src").mkdir(parents=True)
    (plugin / "ui" / "package.json").write_text(json.dumps({"name": "fake-ui", "private": True,
                                                            "dependencies": {"fake-dep": "^1.2.0"}}))
    (plugin / "ui" / LOCKFILE).write_text("fake lockfile 1\n")
    (plugin / "ui" / "src" / "entry.ts").write_text("import 'fake-dep';\n")
    return plugin


def register(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, script: str) -> ScriptManager:
    (tmp_path / "install.py").write_text(script)
    manager = ScriptManager(tmp_path / "install.py", tmp_path / "record.json")
    monkeypatch.setitem(MANAGERS, "fake", manager)
    return manager


def test_a_registered_manager_is_chosen_by_its_lockfile_and_run_by_link(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    manager = register(monkeypatch, tmp_path, INSTALL_SCRIPT)
    plugin = fake_plugin(tmp_path)
    ui = plugin / "ui"

    setup = asyncio.run(prepare_ui(plugin))

    assert (setup.package_manager, setup.installed) == ("fake@1.0.0", True)
    ran = json.loads(manager.record.read_text())
    assert ran == {"argv": ["install", "fake@1.0.0"], "cwd": str(ui.resolve() / DEPS)}
    assert (ui / DEPS / LOCKFILE).read_text() == "fake lockfile 1\n"  # its lockfile installed from
    assert json.loads((ui / "node_modules" / "fake-dep" / "package.json").read_text())["version"] == "1.2.3"
    assert (ui / "node_modules" / "fake-dep").is_symlink()  # mirrored from plugindev's own install folder
    assert (ui / "node_modules" / VITE_PLUGIN_PACKAGE).resolve() == (ui / GENERATED_PACKAGE).resolve()
    manager.record.unlink()
    assert not asyncio.run(prepare_ui(plugin)).installed  # the same inputs: not run again
    assert not manager.record.exists()


def _running(pid: int) -> bool:
    with contextlib.suppress(psutil.Error):
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    return False


def _group(pgid: int) -> list[int]:
    members = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                members.append(process.pid)
    return members


def test_a_cancelled_install_leaves_none_of_its_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manager = register(monkeypatch, tmp_path, HANGING_SCRIPT)
    plugin = fake_plugin(tmp_path)
    recorded: list[int] = []

    async def cancel_midway() -> tuple[list[int], int]:
        install = asyncio.create_task(prepare_ui(plugin, await ensure_node_env(), on_spawn=recorded.append))
        async with asyncio.timeout(READY_TIMEOUT):
            while not manager.record.exists():
                assert not install.done(), install.result()
                await asyncio.sleep(0.02)
        pids = json.loads(manager.record.read_text())["pids"]
        group = os.getpgid(pids[0])
        install.cancel()
        with pytest.raises(asyncio.CancelledError):
            await install
        return pids, group

    pids, group = asyncio.run(cancel_midway())
    try:
        assert [pid for pid in pids if _running(pid)] == []
        assert _group(group) == []
        assert group == pids[0] != os.getpgrp()  # it led a group of its own
        assert recorded == [pids[0]]  # which was recorded as it started
    finally:
        for pid in pids:  # what a broken run_captured leaves
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()
