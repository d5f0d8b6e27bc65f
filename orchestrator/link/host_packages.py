"""Local stand-ins for the Omniview host's own packages (`@omniviewdev/runtime`, `@omniviewdev/ui`, ...).

They are workspace packages of the host and not on the npm registry, yet plugins import them (and list
them as `workspace:*` or `^0.2.2`). plugindev renders one small package per host package from
`host_packages_template/`: per shared specifier a module that re-exports its shim (the host's instance
from `window.__OMNIVIEW_SHARED__`) and a declaration file with every export the host has, typed `any`, so
`tsc --noEmit` passes. Vite never reaches the modules for listed specifiers (omniviewExternals resolves
those to the shims first); they serve unlisted subpaths and tools other than Vite.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from orchestrator import __version__
from orchestrator.authoring.render import FileSpec, apply, plan, render, template_env
from orchestrator.common.paths import resource_dir
from orchestrator.shimgen.discovery import Exports
from orchestrator.shimgen.shared_list import SharedList, package_name, shim_filename

HOST_SCOPE = "@omniviewdev/"
# TypeScript refuses these as type alias names; such an export is declared as a value only.
_BUILTIN_TYPES = frozenset({"any", "bigint", "boolean", "never", "number", "object", "string", "symbol",
                            "undefined", "unknown", "void"})


@dataclass(frozen=True)
class HostModule:
    specifier: str
    subpath: str  # the package.json `exports` key: "." or "./buttons"
    file: str  # file name without extension: "index", "buttons", "styles.css"


def host_packages(shared: SharedList) -> dict[str, list[HostModule]]:
    """The host's unpublished packages in the shared list (package name -> its listed modules)."""
    packages: dict[str, list[HostModule]] = {}
    for spec in shared.specifiers:
        package = package_name(spec)
        if not package.startswith(HOST_SCOPE) or package in shared.host_versions:
            continue
        rest = spec[len(package) + 1:]
        module = HostModule(spec, f"./{rest}" if rest else ".", rest.replace("/", "__") if rest else "index")
        packages.setdefault(package, []).append(module)
    return packages


def package_folder(package: str) -> str:
    """`@omniviewdev/runtime` -> `runtime` (one folder per package under the host-packages folder)."""
    return package.removeprefix(HOST_SCOPE)


def generate_host_packages(shared: SharedList, exports: Mapping[str, Exports], out: Path,
                           shims_dir: Path) -> dict[str, Path]:
    """Write (only what changed) one package per host package under `out`; package name -> its folder."""
    env = template_env(resource_dir("host_packages_template"))
    written: dict[str, Path] = {}
    for package, modules in host_packages(shared).items():
        folder = out / package_folder(package)
        files = {"package.json": FileSpec(render(env, "package.json.j2", package=package, modules=modules,
                                                 plugindev_version=__version__))}
        for module in modules:
            shim = os.path.relpath(shims_dir / shim_filename(module.specifier), folder).replace(os.sep, "/")
            names = exports[module.specifier].names if module.specifier in exports else ()
            context = {"specifier": module.specifier, "plugindev_version": __version__}
            files[f"{module.file}.mjs"] = FileSpec(render(env, "module.mjs.j2", shim=shim, **context))
            files[f"{module.file}.d.ts"] = FileSpec(render(env, "module.d.ts.j2", names=names,
                                                           builtin_types=_BUILTIN_TYPES, **context))
        stale = sorted(p.name for p in folder.glob("*") if p.is_file() and p.name not in files) \
            if folder.is_dir() else []
        apply(folder, files, plan(folder, files, force=True, delete=stale))
        written[package] = folder
    return written
