"""What a released plugin folder holds (the layout Omniview installs and unpacks), and swapping one in whole.

    plugin.yaml     the manifest, at the root
    bin/plugin      the Go backend (also on Windows: Omniview's installer looks for exactly `bin/plugin`)
    assets/         the production UI build (SystemJS `assets/entry.js` and its chunks)
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from orchestrator.common.errors import PlugindevError

MANIFEST = "plugin.yaml"
BINARY = "bin/plugin"
ASSETS = "assets"


def staging_folder(target: Path) -> Path:
    """An empty folder beside `target` (same file system, so a rename installs it)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.new."))
    staged.chmod(0o755)  # mkdtemp's 0700 would become the installed folder's mode
    return staged


def replace_folder(staged: Path, target: Path) -> None:
    """Put the complete folder `staged` in the place of `target`: two renames, never a mix of old and new files.

    A failure of the second rename puts the old folder back; the old one is deleted only once the new one is in.
    """
    old = target.with_name(f".{target.name}.old.{os.getpid()}")
    shutil.rmtree(old, ignore_errors=True)
    had_old = target.exists()
    if had_old:
        os.replace(target, old)
    try:
        os.replace(staged, target)
    except OSError:
        if had_old:
            os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def release_entries(folder: Path) -> list[str]:
    """Every folder and file of a release folder, relative and sorted (a package lists them in this order)."""
    entries: list[str] = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            raise PlugindevError(f"{path} is not a regular file or folder; a plugin package holds only those")
        entries.append(rel)
    return sorted(entries)
