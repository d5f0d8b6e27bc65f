"""Installing a dev build into the Omniview state root: binary, plugin.yaml, UI assets, each atomically."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from orchestrator.paths import state_root
from orchestrator.render import write_atomic


def plugin_state_dir(plugin_id: str, root: Path | None = None) -> Path:
    return (root or state_root()) / "plugins" / plugin_id


def install_binary(built: Path, state_dir: Path) -> Path:
    """Staged beside the target, then renamed: a starting process never sees half a binary."""
    target = state_dir / "bin" / "plugin"
    write_atomic(target, built.read_bytes(), mode=0o755)
    return target


def sync_manifest(plugin_dir: Path, state_dir: Path) -> bool:
    """plugin.yaml must be in place before the plugin starts (the SDK panics without it)."""
    content = (plugin_dir / "plugin.yaml").read_bytes()
    target = state_dir / "plugin.yaml"
    if target.is_file() and target.read_bytes() == content:
        return False
    write_atomic(target, content)
    return True


def sdk_home(state: Path) -> Path | None:
    """The HOME to give the plugin so the SDK's `$HOME/.omniview` is the state root, when that is possible.

    The SDK ignores OMNIVIEW_STATE_DIR and reads plugin.yaml under `$HOME/.omniview`.
    """
    return state.parent if state.name == ".omniview" else None


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
