"""Getting a plugin's `ui/` ready for Vite: dependencies installed, `@omniviewdev/vite-plugin` resolvable.

The reference `@omniviewdev/vite-plugin` is not on the npm registry, so plugindev generates a compatible
package into `ui/.plugindev/vite-plugin` and links it as `ui/node_modules/@omniviewdev/vite-plugin`.
Existing plugins keep their `import { omniviewExternals } from "@omniviewdev/vite-plugin"` unchanged;
scaffolded ones also list it as a `file:` devDependency so a plain `npm install` keeps the link.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import PlugindevError
from orchestrator.node import NodeEnv, ensure_node_env, npm_failure, run_captured
from orchestrator.shared_list import load_shared_list
from orchestrator.shims import generate

VITE_PLUGIN_PACKAGE = "@omniviewdev/vite-plugin"
GENERATED_PACKAGE = Path(".plugindev") / "vite-plugin"  # relative to ui/
INSTALL_STAMP = ".plugindev-installed"
# lockfile -> package manager; npm when there is none
_LOCKFILES = (("pnpm-lock.yaml", "pnpm"), ("yarn.lock", "yarn"), ("package-lock.json", "npm"))


@dataclass(frozen=True)
class UiSetup:
    ui_dir: Path
    package_manager: str
    installed: bool  # dependencies were (re)installed this time
    package_dir: Path


def package_manager(ui_dir: Path) -> tuple[str, Path | None]:
    for lockfile, manager in _LOCKFILES:
        if (ui_dir / lockfile).is_file():
            return manager, ui_dir / lockfile
    return "npm", None


def needs_install(ui_dir: Path, lockfile: Path | None) -> bool:
    """node_modules missing, or older than package.json or the lockfile."""
    stamp = ui_dir / "node_modules" / INSTALL_STAMP
    if not stamp.is_file():
        return True
    inputs = [ui_dir / "package.json", *([lockfile] if lockfile else [])]
    return any(p.stat().st_mtime_ns > stamp.stat().st_mtime_ns for p in inputs if p.exists())


async def install_dependencies(ui_dir: Path, env: NodeEnv, manager: str) -> None:
    if manager == "npm":
        argv = [env.which("npm"), "install", "--no-audit", "--no-fund", "--loglevel=error"]
    else:
        if shutil.which(manager, path=env.environ()["PATH"]) is None:
            code, _, err = await run_captured(env.which("npm"), "install", "-g", manager, env=env.environ())
            if code != 0:
                raise npm_failure(f"installing {manager} (ui/ has its lockfile)", err)
        argv = [env.which(manager), "install"]
    code, out, err = await run_captured(*argv, cwd=ui_dir, env=env.environ())
    if code != 0:
        if manager == "npm":
            raise npm_failure(f"npm install in {ui_dir}", err)
        last = ((err or out).strip().splitlines() or ["no output"])[-1]
        raise PlugindevError(f"{manager} install in {ui_dir} failed: {last}")
    (ui_dir / "node_modules").mkdir(exist_ok=True)
    (ui_dir / "node_modules" / INSTALL_STAMP).write_text(manager + "\n")


def link_package(ui_dir: Path, package_dir: Path) -> None:
    """Point `node_modules/@omniviewdev/vite-plugin` at the generated package (a relative symlink)."""
    link = ui_dir / "node_modules" / VITE_PLUGIN_PACKAGE
    link.parent.mkdir(parents=True, exist_ok=True)
    target = os.path.relpath(package_dir, link.parent)
    if link.is_symlink() and os.readlink(link) == target:
        return
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)  # an installed copy of another version; node_modules is reproducible
    temporary = link.with_name(link.name + ".plugindev-tmp")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(target, target_is_directory=True)
    os.replace(temporary, link)


async def prepare_ui(plugin_dir: Path, env: NodeEnv | None = None, *, install: bool = True) -> UiSetup:
    """Generate the Vite plugin package, install dependencies when stale, and link the package."""
    ui_dir = plugin_dir / "ui"
    if not (ui_dir / "package.json").is_file():
        raise PlugindevError(f"{ui_dir / 'package.json'} is missing; the UI needs a package.json")
    package_dir = ui_dir / GENERATED_PACKAGE
    await generate(load_shared_list(None, None), package_dir)
    manager, lockfile = package_manager(ui_dir)
    installed = install and needs_install(ui_dir, lockfile)
    if installed:
        await install_dependencies(ui_dir, env or await ensure_node_env(), manager)
    link_package(ui_dir, package_dir)
    return UiSetup(ui_dir, manager, installed, package_dir)
