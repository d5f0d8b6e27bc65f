"""A scaffolded plugin builds: the Go half with the Go toolchain, the UI half with npm and Vite."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import plugindev

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parent.parent
SDK_STANDIN = REPO / "examples" / "sdk-standin"


def _scaffold(target: Path) -> None:
    result = plugindev("scaffold", str(target), "--id", "build-test", "--name", "Build Test")
    assert result.returncode == 0, result.stderr


def test_go_half_builds_and_vets(tmp_path: Path) -> None:
    go = shutil.which("go")
    assert go, "the Go toolchain must be on PATH"
    plugin = tmp_path / "plugin"
    _scaffold(plugin)
    # The real SDK is not on every module proxy: a workspace points it at the stand-in with the same API.
    (tmp_path / "go.work").write_text(f"go 1.25.0\n\nuse ./plugin\n\nreplace github.com/omniviewdev/plugin-sdk => "
                                      f"{SDK_STANDIN}\n")
    build = subprocess.run([go, "build", "-o", "build/bin/plugin", "./pkg"], cwd=plugin, capture_output=True,
                           text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    assert (plugin / "build/bin/plugin").stat().st_size > 0
    vet = subprocess.run([go, "vet", "./..."], cwd=plugin, capture_output=True, text=True, timeout=600)
    assert vet.returncode == 0, vet.stderr


def test_ui_half_links_installs_and_builds_a_systemjs_bundle(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin"
    _scaffold(plugin)
    link = plugindev("link", str(plugin))
    assert link.returncode == 0, link.stderr
    linked = plugin / "ui/node_modules/@omniviewdev/vite-plugin"
    assert linked.is_symlink() and (linked / "index.mjs").is_file()
    assert linked.resolve() == (plugin / "ui/.plugindev/vite-plugin").resolve()

    build = subprocess.run(["node_modules/.bin/vite", "build"], cwd=plugin / "ui", capture_output=True, text=True,
                           timeout=300)
    assert build.returncode == 0, build.stderr
    bundle = (plugin / "ui/dist/assets/entry.js").read_text()
    assert bundle.startswith("System.register([")
    deps = re.match(r"System\.register\((\[[^\]]*\])", bundle)
    assert deps is not None
    for shared in ('"react"', '"react/jsx-runtime"', '"@omniviewdev/runtime"'):
        assert shared in deps.group(1), shared
    assert "__OMNIVIEW_SHARED__" not in bundle
    assert '"plugin"' in bundle  # the named export survives

    again = plugindev("link", str(plugin))
    assert again.returncode == 0 and "installed" not in again.stdout  # nothing stale: no second install
