"""A fresh scaffold type-checks with its own TypeScript: `tsc --noEmit` over src/ and vite.config.ts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import plugindev

pytestmark = pytest.mark.integration


def test_fresh_scaffold_type_checks_with_its_own_typescript(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin"
    scaffolded = plugindev("scaffold", str(plugin), "--id", "typecheck-test", "--name", "Type Check")
    assert scaffolded.returncode == 0, scaffolded.stderr
    linked = plugindev("link", str(plugin))
    assert linked.returncode == 0, linked.stderr

    ui = plugin / "ui"
    tsc = ui / "node_modules/.bin/tsc"
    assert tsc.exists(), "the scaffold's package.json brings TypeScript"
    result = subprocess.run([str(tsc), "--noEmit", "-p", "."], cwd=ui, capture_output=True, text=True, timeout=300,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, f"tsc --noEmit failed in a fresh scaffold:\n{result.stdout}{result.stderr}"
    assert "vite.config.ts" in (ui / "tsconfig.json").read_text()  # the config is among what was checked
