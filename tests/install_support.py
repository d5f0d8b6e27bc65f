"""plugindev as a plugin author installs it: pipx (the machine's, else one installed from PyPI for the test
session), and the environment of an author's fresh machine account."""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest
from run_support import run_env


@pytest.fixture(scope="session")
def pipx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder holding a `pipx` command (and nothing else, so it can go on an author's PATH)."""
    tools = tmp_path_factory.mktemp("pipx-command")
    found = shutil.which("pipx")
    if found is None:
        env_dir = tmp_path_factory.mktemp("pipx-venv")
        venv.create(env_dir, with_pip=True)
        subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", "pipx"], check=True,
                       capture_output=True, timeout=300)
        found = str(env_dir / "bin" / "pipx")
    (tools / "pipx").symlink_to(found)
    return tools


def author_env(folder: Path, pipx: Path) -> dict[str, str]:
    """A fresh HOME in `folder` whose ~/.omniview is the state root (no OMNIVIEW_STATE_DIR, as on an author's
    machine), pipx's home and command folder inside it and on PATH. The user's Go, npm and pip caches are kept
    (run_env), so nothing is downloaded or compiled again."""
    env = run_env(folder / "state")  # HOME is folder/home
    del env["OMNIVIEW_STATE_DIR"]
    home = Path(env["HOME"])
    home.mkdir(parents=True, exist_ok=True)
    env |= {"PIPX_HOME": str(home / ".local" / "pipx"), "PIPX_BIN_DIR": str(home / ".local" / "bin"),
            "PIPX_MAN_DIR": str(home / ".local" / "share" / "man")}
    env["PATH"] = os.pathsep.join([env["PIPX_BIN_DIR"], str(pipx), env["PATH"]])
    env.pop("VIRTUAL_ENV", None)  # the tests' own venv is not the author's
    return env
