"""Installing a dev build into the Omniview state root: binary, plugin.yaml, UI assets, each atomically."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from orchestrator.authoring.manifest import MANIFEST_LIMIT
from orchestrator.common.files import UnreadableFile, read_bounded, write_atomic


def plugin_state_dir(plugin_id: str, root: Path) -> Path:
    return root / "plugins" / plugin_id


def staged_binary(state_dir: Path) -> Path:
    """Where `go build` writes: beside the installed binary, on the same filesystem, so installing is a rename
    (a ~25 MB SDK binary is never copied, and a starting process never sees half of one)."""
    staging = state_dir / "bin" / ".plugin.build"
    staging.parent.mkdir(parents=True, exist_ok=True)
    return staging


def install_binary(staged: Path, state_dir: Path) -> Path:
    target = state_dir / "bin" / "plugin"
    os.chmod(staged, 0o755)
    os.replace(staged, target)
    return target


def sdk_manifest_dir(plugin_id: str) -> Path:
    """Where the Omniview SDK reads plugin.yaml: `$HOME/.omniview/plugins/<id>/`, whatever the state root.

    Every SDK version up to v0.5.0 ignores OMNIVIEW_STATE_DIR here, and the plugin's HOME is never changed
    (real plugins read ~/.kube, ~/.aws), so a state root elsewhere needs a second copy of plugin.yaml.
    """
    return Path.home() / ".omniview" / "plugins" / plugin_id


def sync_manifest(plugin_dir: Path, target_dirs: list[Path]) -> list[Path]:
    """Install plugin.yaml into each folder before the plugin starts (the SDK panics without it).

    Returns the folders whose copy changed.
    """
    content = read_bounded(plugin_dir / "plugin.yaml", MANIFEST_LIMIT, follow_symlinks=True)
    changed = []
    for folder in dict.fromkeys(d.resolve() for d in target_dirs):
        target = folder / "plugin.yaml"
        with contextlib.suppress(UnreadableFile):  # missing, or not a file plugindev wrote: the rename replaces it
            if read_bounded(target, MANIFEST_LIMIT, follow_symlinks=False) == content:
                continue
        write_atomic(target, content)
        changed.append(folder)
    return changed


def install_assets(dist_assets: Path, state_dir: Path) -> Path:
    """Swap in a whole new `assets/` folder: copy beside it, then two renames."""
    target = state_dir / "assets"
    state_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=state_dir, prefix=".assets.new."))
    shutil.copytree(dist_assets, staging, dirs_exist_ok=True)
    old = state_dir / f".assets.old.{os.getpid()}"
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)
    return target
