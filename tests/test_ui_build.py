"""`plugindev run --ui build` on a Vite 5 UI: one `vite build` and one assets install per change, no loop.

Vite 5 loads an ESM `vite.config.ts` by writing `vite.config.ts.timestamp-<ms>-<hex>.mjs` beside it for the
duration of the load. ui/ is watched, so unless that file is ignored every build triggers the next one (and
cancels itself): the assets are never installed.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from run_support import RunHandle, run_env, running
from vite_support import VITE_STACKS

from orchestrator.authoring.scaffold import ScaffoldOptions, scaffold

pytestmark = pytest.mark.integration

START = 300.0  # the first start installs the UI's npm dependencies
REBUILD = 60.0
WORDS = ("Clicked", "Pressed", "Tapped")  # the button label before and after each change


def _vite5_ui_plugin(tmp_path: Path) -> Path:
    """A scaffolded UI-only plugin whose ui/package.json pins the Vite 5 stack (as existing plugins do)."""
    plugin = tmp_path / "hello"
    scaffold(plugin, ScaffoldOptions("hello", "Hello", "", "ui").checked())
    package_path = plugin / "ui/package.json"
    package = json.loads(package_path.read_text())
    package["devDependencies"].update(VITE_STACKS["vite5"])
    package_path.write_text(json.dumps(package, indent=2) + "\n")
    return plugin


def _count(run: RunHandle, message: str) -> int:
    return run.log_count(lambda e: e["source"] == "vite" and e["message"].startswith(message))


def _counts(run: RunHandle) -> tuple[int, int, int]:
    """(`vite build` started, assets installed, builds cancelled by a change)."""
    return _count(run, "vite build"), _count(run, "installed UI assets"), _count(run, "UI changed during the build")


def test_vite5_ui_build_installs_once_per_change_and_does_not_loop(tmp_path: Path) -> None:
    plugin = _vite5_ui_plugin(tmp_path)
    state_root = tmp_path / ".omniview"
    entry = state_root / "plugins/hello/assets/entry.js"
    page = plugin / "ui/src/pages/HomePage.tsx"
    with running([str(plugin), "--ui", "build"], run_env(state_root)) as run:
        run.wait_for(lambda r: _counts(r)[1] >= 1, START, "the first UI assets installed")
        vite = json.loads((plugin / "ui/node_modules/vite/package.json").read_text())["version"]
        assert vite == VITE_STACKS["vite5"]["vite"]
        assert entry.read_text().startswith("System.register([")
        assert _counts(run) == (1, 1, 0), run.last_logs()

        for done, (old, new) in enumerate(itertools.pairwise(WORDS), start=2):
            page.write_text(page.read_text().replace(f"{old} {{count}} times", f"{new} {{count}} times"))
            run.wait_for(lambda r, n=done: _counts(r)[1] >= n, REBUILD, f"the assets of change {done - 1}")
            assert f"{new} " in entry.read_text()
            assert _counts(run) == (done, done, 0), run.last_logs()

        assert run.interrupt() == 0
    assert _counts(run) == (len(WORDS), len(WORDS), 0), run.last_logs()

