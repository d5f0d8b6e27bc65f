"""`plugindev package`: a release folder as the `.tar.gz` Omniview's installer unpacks.

Layout: `plugin.yaml` at the root, `bin/plugin` (executable), `assets/`. The bytes depend on the files' contents
only: entries sorted, every mtime the same (`$SOURCE_DATE_EPOCH`, else 0), owner 0:0 without names, fixed modes
(0755 folders and the binary, 0644 the rest), and a gzip header without a name or a time. Entry names are
relative, without `..`, and there are no links, so nothing unpacks outside the folder it is unpacked into:
Omniview's installer unpacks only folders and regular files, so a link inside the release is packed as the file
it leads to, and one leading outside is refused. Files are streamed into the package on disk, never held whole.
"""

from __future__ import annotations

import gzip
import os
import stat
import tarfile
from pathlib import Path
from typing import BinaryIO

from orchestrator.authoring.manifest import PluginManifest
from orchestrator.common.errors import PlugindevError, shown
from orchestrator.common.files import atomic_writer, write_failure
from orchestrator.release.layout import BINARY, link_inside, walk_release
from orchestrator.release.platforms import Platform


def default_package_path(plugin_dir: Path, manifest: PluginManifest, platform: Platform) -> Path:
    return plugin_dir / "dist" / f"{manifest.id}-{manifest.version}-{platform.slug}.tar.gz"


def source_date_epoch() -> int:
    """Every entry's mtime: `$SOURCE_DATE_EPOCH` (seconds, an integer ≥ 0), else 0. Checked before a build, so a
    bad value never costs one."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "0")
    if not (value.isascii() and value.isdigit()) or len(value) > 11:  # 11 digits: past year 5000, tar's limit
        raise PlugindevError(f"SOURCE_DATE_EPOCH must be a whole number of seconds since 1970 (e.g. 1700000000), "
                             f"got {shown(value)}; fix or unset it")
    return int(value)


def _header(rel: str, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(rel)
    info.mtime, info.uid, info.gid, info.uname, info.gname = mtime, 0, 0, "", ""
    return info


def write_tar_gz(folder: Path, out: BinaryIO, mtime: int) -> None:
    """The .tar.gz of a release folder into `out`, the same bytes for the same files, one file at a time."""
    root = folder.resolve()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=9, mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel, info in walk_release(folder):
            header = _header(rel, mtime)
            source = link_inside(folder / rel, root) if stat.S_ISLNK(info.st_mode) else folder / rel
            if stat.S_ISDIR(info.st_mode):
                header.type, header.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(header)
                continue
            if source.is_dir():
                raise PlugindevError(f"{folder / rel} is a link to the folder {source}; a package holds files and "
                                     "folders only (Omniview's installer skips links): copy the folder there instead")
            with source.open("rb") as content:
                header.size, header.mode = os.fstat(content.fileno()).st_size, 0o755 if rel == BINARY else 0o644
                tar.addfile(header, content)


def write_package(folder: Path, out: Path, mtime: int) -> Path:
    try:
        with atomic_writer(out) as handle:
            write_tar_gz(folder, handle, mtime)
    except OSError as exc:
        raise PlugindevError(write_failure(exc, out)) from None
    return out
