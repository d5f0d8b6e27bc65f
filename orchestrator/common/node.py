"""Node.js environments (nodeenv) and npm installs, cached under the user cache directory.

A suitable system `node` is reused through `nodeenv --node=system` (no download, works offline);
otherwise nodeenv downloads a prebuilt Node. Every later command runs Node and npm through this.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from orchestrator.common.cache_lock import cache_lock
from orchestrator.common.errors import PlugindevError
from orchestrator.common.files import UnreadableFile, read_bounded, write_atomic
from orchestrator.common.install_errors import install_failure, npm_error
from orchestrator.common.paths import cache_dir
from orchestrator.common.process import spawn, stop_group

# Vite 8 needs Node 20.19+, Vite 5 needs 18; one floor for every tool plugindev runs.
MIN_NODE_VERSION = (20, 19, 0)
# What nodeenv downloads when no suitable system Node exists.
DOWNLOAD_NODE_VERSION = "lts"
_MARKER_LIMIT = 64 << 10  # an install's marker holds its request: a few package names and versions


@dataclass(frozen=True)
class NodeEnv:
    """A nodeenv environment: its bin folder first on PATH, npm's global prefix inside it."""

    root: Path

    @property
    def bin_dir(self) -> Path:
        return self.root / ("Scripts" if sys.platform == "win32" else "bin")

    def environ(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        env["PATH"] = os.pathsep.join([str(self.bin_dir), env.get("PATH", "")])
        env["NODE_VIRTUAL_ENV"] = str(self.root)
        env["NPM_CONFIG_PREFIX"] = env["npm_config_prefix"] = str(self.root)
        env.pop("NODE_OPTIONS", None)
        return env

    def which(self, tool: str) -> str:
        found = shutil.which(tool, path=self.environ()["PATH"])
        if found is None:
            raise PlugindevError(f"'{tool}' not found in the Node environment {self.root}; install npm")
        return found


def parse_node_version(text: str) -> tuple[int, int, int] | None:
    match = re.search(r"v?(\d+)\.(\d+)\.(\d+)", text)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


async def run_captured(*argv: str, cwd: Path | None = None, env: Mapping[str, str] | None = None,
                       stdin: bytes | None = None, on_spawn: Callable[[int], None] = lambda _pid: None,
                       ) -> tuple[int, str, str]:
    """Run a helper program to completion on the event loop; (exit code, stdout, stderr).

    It leads a process group of its own (`on_spawn(pid)` records it, see process.spawn); cancelling the call
    ends the whole group first, so an interrupted install leaves nothing running.
    """
    process = await spawn(argv, cwd=cwd, env=env, on_spawn=on_spawn, pipe_stdin=stdin is not None)
    try:
        out, err = await process.communicate(stdin)
    except asyncio.CancelledError:
        await stop_group(process)
        raise
    return process.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")


async def system_node_version() -> tuple[int, int, int] | None:
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        return None
    code, out, _ = await run_captured(node, "--version")
    return parse_node_version(out) if code == 0 else None


def planned_node_env(system: tuple[int, int, int] | None,
                     min_version: tuple[int, int, int] = MIN_NODE_VERSION) -> tuple[NodeEnv, list[str]]:
    """The cached environment used with this system Node (None: none on PATH), and nodeenv's arguments for it."""
    if system is not None and system >= min_version:
        return NodeEnv(cache_dir() / "node" / ("system-v" + ".".join(map(str, system)))), ["--node=system"]
    return NodeEnv(cache_dir() / "node" / DOWNLOAD_NODE_VERSION), ["--prebuilt", f"--node={DOWNLOAD_NODE_VERSION}"]


async def ensure_node_env(min_version: tuple[int, int, int] = MIN_NODE_VERSION) -> NodeEnv:
    """The cached environment for the Node that will be used, created on first use."""
    system = await system_node_version()
    env, args = planned_node_env(system, min_version)
    if (env.bin_dir / "node").exists():
        return env
    async with cache_lock(env.root):
        if not (env.bin_dir / "node").exists():  # not made meanwhile by the one that held the lock
            await _create_node_env(env, args, system, min_version)
    return env


async def _create_node_env(env: NodeEnv, args: list[str], system: tuple[int, int, int] | None,
                           min_version: tuple[int, int, int]) -> None:
    partial = env.root.with_name(env.root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    code, out, err = await run_captured(sys.executable, "-m", "nodeenv", *args, str(partial))
    if code != 0:
        found = "no node on PATH" if system is None else "node v" + ".".join(map(str, system))
        wanted = ".".join(map(str, min_version))
        reason = (err or out).strip().splitlines()[-1:] or ["unknown error"]
        shutil.rmtree(partial, ignore_errors=True)
        raise PlugindevError(
            f"no usable Node.js: {found}, and nodeenv could not download one ({reason[0]}); "
            f"install Node.js {wanted} or newer with npm and re-run"
        )
    # nodeenv writes absolute paths into its scripts, so fix them up before the final rename.
    for script in partial.joinpath("bin").glob("*"):
        if script.is_file() and not script.is_symlink():
            try:
                script.write_text(script.read_text().replace(str(partial), str(env.root)))
            except UnicodeDecodeError:
                continue  # the downloaded node binary itself
    partial.rename(env.root)


async def install_packages(env: NodeEnv, directory: Path, dependencies: Mapping[str, str]) -> Path:
    """Install `name -> version or range` into `directory/node_modules`, once per distinct request.

    The folder holds a package.json recording the request; an existing complete install is reused.
    """
    request = json.dumps(dict(sorted(dependencies.items())), indent=2)
    marker = directory / ".plugindev-installed"
    if await asyncio.to_thread(_recorded, marker) == request:  # files: off the event loop
        return directory
    async with cache_lock(directory):
        if await asyncio.to_thread(_recorded, marker) != request:  # or installed while we waited
            await _npm_install(env, directory, marker, request, dependencies)
    return directory


def _recorded(marker: Path) -> str | None:
    """The request a complete install in the marker's folder was made for, None when there is none."""
    try:
        return read_bounded(marker, _MARKER_LIMIT, follow_symlinks=False).decode(errors="replace")
    except UnreadableFile:
        return None


async def _npm_install(env: NodeEnv, directory: Path, marker: Path, request: str,
                       dependencies: Mapping[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    manifest = {"name": "plugindev-cache", "private": True, "dependencies": json.loads(request)}
    write_atomic(directory / "package.json", (json.dumps(manifest, indent=2) + "\n").encode())
    marker.unlink(missing_ok=True)
    code, _, err = await run_captured(
        env.which("npm"), "install", "--no-audit", "--no-fund", "--ignore-scripts", "--legacy-peer-deps",
        "--loglevel=error", cwd=directory, env=env.environ(),
    )
    if code != 0:
        names = ", ".join(f"{k}@{v}" for k, v in sorted(dependencies.items()))
        raise install_failure(npm_error(err, dependencies), f"npm install of {names}")
    write_atomic(marker, request.encode())


def install_dir(kind: str, dependencies: Mapping[str, str]) -> Path:
    """A cache folder named after what it holds, so different requests never share one."""
    digest = hashlib.sha256(json.dumps(sorted(dependencies.items())).encode()).hexdigest()[:16]
    return cache_dir() / kind / digest
