"""`plugindev gen-shims`: the shim modules, their lock, and the generated Vite plugin package.

Exports come from the lock when the requested version is unchanged (no Node start), else from
discovery. Everything is rendered in memory first, so a failure leaves the files on disk as they were.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import jinja2

from orchestrator import __version__
from orchestrator.authoring.render import Action, FileSpec, Outcome, apply, plan, render, template_env
from orchestrator.common.errors import PlugindevError
from orchestrator.common.paths import resource_dir
from orchestrator.shimgen.discovery import (
    Exports,
    Method,
    NodeResult,
    bundled_exports,
    discover_at_versions,
    discover_in_node,
    settle,
)
from orchestrator.shimgen.shared_list import SharedList, package_name, shim_filenames

SHIMS_DIR = "shims"
LOCK_FILE = f"{SHIMS_DIR}/shims.lock.json"
LOCK_FORMAT = 1
# Methods whose result depends only on the package version, so a lock entry at that version is reusable.
_REUSABLE = {Method.IMPORT, Method.STATIC, Method.DEFAULT_ONLY}


@dataclass
class GenReport:
    out: Path
    outcomes: list[Outcome]
    warnings: list[str] = field(default_factory=list)
    discovered: list[str] = field(default_factory=list)  # specifiers that needed a Node run

    @property
    def changed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.action is not Action.IDENTICAL]


def read_lock(path: Path) -> dict[str, Exports]:
    """Entries of a lock file; a missing or unreadable lock is simply no help."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {
            spec: Exports(entry.get("version"), entry["method"], tuple(entry["names"]))
            for spec, entry in data["shims"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def bundled_lock_path() -> Path:
    return resource_dir("shims") / "shims.lock.json"


async def resolve_exports(
    shared: SharedList, previous: Mapping[str, Exports], *, refresh: bool, rediscover: bool
) -> tuple[dict[str, Exports], list[str], list[str]]:
    """Exports per specifier, plus warnings and the specifiers that were discovered afresh."""
    requests = _version_requests(shared, previous, refresh=refresh)
    fresh = refresh or rediscover
    need = [
        spec for spec, request in requests.items()
        if request is not None and (fresh or not _reusable(previous.get(spec), request))
    ]
    results: dict[str, NodeResult] = {}
    if need and shared.host_node_modules is not None:
        results = await discover_in_node(shared.host_node_modules.parent, need)
    elif need:
        packages = {package_name(spec): requests[spec] for spec in need}
        results = await discover_at_versions({k: v for k, v in packages.items() if v is not None}, need)
    warnings: list[str] = []
    exports: dict[str, Exports] = {}
    for spec, request in requests.items():
        if spec in results or request is None:
            exports[spec] = settle(spec, results.get(spec), _exact(request), warnings)
        else:
            exports[spec] = previous[spec]
    return exports, warnings, need


def _version_requests(shared: SharedList, previous: Mapping[str, Exports], *, refresh: bool) -> dict[str, str | None]:
    """Per specifier, the version (or range) its package is wanted at; None when it cannot be installed."""
    requests: dict[str, str | None] = {}
    for spec in shared.specifiers:
        package = package_name(spec)
        if shared.host_node_modules is not None:
            requests[spec] = _installed_version(shared.host_node_modules, package)
        elif refresh and package in shared.host_ranges:
            requests[spec] = shared.host_ranges[package]
        elif package in shared.host_versions:
            requests[spec] = shared.host_versions[package]
        elif spec in bundled_exports() or package.startswith("@omniviewdev/"):
            requests[spec] = None  # the host's workspace packages are not on the npm registry
        else:
            # an extra specifier: keep the version it was locked at, else take the newest
            locked = previous.get(spec)
            requests[spec] = locked.version if locked and locked.version and not refresh else "latest"
    return requests


def _installed_version(node_modules: Path, package: str) -> str | None:
    try:
        version = json.loads((node_modules / package / "package.json").read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return version if isinstance(version, str) else None


def _exact(request: str | None) -> str | None:
    return request if request and request[0].isdigit() and all(c not in request for c in " ^~<>=*|x") else None


def _reusable(entry: Exports | None, request: str) -> bool:
    return entry is not None and entry.method in _REUSABLE and entry.version == _exact(request)


def package_files(shared: SharedList, exports: Mapping[str, Exports]) -> dict[str, FileSpec]:
    """Every file of the generated package, in memory."""
    filenames = shim_filenames(shared.specifiers)
    files: dict[str, FileSpec] = {}
    for spec in shared.specifiers:
        files[f"{SHIMS_DIR}/{filenames[spec]}"] = FileSpec(shim_source(spec, exports[spec]))
    files[LOCK_FILE] = FileSpec(lock_source(shared, exports, filenames))
    package_env = template_env(resource_dir("vite_plugin_template"))
    for template in sorted(package_env.list_templates(extensions=["j2"])):
        files[template.removesuffix(".j2")] = FileSpec(
            render(package_env, template, specifiers=list(shared.specifiers), plugindev_version=__version__)
        )
    return files


@cache
def _shim_templates() -> jinja2.Environment:
    return template_env(resource_dir("shims"))


def shim_source(spec: str, exports: Exports) -> bytes:
    return render(
        _shim_templates(),
        "shim.mjs.j2",
        literal=json.dumps(spec),
        package=package_name(spec),
        version=exports.version,
        method=exports.method,
        names=exports.names,
    )


def lock_source(shared: SharedList, exports: Mapping[str, Exports], filenames: Mapping[str, str]) -> bytes:
    shims = {
        spec: {
            "file": filenames[spec],
            "package": package_name(spec),
            "version": exports[spec].version,
            "method": exports[spec].method,
            "names": list(exports[spec].names),
        }
        for spec in shared.specifiers
    }
    document = {"generatedBy": "plugindev gen-shims", "format": LOCK_FORMAT, "shims": shims}
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


async def generate(
    shared: SharedList, out: Path, *, refresh: bool = False, rediscover: bool = False, check: bool = False
) -> GenReport:
    """Bring `out` up to date (or, with `check`, only report how it differs)."""
    if out.exists() and not out.is_dir():
        raise PlugindevError(f"--out {out} is a file; give a folder for the generated package")
    previous = {**read_lock(bundled_lock_path()), **read_lock(out / LOCK_FILE)}
    exports, warnings, discovered = await resolve_exports(shared, previous, refresh=refresh, rediscover=rediscover)
    files = package_files(shared, exports)
    shims_dir = out / SHIMS_DIR
    stale = sorted(
        f"{SHIMS_DIR}/{p.name}" for p in shims_dir.glob("*.mjs") if f"{SHIMS_DIR}/{p.name}" not in files
    ) if shims_dir.is_dir() else []
    outcomes = plan(out, files, force=True, delete=stale)
    report = GenReport(out, outcomes, warnings, discovered)
    if not check:
        apply(out, files, outcomes)
    return report
