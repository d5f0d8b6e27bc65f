"""The manifest and lockfile plugindev installs from: the plugin's own, adapted, in a folder it owns.

From `ui/package.json`: the host's packages (`@omniviewdev/*` on the shared list, and the vite-plugin) are
removed, whatever their spec (`workspace:*`, `^0.2.2`, `file:`): plugindev links local stand-ins instead.
Relative `file:`/`link:` paths are made absolute; other `workspace:` dependencies point at their folder in
the pnpm workspace; the plugin's own scripts and `packageManager`/`workspaces` fields are dropped (this is
not the plugin's project, only its dependencies). Shared packages the sources import without declaring
(`@mui/material/List` in a monorepo plugin that relies on hoisting) are added at the host's version.
The shared packages the manifest installs are pinned at the manifest's own specs where the manager would
otherwise fail on a dependency that peers another release of one (npm's ERESOLVE; see the manager's
`pin_shared`). The host's instance is the one used at run time anyway; plugindev warns about such peers
itself (see peers).
The lockfile is copied (a workspace's lockfile: its importer for `ui/` becomes the root importer) so
versions stay those the plugin locked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from orchestrator.common.errors import PlugindevError
from orchestrator.link.managers.base import ChosenManager
from orchestrator.shimgen.shared_list import package_name

DEPENDENCY_SECTIONS = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies")
INSTALLED_SECTIONS = ("optionalDependencies", "devDependencies", "dependencies")  # the last one wins a name
_DROPPED_FIELDS = ("scripts", "packageManager", "workspaces")
SOURCE_SUFFIXES = frozenset({".ts", ".tsx", ".js", ".jsx", ".mts", ".mjs", ".cts", ".cjs"})
# `from 'x'`, `import 'x'`, `import('x')`, `require('x')`, `export * from 'x'`
_IMPORTED = re.compile(r"""(?:\bfrom|\bimport|\brequire)\s*\(?\s*["']([^"'\s]+)["']""")


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlugindevError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise PlugindevError(f"{path}: invalid JSON ({exc}); fix the file") from None
    if not isinstance(data, dict):
        raise PlugindevError(f"{path}: expected a JSON object")
    return data


def declared(manifest: Mapping[str, Any]) -> dict[str, str]:
    """Every dependency of every section, name -> spec."""
    found: dict[str, str] = {}
    for section in DEPENDENCY_SECTIONS:
        deps = manifest.get(section)
        if isinstance(deps, dict):
            found.update({k: v for k, v in deps.items() if isinstance(v, str)})
    return found


def imported_packages(src_dir: Path) -> dict[str, Path]:
    """Bare packages imported by the sources under `src_dir` -> the first file importing each."""
    found: dict[str, Path] = {}
    for path in sorted(src_dir.rglob("*")) if src_dir.is_dir() else []:
        if path.suffix not in SOURCE_SUFFIXES or "node_modules" in path.parts or not path.is_file():
            continue
        for spec in _IMPORTED.findall(path.read_text(encoding="utf-8", errors="replace")):
            if spec[0] in "./#\\" or ":" in spec:
                continue  # relative, absolute, aliases, node:/virtual: ids
            found.setdefault(package_name(spec), path)
    return found


def undeclared_shared(manifest: Mapping[str, Any], src_dir: Path, host_versions: Mapping[str, str]) -> dict[str, str]:
    """Shared npm packages the sources import but the manifest does not list -> the host's version."""
    known = declared(manifest)
    return {name: host_versions[name] for name in sorted(imported_packages(src_dir))
            if name in host_versions and name not in known}


def derive_manifest(manifest: Mapping[str, Any], ui_dir: Path, *, supplied: Iterable[str],
                    added: Mapping[str, str], chosen: ChosenManager, shared: Collection[str]) -> dict[str, Any]:
    """The manifest plugindev installs from; `shared`: the npm-published shared packages."""
    supplied_set = set(supplied)
    derived = {k: v for k, v in manifest.items() if k not in _DROPPED_FIELDS}
    derived["private"] = True
    for section in DEPENDENCY_SECTIONS:
        deps = manifest.get(section)
        if not isinstance(deps, dict):
            continue
        kept = {name: _rewrite_spec(name, spec, ui_dir, chosen) for name, spec in deps.items()
                if name not in supplied_set and isinstance(spec, str)}
        if kept:
            derived[section] = kept
        else:
            derived.pop(section)
    if added:
        derived["dependencies"] = {**derived.get("dependencies", {}), **added}
    installed_shared = {name: spec for section in INSTALLED_SECTIONS for name, spec in derived.get(section, {}).items()
                        if name in shared}
    return chosen.manager.pin_shared(derived, installed_shared)


def _rewrite_spec(name: str, spec: str, ui_dir: Path, chosen: ChosenManager) -> str:
    for protocol in ("file:", "link:", "portal:"):
        if spec.startswith(protocol):
            path = Path(spec[len(protocol):]).expanduser()
            return protocol + str(path if path.is_absolute() else (ui_dir / path).resolve())
    if spec.startswith("workspace:"):
        folder = _workspace_package(name, chosen.workspace_root)
        if folder is None:
            raise PlugindevError(
                f"{ui_dir / 'package.json'}: {name} is \"{spec}\" but no workspace package is named {name}; "
                "give it a version range or add that package to the workspace"
            )
        return chosen.manager.LOCAL_PROTOCOL + str(folder)
    return spec


def _workspace_package(name: str, root: Path | None) -> Path | None:
    """The folder of the workspace package `name` (pnpm-workspace.yaml `packages` globs)."""
    if root is None:
        return None
    try:
        config = yaml.safe_load((root / "pnpm-workspace.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None
    patterns = config.get("packages") if isinstance(config, dict) else None
    for pattern in patterns if isinstance(patterns, list) else []:
        if not isinstance(pattern, str) or pattern.startswith("!"):
            continue
        for manifest in root.glob(pattern.rstrip("/") + "/package.json"):
            try:
                if json.loads(manifest.read_text(encoding="utf-8")).get("name") == name:
                    return manifest.parent
            except (OSError, ValueError, AttributeError):
                continue
    return None


def derived_lockfile(chosen: ChosenManager, ui_dir: Path) -> tuple[str, bytes] | None:
    """(file name, content) of the lockfile to install from, or None to resolve afresh."""
    lockfile = chosen.lockfile
    if lockfile is None:
        return None
    if lockfile.parent == ui_dir:
        return lockfile.name, lockfile.read_bytes()
    # a pnpm workspace's lockfile: keep ui/'s importer, as the only (root) one
    try:
        data = yaml.safe_load(lockfile.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    importer = ui_dir.resolve().relative_to(lockfile.parent.resolve()).as_posix()
    importers = data.get("importers") if isinstance(data, dict) else None
    if not isinstance(importers, dict) or importer not in importers:
        return None
    data["importers"] = {".": importers[importer]}
    return lockfile.name, yaml.safe_dump(data, sort_keys=False).encode("utf-8")
