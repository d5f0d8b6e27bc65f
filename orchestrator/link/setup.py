"""Getting a plugin's `ui/` ready for Vite, without editing any of its files.

Real plugin UIs cannot be installed as they are: they list the host's unpublished packages
(`@omniviewdev/runtime`, `@omniviewdev/ui`, `@omniviewdev/vite-plugin`) as `workspace:*` (npm refuses the
protocol; pnpm finds no such workspace package) or as registry versions that 404, and monorepo plugins import
shared packages they never declare. Installing in `ui/` would also rewrite `package.json` and the lockfile.

So plugindev installs from a derived project in a folder it owns, `ui/.plugindev/deps/` (see ui_manifest):
the plugin's manifest without the host packages, with undeclared shared imports added at the host's
versions, and a copy of its lockfile. The chosen package manager, pinned (see package_managers), installs
there; `ui/node_modules` mirrors `ui/.plugindev/deps/node_modules` entry by entry (symlinks), so Node,
Vite and tsc resolve from `ui/` as usual. The host packages are then linked into that node_modules: the generated
vite-plugin (`ui/.plugindev/vite-plugin`) and local stand-ins rendered from templates
(`ui/.plugindev/host-packages/`, see host_packages). Linking after the install, rather than listing them as
`file:` dependencies, keeps every manager's view of the project free of packages it cannot fetch and works
the same for npm, pnpm and yarn.

Why not a resolve step in Vite only: `tsc`, `vite build` and the dependency optimizer all need the packages on
disk, and undeclared subpaths (`@mui/material/List`) need the real package installed anyway.

The install reruns when its inputs change (derived manifest, lockfile, .npmrc, manager version); the
full output of the last install is kept in `ui/.plugindev/install.log`. Installed packages whose peer range
leaves out the host's version of a shared package are returned (see peers), for a warning each.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchestrator.common.durations import seconds_text
from orchestrator.common.errors import PlugindevError
from orchestrator.common.files import write_atomic
from orchestrator.common.install_errors import install_failure
from orchestrator.common.node import NodeEnv, ensure_node_env, run_captured
from orchestrator.common.progress import PROGRESS_INTERVAL, every
from orchestrator.link.derived import declared, derive_manifest, derived_lockfile, read_manifest, undeclared_shared
from orchestrator.link.host_packages import generate_host_packages
from orchestrator.link.managers.base import ChosenManager
from orchestrator.link.package_managers import MANAGERS, choose
from orchestrator.link.peers import PeerConflict, peer_conflicts
from orchestrator.shimgen.generate import LOCK_FILE, SHIMS_DIR, generate, read_lock
from orchestrator.shimgen.shared_list import load_shared_list

VITE_PLUGIN_PACKAGE = "@omniviewdev/vite-plugin"
OWNED = Path(".plugindev")  # relative to ui/: everything plugindev writes there
GENERATED_PACKAGE = OWNED / "vite-plugin"
HOST_PACKAGES = OWNED / "host-packages"
DEPS = OWNED / "deps"
INSTALL_LOG = OWNED / "install.log"
INSTALL_STAMP = ".plugindev-installed"  # in the deps' node_modules: the inputs of the install that made it
# kept as they are in ui/node_modules: Vite's and other tools' caches, and the install stamp
_UNMIRRORED = frozenset({".vite", ".vite-temp", ".cache", INSTALL_STAMP})


@dataclass(frozen=True)
class UiSetup:
    ui_dir: Path
    package_manager: str  # e.g. "pnpm@9.15.9"
    installed: bool  # dependencies were (re)installed this time
    package_dir: Path
    added: tuple[str, ...] = ()  # undeclared shared packages installed at the host's version
    peer_conflicts: tuple[PeerConflict, ...] = ()  # installed peer ranges that leave out a host's version


def link_package(node_modules: Path, name: str, package_dir: Path) -> None:
    """Point `node_modules/<name>` at `package_dir` with a relative symlink (replacing whatever is there)."""
    link = node_modules / name
    link.parent.mkdir(parents=True, exist_ok=True)
    target = os.path.relpath(package_dir, link.parent)
    if link.is_symlink() and os.readlink(link) == target:
        return
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)  # an installed copy; node_modules is reproducible
    temporary = link.with_name(link.name + ".plugindev-tmp")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(target, target_is_directory=True)
    os.replace(temporary, link)


def mirror_node_modules(ui_dir: Path) -> None:
    """Make every entry of `.plugindev/deps/node_modules` appear in `ui/node_modules` as a symlink.

    A real folder of symlinks, not one symlink for the whole folder: a `.gitignore` line `node_modules/` only
    matches a directory, and Vite keeps its own cache (`node_modules/.vite`) there. Entries that are not
    plugindev's (a previous install in ui/ itself) are removed: node_modules is reproducible.
    """
    source = ui_dir / DEPS / "node_modules"
    target = ui_dir / "node_modules"
    if target.is_symlink() or target.is_file():
        target.unlink()
    target.mkdir(exist_ok=True)
    wanted = {p.name for p in source.iterdir() if p.name not in _UNMIRRORED}
    for entry in target.iterdir():
        if entry.name in wanted or entry.name in _UNMIRRORED:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    for name in sorted(wanted):
        link_package(target, name, source / name)


def _stamp(chosen: ChosenManager, manifest: dict[str, object], lockfile: tuple[str, bytes] | None,
           npmrc: bytes) -> str:
    digest = hashlib.sha256()
    for part in (chosen.label.encode(), json.dumps(manifest, sort_keys=True).encode(),
                 lockfile[1] if lockfile else b"", npmrc):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest() + "\n"


def _npmrc(ui_dir: Path, chosen: ChosenManager) -> bytes:
    """The plugin's npm settings (registry, auth, peer handling): the workspace root's, then ui/'s."""
    sources = [chosen.workspace_root / ".npmrc"] if chosen.workspace_root else []
    return b"".join(p.read_bytes() + b"\n" for p in [*sources, ui_dir / ".npmrc"] if p.is_file())


