"""Shared fixtures: a test cache for Node environments and npm installs, and a CLI runner."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from go_support import attach_client as attach_client  # the support modules' fixtures, for every test
from go_support import use_sdk_proxy
from hypothesis import settings
from process_support import sleeper as sleeper
from session_support import own_home as own_home
from vite_support import ViteProcesses, generate_vite_plugin

REPO = Path(__file__).resolve().parent.parent

# npm installs are slow: every test session shares one cache folder, apart from the user's own.
os.environ.setdefault("PLUGINDEV_CACHE_DIR", str(Path.home() / ".cache" / "plugindev-tests"))

use_sdk_proxy()

# A background job of a non-interactive shell (`pytest &` in a script, some CI runners) starts with SIGINT ignored,
# and every process it starts inherits that: `status --watch` would not end on Ctrl+C, nor a go build stop when
# asked. The tests that send SIGINT need it at its default, however the suite was started.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Property tests (hypothesis): `ci` (the default) is derandomized with a modest number of examples, so a run is
# reproducible; `PLUGINDEV_HYPOTHESIS_PROFILE=long` runs many more random examples for local hunting.
settings.register_profile("ci", derandomize=True, max_examples=60, deadline=None, database=None,
                          print_blob=True)
settings.register_profile("long", max_examples=3000, deadline=None)
settings.load_profile(os.environ.get("PLUGINDEV_HYPOTHESIS_PROFILE", "ci"))


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
