"""A scaffolded plugin builds: the Go half with the Go toolchain, the UI half with npm and Vite."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import plugindev

from orchestrator.authoring.scaffold import SDK_VERSION

pytestmark = pytest.mark.integration



def _scaffold(target: Path, *args: str) -> None:
    result = plugindev("scaffold", str(target), "--id", "build-test", "--name", "Build Test", *args)
    assert result.returncode == 0, result.stderr


def _go(plugin: Path, *args: str) -> subprocess.CompletedProcess[str]:
    go = shutil.which("go")
    assert go, "the Go toolchain must be on PATH"
    return subprocess.run([go, *args], cwd=plugin, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("capabilities", [(), ("--capability", "resource")])
def test_go_half_builds_against_the_real_sdk_and_go_mod_tidy_changes_nothing(tmp_path: Path,
                                                                             capabilities: tuple[str, ...]) -> None:
    plugin = tmp_path / "plugin"
    _scaffold(plugin, *capabilities)
    assert f"github.com/omniviewdev/plugin-sdk {SDK_VERSION}" in (plugin / "go.mod").read_text()
    rendered = {name: (plugin / name).read_bytes() for name in ("go.mod", "go.sum")}
    build = _go(plugin, "build", "-o", "build/bin/plugin", "./pkg")  # right after scaffolding, nothing else run
    assert build.returncode == 0, build.stderr
    assert (plugin / "build/bin/plugin").stat().st_size > 0
    vet = _go(plugin, "vet", "./...")
    assert vet.returncode == 0, vet.stderr
    tidy = _go(plugin, "mod", "tidy")
    assert tidy.returncode == 0, tidy.stderr
    drifted = [name for name, content in rendered.items() if (plugin / name).read_bytes() != content]
    assert drifted == [], f"`go mod tidy` changed {drifted}: update scaffolds/backend/ for SDK {SDK_VERSION}"


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
