"""Which package manager installs a plugin's UI, at which version, and how plugindev runs it.

The manager comes from the lockfile in `ui/` (`pnpm-lock.yaml`, `yarn.lock`, `package-lock.json`), else a
`pnpm-workspace.yaml` above `ui/` (the plugin lives in a pnpm workspace), else the `packageManager` field,
else npm. Its version comes from `packageManager` (`"pnpm@9.15.0+sha512..."`) or the lockfile's format
(`lockfileVersion: '9.0'` -> pnpm 9), never "latest": a newer major may rewrite the lockfile's format or
refuse build scripts. pnpm and yarn are installed, once per version, inside plugindev's Node environment and
run with its Node; npm is the environment's own.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.common.node import NodeEnv, install_packages

# pnpm lockfile format major -> the last pnpm release that writes it
PNPM_FOR_LOCKFILE = {"9": "9.15.9", "6": "8.15.9", "5": "7.33.7"}
DEFAULT_PNPM = PNPM_FOR_LOCKFILE["9"]
DEFAULT_YARN_CLASSIC = "1.22.22"
DEFAULT_YARN_BERRY = "4.9.2"
# manager -> (npm package that ships it, its entry script inside that package)
_CLASSIC_YARN = ("yarn", "bin/yarn.js")
_BERRY_YARN = ("@yarnpkg/cli-dist", "bin/yarn.js")
_PNPM = ("pnpm", "bin/pnpm.cjs")

_LOCKFILES = (("pnpm-lock.yaml", "pnpm"), ("yarn.lock", "yarn"), ("package-lock.json", "npm"),
              ("npm-shrinkwrap.json", "npm"))
_LOCKFILE_VERSION = re.compile(r"^lockfileVersion:\s*['\"]?(\d+)", re.MULTILINE)


@dataclass(frozen=True)
class PackageManager:
    name: str  # npm, pnpm or yarn
    version: str | None  # exact version plugindev runs; None: the Node environment's npm
    reason: str  # where the choice comes from, for messages
    lockfile: Path | None  # the plugin's lockfile (in ui/ or at the workspace root)
    workspace_root: Path | None  # the folder holding pnpm-workspace.yaml, when ui/ is inside one

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}" if self.version else self.name

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0]) if self.version and self.version[0].isdigit() else 0


def find_workspace_root(ui_dir: Path) -> Path | None:
    for folder in ui_dir.resolve().parents:
        if (folder / "pnpm-workspace.yaml").is_file():
            return folder
    return None


def declared_manager(manifest: dict[str, Any]) -> tuple[str, str] | None:
    """`packageManager: "pnpm@9.15.0+sha512.abc"` -> ("pnpm", "9.15.0")."""
    value = manifest.get("packageManager")
    if not isinstance(value, str) or "@" not in value:
        return None
    name, _, version = value.partition("@")
    return name, version.split("+")[0]


def choose(ui_dir: Path, manifest: dict[str, Any]) -> PackageManager:
    workspace = find_workspace_root(ui_dir)
    declared = declared_manager(manifest)
    if declared is None and workspace is not None:
        declared = declared_manager(_read_json(workspace / "package.json"))
    lockfile = next(((ui_dir / f, m) for f, m in _LOCKFILES if (ui_dir / f).is_file()), None)
    path: Path | None
    if lockfile is not None:
        name, reason, path = lockfile[1], f"ui/{lockfile[0].name}", lockfile[0]
    elif workspace is not None:
        root_lock = workspace / "pnpm-lock.yaml"
        name, reason = "pnpm", f"{workspace / 'pnpm-workspace.yaml'}"
        path = root_lock if root_lock.is_file() else None
    elif declared is not None and declared[0] in {"npm", "pnpm", "yarn"}:
        name, reason, path = declared[0], "packageManager in ui/package.json", None
    else:
        name, reason, path = "npm", "no lockfile", None
    if name == "npm":
        return PackageManager("npm", None, reason, path, workspace)
    if declared is not None and declared[0] == name and declared[1][:1].isdigit():
        return PackageManager(name, declared[1], f"packageManager {declared[0]}@{declared[1]}", path, workspace)
    return PackageManager(name, _version_from_lockfile(name, path), reason, path, workspace)


def _version_from_lockfile(name: str, lockfile: Path | None) -> str:
    head = lockfile.read_text(encoding="utf-8", errors="replace")[:4096] if lockfile else ""
    if name == "pnpm":
        found = _LOCKFILE_VERSION.search(head)
        return PNPM_FOR_LOCKFILE.get(found[1], DEFAULT_PNPM) if found else DEFAULT_PNPM
    return DEFAULT_YARN_BERRY if "__metadata:" in head else DEFAULT_YARN_CLASSIC


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def tool_folder(manager: PackageManager, env: NodeEnv) -> Path:
    """Where a pnpm or yarn version is installed (once) inside plugindev's Node environment."""
    return env.root / "package-managers" / f"{manager.name}@{manager.version}"


async def command(manager: PackageManager, env: NodeEnv) -> list[str]:
    """The argv of `<manager> install` for a plugindev-owned project folder (tools installed on first use)."""
    if manager.name == "npm":
        return [env.which("npm"), "install", "--no-audit", "--no-fund", "--loglevel=error"]
    assert manager.version is not None
    package, script = _PNPM if manager.name == "pnpm" else _CLASSIC_YARN if manager.major < 2 else _BERRY_YARN
    folder = tool_folder(manager, env)
    await install_packages(env, folder, {package: manager.version})
    entry = [env.which("node"), str(folder / "node_modules" / package / script)]
    if manager.name == "pnpm":
        # the folder is not part of any workspace; never prompt; a lockfile that no longer matches is updated
        argv = [*entry, "install", "--ignore-workspace", "--no-frozen-lockfile", "--reporter=append-only",
                "--config.confirm-modules-purge=false"]
        # pnpm 10 runs no dependency build scripts unless allowed; esbuild's and the like must run
        return [*argv, "--config.dangerously-allow-all-builds=true"] if manager.major >= 10 else argv
    if manager.major < 2:
        return [*entry, "install", "--non-interactive", "--no-progress"]
    return [*entry, "install"]


def environment(manager: PackageManager, env: NodeEnv) -> dict[str, str]:
    environ = env.environ()
    if manager.name == "yarn" and manager.major >= 2:
        # a node_modules folder (not Plug'n'Play), and a lockfile that may be updated in plugindev's copy
        environ.update(YARN_NODE_LINKER="node-modules", YARN_ENABLE_IMMUTABLE_INSTALLS="false")
    return environ
