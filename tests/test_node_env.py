"""Node environments: nodeenv with the system Node when it is new enough, cached and reused."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from orchestrator.common import node as node_module
from orchestrator.common.errors import PlugindevError
from orchestrator.common.node import ensure_node_env, install_packages, parse_node_version
from orchestrator.shimgen.discovery import LEXER_PACKAGE

pytestmark = pytest.mark.integration


def test_system_node_is_reused_through_nodeenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLUGINDEV_CACHE_DIR", str(tmp_path))
    env = asyncio.run(ensure_node_env())
    assert env.root.parent == tmp_path / "node" and env.root.name.startswith("system-v")
    node = env.bin_dir / "node"
    assert node.is_file() and "exec" in node.read_text()  # nodeenv's shim to the system node, no download
    npm = env.which("npm")
    assert Path(npm).exists()
    stamp = node.stat().st_mtime_ns
    again = asyncio.run(ensure_node_env())
    assert again == env and node.stat().st_mtime_ns == stamp  # reused, not recreated


def test_too_old_system_node_and_no_download_is_a_clear_error(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLUGINDEV_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))  # no node, no npm
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")  # and no way to download one
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    with pytest.raises(PlugindevError, match=r"no usable Node\.js: no node on PATH.*install Node\.js 20\.19"):
        asyncio.run(ensure_node_env())
    assert [path for path in tmp_path.glob("node/*") if path.is_dir()] == []  # no half-made environment left behind


def test_node_version_parsing() -> None:
    assert parse_node_version("v20.20.2\n") == (20, 20, 2)
    assert parse_node_version("garbage") is None


def _counting_runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """Every helper program the node module runs, in order (it still runs)."""
    runs: list[tuple[str, ...]] = []
    real = node_module.run_captured

    async def counted(*argv: str, **options: Any) -> tuple[int, str, str]:
        runs.append(argv)
        return await real(*argv, **options)

    monkeypatch.setattr(node_module, "run_captured", counted)
    return runs


def test_two_at_once_make_one_node_env_and_one_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two plugins of a serve (or two plugindevs) asking at once: the second waits for the first's result."""
    monkeypatch.setenv("PLUGINDEV_CACHE_DIR", str(tmp_path))
    runs = _counting_runs(monkeypatch)
    folder = tmp_path / "tools" / "lexer"

    async def both() -> None:
        first, second = await asyncio.gather(ensure_node_env(), ensure_node_env())
        assert first == second
        await asyncio.gather(install_packages(first, folder, LEXER_PACKAGE),
                             install_packages(second, folder, LEXER_PACKAGE))

    asyncio.run(both())
    assert sum("nodeenv" in argv for argv in runs) == 1
    assert sum("install" in argv for argv in runs) == 1
    assert (folder / "node_modules" / next(iter(LEXER_PACKAGE)) / "package.json").is_file()


@pytest.mark.parametrize("shape", ["fifo", "symlink"])
def test_a_cache_lock_that_is_no_regular_file_is_one_line_saying_what_to_do(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shape: str) -> None:
    monkeypatch.setenv("PLUGINDEV_CACHE_DIR", str(tmp_path))
    env, _args = node_module.planned_node_env(asyncio.run(node_module.system_node_version()))
    lock = env.root.with_name(env.root.name + ".lock")
    lock.parent.mkdir(parents=True)
    if shape == "fifo":
        os.mkfifo(lock)
    else:
        lock.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(PlugindevError, match=r"the cache's lock file .*\.lock is a .*, not a regular file; remove it"):
        asyncio.run(ensure_node_env())
    assert not (tmp_path / "elsewhere").exists()
