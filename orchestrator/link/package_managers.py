"""Which package manager installs a plugin's UI, and at which version: the registry of managers (one module
each in link.managers; a new one is a module and a line here), and the choice among them.

The manager comes from the lockfile in `ui/` (each manager names its own: `pnpm-lock.yaml`, `yarn.lock`,
`package-lock.json`), else a `pnpm-workspace.yaml` above `ui/` (the plugin lives in a pnpm workspace), else
the `packageManager` field, else npm. Its version comes from `packageManager` (`"pnpm@9.15.0+sha512..."`) or,
through the manager, from the lockfile's format (`lockfileVersion: '9.0'` -> pnpm 9), never "latest".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orchestrator.link.managers import npm, pnpm, yarn
from orchestrator.link.managers.base import ChosenManager, PackageManager

# name (as `packageManager` spells it) -> manager; a ui/ with the lockfiles of several takes the first one's
MANAGERS: dict[str, PackageManager] = {"pnpm": pnpm, "yarn": yarn, "npm": npm}
DEFAULT_MANAGER = "npm"  # no lockfile, no workspace, no `packageManager`
WORKSPACE_FILE = "pnpm-workspace.yaml"
WORKSPACE_MANAGER = "pnpm"  # the one of a workspace (WORKSPACE_FILE above ui/)
_LOCKFILE_HEAD = 4096  # bytes of a lockfile that hold its format


def find_workspace_root(ui_dir: Path) -> Path | None:
    for folder in ui_dir.resolve().parents:
        if (folder / WORKSPACE_FILE).is_file():
            return folder
    return None


def declared_manager(manifest: dict[str, Any]) -> tuple[str, str] | None:
    """`packageManager: "pnpm@9.15.0+sha512.abc"` -> ("pnpm", "9.15.0")."""
    value = manifest.get("packageManager")
    if not isinstance(value, str) or "@" not in value:
        return None
    name, _, version = value.partition("@")
    return name, version.split("+")[0]


def choose(ui_dir: Path, manifest: dict[str, Any]) -> ChosenManager:
    workspace = find_workspace_root(ui_dir)
    declared = declared_manager(manifest)
    if declared is None and workspace is not None:
        declared = declared_manager(_read_json(workspace / "package.json"))
    lockfile = next(((ui_dir / file, name) for name, manager in MANAGERS.items() for file in manager.LOCKFILES
                     if (ui_dir / file).is_file()), None)
    path: Path | None
    if lockfile is not None:
        path, name = lockfile
        reason = f"ui/{path.name}"
    elif workspace is not None:
        name, reason = WORKSPACE_MANAGER, f"{workspace / WORKSPACE_FILE}"
        root_lock = workspace / MANAGERS[name].LOCKFILES[0]
        path = root_lock if root_lock.is_file() else None
    elif declared is not None and declared[0] in MANAGERS:
        name, reason, path = declared[0], "packageManager in ui/package.json", None
    else:
        name, reason, path = DEFAULT_MANAGER, "no lockfile", None
    pinned = declared[1] if declared is not None and declared[0] == name and declared[1][:1].isdigit() else None
    version = MANAGERS[name].version(pinned, _head(path))
    if pinned is not None and version == pinned:
        reason = f"packageManager {name}@{pinned}"
    return ChosenManager(name, MANAGERS[name], version, reason, path, workspace)


def _head(lockfile: Path | None) -> str:
    if lockfile is None:
        return ""
    with lockfile.open("rb") as file:
        return file.read(_LOCKFILE_HEAD).decode("utf-8", errors="replace")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
