"""plugindev installed like a tool: its wheel, installed with pipx into a fresh HOME, answers `--version`,
scaffolds a plugin from the templates it carries, and its `doctor` passes on the machine and on that plugin."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from install_support import author_env
from install_support import pipx as pipx

from orchestrator import __version__

REPO = Path(__file__).resolve().parent.parent


def _run(*command: str | Path, env: dict[str, str], cwd: Path) -> list[str]:
    """A command that must succeed; its output lines."""
    result = subprocess.run([str(part) for part in command], env=env, cwd=cwd, capture_output=True, text=True,
                            timeout=600, check=False)
    assert result.returncode == 0, f"{command}: exit {result.returncode}\n{result.stdout}{result.stderr}"
    assert "Traceback" not in result.stderr
    return result.stdout.splitlines()


@pytest.mark.integration
def test_the_wheel_installed_with_pipx_runs_version_scaffold_and_doctor(tmp_path: Path, pipx: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    [wheel] = dist.glob("plugindev-*.whl")  # the distribution's name, as pyproject.toml has it
    env = author_env(tmp_path, pipx)
    work = tmp_path / "work"  # nowhere near the checkout
    work.mkdir()

    _run("pipx", "install", wheel, env=env, cwd=work)
    installed = Path(env["PIPX_BIN_DIR"]) / "plugindev"
    assert installed.is_file()
    assert _run("pipx", "list", "--short", env=env, cwd=work) == [f"plugindev {__version__}"]
    assert _run("plugindev", "--version", env=env, cwd=work) == [f"plugindev, version {__version__}"]

    machine = _run("plugindev", "doctor", env=env, cwd=work)
    assert machine[-1].startswith("all ") and machine[-1].endswith(" checks passed"), machine
    assert all(line[:5] in ("ok   ", "skip ") for line in machine[:-1]), machine
    home = Path(env["HOME"])
    assert f"ok   state root: {home / '.omniview'} is writable" in machine

    _run("plugindev", "scaffold", "my-plugin", "--id", "my-plugin", env=env, cwd=work)
    plugin = _run("plugindev", "doctor", "my-plugin", env=env, cwd=work)
    assert plugin[-1] == "all 10 checks passed (1 note)", plugin
    assert [line.split(":")[0] for line in plugin if not line.startswith("ok   ")] == [
        "note generated vite-plugin", plugin[-1]]
