"""Node environments: nodeenv with the system Node when it is new enough, cached and reused."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from orchestrator.common.errors import PlugindevError
from orchestrator.common.node import ensure_node_env, parse_node_version

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
    assert list(tmp_path.glob("node/*")) == []  # no half-made environment left behind


def test_node_version_parsing() -> None:
    assert parse_node_version("v20.20.2\n") == (20, 20, 2)
    assert parse_node_version("garbage") is None
