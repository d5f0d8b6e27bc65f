"""`plugindev build`: the production build of a plugin into `build/release/<os>-<arch>/`, in the layout Omniview
installs (see layout).

- Go: `go build -trimpath -buildvcs=false -ldflags "-s -w -X main.version=<plugin.yaml version>"` with GOOS and
  GOARCH of the platform and cgo off, so a build for another platform needs no C cross compiler and the same
  sources give the same binary (no paths of this machine, no VCS stamp, no build id from the cgo toolchain);
- UI: the dependencies installed and linked as `plugindev link` does, then `vite build`, whose SystemJS entry is
  `ui/dist/assets/entry.js` (the scaffold's vite.config); `ui/dist/assets` becomes `assets/`.

The release folder is written beside the old one and swapped in whole, so a failed build leaves the last good one;
the folder it was staged in is removed whatever ends the build (a failure, Ctrl+C), and one that a killed build
left is removed by the next.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from orchestrator.authoring.manifest import MANIFEST_LIMIT, PluginManifest, load_plugin_manifest, problems_error
from orchestrator.authoring.validate import validate_plugin
from orchestrator.common.errors import PlugindevError
from orchestrator.common.files import read_bounded, write_atomic, write_failure
from orchestrator.common.lines import strip_ansi
from orchestrator.common.node import ensure_node_env, run_captured
from orchestrator.release.layout import (
    ASSETS,
    BINARY,
    MANIFEST,
    copy_release_tree,
    link_inside,
    replace_folder,
    staging_folder,
)
from orchestrator.release.platforms import Platform

RELEASE_DIR = Path("build") / "release"
ENTRY = "entry.js"  # what the host loads from assets/
_QUOTED_LINES = 3  # lines of a failing tool's output quoted in the one-line error


@dataclass(frozen=True)
class Release:
    folder: Path  # plugin.yaml, bin/plugin (with a backend), assets/ (with a UI)
    manifest: PluginManifest
    platform: Platform
    go_seconds: float = 0.0
    ui_seconds: float = 0.0


def release_folder(plugin_dir: Path, platform: Platform) -> Path:
    return plugin_dir.resolve() / RELEASE_DIR / platform.slug


def checked_manifest(plugin_dir: Path) -> PluginManifest:
    """The plugin's manifest, once `plugindev validate` finds nothing wrong: a release is never built around a
    problem the dev loop would have tolerated."""
    problems = validate_plugin(plugin_dir)
    if problems:
        raise problems_error(plugin_dir, problems)
    return load_plugin_manifest(plugin_dir)


def _failure(what: str, output: str, log_hint: str) -> PlugindevError:
    lines = [strip_ansi(line).strip() for line in output.splitlines() if line.strip()]
    quoted = " | ".join(lines[-_QUOTED_LINES:]) or "no output"
    return PlugindevError(f"{what} failed: {quoted}{log_hint}")


async def build_backend(plugin_dir: Path, version: str, platform: Platform, binary: Path, *, go: str | None,
                        verbose: bool) -> float:
    from orchestrator.go.build import BuildResult, build_failure_lines
    from orchestrator.go.toolchain import find_go

    started = time.monotonic()
    env = {**os.environ, "GOOS": platform.os, "GOARCH": platform.arch, "CGO_ENABLED": "0"}
    code, out, err = await run_captured(
        find_go(go), "build", "-trimpath", "-buildvcs=false", "-ldflags", f"-s -w -X main.version={version}",
        "-o", str(binary), "./pkg", cwd=plugin_dir, env=env)
    if code != 0:
        output = out + err
        if verbose:
            sys.stderr.write(output)
        lines = build_failure_lines(BuildResult(False, 0, output, []), plugin_dir)
        raise _failure(f"go build for {platform} in {plugin_dir}", "\n".join(lines[:_QUOTED_LINES]),
                       "" if verbose else " (-v shows all of Go's output)")
    return time.monotonic() - started


async def build_ui(plugin_dir: Path, *, verbose: bool) -> float:
    from orchestrator.link.setup import prepare_ui

    started = time.monotonic()
    env = await ensure_node_env()
    setup = await prepare_ui(plugin_dir, env, verbose=verbose)
    vite = setup.ui_dir / "node_modules" / ".bin" / "vite"
    code, out, err = await run_captured(str(vite), "build", cwd=setup.ui_dir, env=env.environ())
    if code != 0:
        if verbose:
            sys.stderr.write(out + err)
        raise _failure(f"vite build in {setup.ui_dir}", err or out, "" if verbose else " (-v shows all of it)")
    if not (setup.ui_dir / "dist" / ASSETS / ENTRY).is_file():
        raise PlugindevError(f"vite build wrote no {setup.ui_dir / 'dist' / ASSETS / ENTRY}; the host loads that "
                             "file: set build.rollupOptions.output.entryFileNames to 'assets/entry.js' in vite.config")
    return time.monotonic() - started


async def build_release(plugin_dir: Path, platform: Platform, *, go: str | None = None,
                        verbose: bool = False) -> Release:
    """Build the plugin for `platform` and assemble its release folder."""
    manifest = checked_manifest(plugin_dir)
    target = release_folder(plugin_dir, platform)
    try:
        staged = staging_folder(target)
    except OSError as exc:
        raise PlugindevError(write_failure(exc, target)) from None
    try:
        write_atomic(staged / MANIFEST, read_bounded(plugin_dir / MANIFEST, MANIFEST_LIMIT, follow_symlinks=True))
        go_seconds = ui_seconds = 0.0
        if manifest.has_backend:
            (staged / BINARY).parent.mkdir()
            go_seconds = await build_backend(plugin_dir, manifest.version, platform, staged / BINARY, go=go,
                                             verbose=verbose)
            os.chmod(staged / BINARY, 0o755)
        if manifest.has_ui:
            ui_seconds = await build_ui(plugin_dir, verbose=verbose)
            assets = plugin_dir.resolve() / "ui" / "dist" / ASSETS
            if assets.is_symlink():  # the folder itself may lead elsewhere too
                link_inside(assets, plugin_dir.resolve())
            (staged / ASSETS).mkdir(mode=0o755)
            copy_release_tree(assets, staged / ASSETS)
        replace_folder(staged, target)
    except OSError as exc:
        raise PlugindevError(write_failure(exc, target)) from None
    finally:
        shutil.rmtree(staged, ignore_errors=True)  # gone already when it was swapped in
    return Release(target, manifest, platform, go_seconds, ui_seconds)