async def _install(ui_dir: Path, env: NodeEnv, chosen: ChosenManager, manifest: dict[str, object],
                   lockfile: tuple[str, bytes] | None, npmrc: bytes, stamp: str, *, verbose: bool,
                   on_spawn: Callable[[int], None], on_progress: Callable[[str], None]) -> None:
    deps = ui_dir / DEPS
    deps.mkdir(parents=True, exist_ok=True)
    (ui_dir / OWNED / ".gitignore").write_text("*\n")  # never shows up as untracked in the plugin's repository
    lockfiles = [name for manager in MANAGERS.values() for name in manager.LOCKFILES]
    for name in ("package.json", *lockfiles, ".npmrc", "node_modules/" + INSTALL_STAMP):
        (deps / name).unlink(missing_ok=True)
    write_atomic(deps / "package.json", (json.dumps(manifest, indent=2) + "\n").encode())
    if lockfile is not None:
        write_atomic(deps / lockfile[0], lockfile[1])
    elif (fresh := chosen.manager.fresh_lockfile(chosen)) is not None:
        write_atomic(deps / chosen.manager.LOCKFILES[0], fresh)
    if npmrc:
        write_atomic(deps / ".npmrc", npmrc)
    argv = await chosen.manager.install_command(chosen, env)
    first = not (deps / "node_modules").is_dir()
    on_progress(f"installing UI dependencies with {chosen.label}" + (
        " (the first install downloads them: a one-time cost, later runs reuse them)" if first else
        " (package.json, its lockfile or .npmrc changed)"))

    def still(elapsed: float) -> None:
        on_progress(f"installing UI dependencies: {seconds_text(elapsed)} so far")

    async with every(PROGRESS_INTERVAL, still):
        code, out, err = await run_captured(*argv, cwd=deps, env=chosen.manager.environment(chosen, env),
                                            on_spawn=on_spawn)
    output = out + err
    write_atomic(ui_dir / INSTALL_LOG, f"$ {' '.join(argv)}\n{output}".encode())
    if code != 0:
        if verbose:
            sys.stderr.write(output)
        raise install_failure(chosen.manager.condense(output, declared(manifest)),
                              f"{chosen.label} install for {ui_dir} ({chosen.reason})", log=ui_dir / INSTALL_LOG)
    (deps / "node_modules").mkdir(exist_ok=True)
    (deps / "node_modules" / INSTALL_STAMP).write_text(stamp)


async def prepare_ui(plugin_dir: Path, env: NodeEnv | None = None, *, install: bool = True,
                     verbose: bool = False, on_spawn: Callable[[int], None] = lambda _pid: None,
                     on_progress: Callable[[str], None] = lambda _line: None) -> UiSetup:
    """Generate the vite-plugin and host packages, install dependencies when stale, and link the packages.

    `on_spawn(pid)` is told of the install's process group as it starts (see process.spawn); `on_progress` is
    told that an install runs, and every so often how long it has been running (a first one takes minutes)."""
    ui_dir = plugin_dir.resolve() / "ui"
    if not (ui_dir / "package.json").is_file():
        raise PlugindevError(f"{ui_dir / 'package.json'} is missing; the UI needs a package.json")
    shared = load_shared_list(None, None)
    package_dir = ui_dir / GENERATED_PACKAGE
    await generate(shared, package_dir)
    host = generate_host_packages(shared, read_lock(package_dir / LOCK_FILE), ui_dir / HOST_PACKAGES,
                                  package_dir / SHIMS_DIR)
    original = read_manifest(ui_dir / "package.json")
    chosen = choose(ui_dir, original)
    added = undeclared_shared(original, ui_dir / "src", shared.host_versions)
    manifest = derive_manifest(original, ui_dir, supplied=[VITE_PLUGIN_PACKAGE, *host], added=added,
                               chosen=chosen, shared=shared.host_versions)
    lockfile = derived_lockfile(chosen, ui_dir)
    npmrc = _npmrc(ui_dir, chosen)
    stamp = _stamp(chosen, manifest, lockfile, npmrc)
    node_modules = ui_dir / DEPS / "node_modules"
    current = node_modules / INSTALL_STAMP
    installed = install and (not current.is_file() or current.read_text() != stamp)
    if installed:
        await _install(ui_dir, env or await ensure_node_env(), chosen, manifest, lockfile, npmrc, stamp,
                       verbose=verbose, on_spawn=on_spawn, on_progress=on_progress)
    node_modules.mkdir(parents=True, exist_ok=True)
    link_package(node_modules, VITE_PLUGIN_PACKAGE, package_dir)
    for name, folder in host.items():
        link_package(node_modules, name, folder)
    mirror_node_modules(ui_dir)
    conflicts = peer_conflicts(node_modules, shared.host_versions)
    return UiSetup(ui_dir, chosen.label, installed, package_dir, tuple(added), tuple(conflicts))
