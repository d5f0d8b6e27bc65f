"""What a released plugin folder holds (the layout Omniview installs and unpacks), swapping one in whole, and
copying one.

    plugin.yaml     the manifest, at the root
    bin/plugin      the Go backend (also on Windows: Omniview's installer looks for exactly `bin/plugin`)
    assets/         the production UI build (SystemJS `assets/entry.js` and its chunks)

A release holds the plugin's own files only: a link is kept as a link when it leads to a file inside the folder
being copied, and refused (one line) when it leads outside (`ui/dist/assets/x -> /secret` must never put the
secret into an install or a package).
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

from orchestrator.common.errors import PlugindevError
from orchestrator.common.process import is_alive

MANIFEST = "plugin.yaml"
BINARY = "bin/plugin"
ASSETS = "assets"


def _leftovers(target: Path) -> list[Path]:
    """Staging and old folders beside `target` whose plugindev is gone (killed mid-build or mid-swap)."""
    found = []
    for kind in ("new", "old"):
        for folder in target.parent.glob(f".{target.name}.{kind}.*"):
            pid = folder.name.removeprefix(f".{target.name}.{kind}.").partition(".")[0]
            if pid.isdecimal() and int(pid) != os.getpid() and not is_alive(int(pid)) and not folder.is_symlink():
                found.append(folder)
    return found


def staging_folder(target: Path) -> Path:
    """An empty folder beside `target` (same file system, so a rename installs it); those that a killed
    plugindev left there are removed first (a failed or cancelled one removes its own)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for leftover in _leftovers(target):
        shutil.rmtree(leftover, ignore_errors=True)
    staged = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.new.{os.getpid()}."))
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


def link_inside(link: Path, root: Path) -> Path:
    """Where the link `link` leads (resolved), when that is an existing file or folder inside `root` (resolved);
    else a one-line PlugindevError."""
    try:
        resolved = link.resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a loop
        raise PlugindevError(f"{link} is a link to {os.readlink(link)}, which does not exist; remove it or put "
                             "the file itself there") from None
    if not resolved.is_relative_to(root):
        raise PlugindevError(f"{link} is a link to {resolved}, outside {root}; a release holds only the plugin's "
                             "own files: put the file itself there, or remove the link")
    return resolved


def _not_file_or_folder(path: Path) -> PlugindevError:
    return PlugindevError(f"{path} is not a regular file, a folder or a link; a release holds only those")


def walk_release(folder: Path) -> list[tuple[str, os.stat_result]]:
    """Every entry under `folder` (links not followed), as a sorted relative name and its lstat."""
    entries = []
    for here, dirs, files in os.walk(folder):  # a link to a folder is listed, not entered
        for name in dirs + files:
            path = Path(here) / name
            info = path.lstat()
            if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode) or stat.S_ISLNK(info.st_mode)):
                raise _not_file_or_folder(path)
            entries.append((path.relative_to(folder).as_posix(), info))
    return sorted(entries, key=lambda entry: entry[0])


def copy_release_tree(source: Path, destination: Path) -> None:
    """Copy the folder `source` into the existing folder `destination`: files streamed with their modes, folders
    made, and links kept as links (relative, so they lead to the copy's own file) when they lead inside
    `source`; anything else is refused before a byte is copied."""
    root = source.resolve()
    entries = walk_release(source)
    links = {rel: link_inside(source / rel, root) for rel, info in entries if stat.S_ISLNK(info.st_mode)}
    for rel, info in entries:
        target = destination / rel
        if rel in links:
            target.symlink_to(os.path.relpath(links[rel].relative_to(root), Path(rel).parent))
        elif stat.S_ISDIR(info.st_mode):
            target.mkdir(mode=0o755)
        else:
            shutil.copy2(source / rel, target, follow_symlinks=False)
