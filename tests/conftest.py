"""Shared fixtures: a test cache for Node environments and npm installs, and a CLI runner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from go_support import use_sdk_proxy
from vite_support import ViteProcesses, generate_vite_plugin

REPO = Path(__file__).resolve().parent.parent

# npm installs are slow: every test session shares one cache folder, apart from the user's own.
os.environ.setdefault("PLUGINDEV_CACHE_DIR", str(Path.home() / ".cache" / "plugindev-tests"))

use_sdk_proxy()


def plugindev(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
              timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the real command line in a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=timeout,
    )


@pytest.fixture
def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.fail("node is not on PATH; the tests need Node.js 20.19+")
    return found


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "state"
    monkeypatch.setenv("OMNIVIEW_STATE_DIR", str(root))
    yield root


@pytest.fixture
def vite_processes() -> Iterator[ViteProcesses]:
    """Start Vite servers with `.start(app_dir)`; all are stopped (process group killed) after the test."""
    with ViteProcesses() as procs:
        yield procs


@pytest.fixture(scope="session")
def generated_vite_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `@omniviewdev/vite-plugin` package written by the real `plugindev gen-shims --out`, once per session."""
    return generate_vite_plugin(tmp_path_factory.mktemp("vite-plugin") / "pkg")
