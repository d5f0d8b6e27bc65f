"""`plugindev package`: a release folder as the `.tar.gz` Omniview's installer unpacks.

Layout: `plugin.yaml` at the root, `bin/plugin` (executable), `assets/`. The bytes depend on the files' contents
only: entries sorted, every mtime the same (`$SOURCE_DATE_EPOCH`, else 0), owner 0:0 without names, fixed modes
(0755 folders and the binary, 0644 the rest), and a gzip header without a name or a time. Entry names are
relative, without `..`, and there are no links, so nothing unpacks outside the folder it is unpacked into.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

from orchestrator.authoring.manifest import PluginManifest
from orchestrator.common.errors import PlugindevError
from orchestrator.common.files import write_atomic, write_failure
from orchestrator.release.layout import BINARY, release_entries
from orchestrator.release.platforms import Platform


def default_package_path(plugin_dir: Path, manifest: PluginManifest, platform: Platform) -> Path:
    return plugin_dir / "dist" / f"{manifest.id}-{manifest.version}-{platform.slug}.tar.gz"


def _mtime() -> int:
    value = os.environ.get("SOURCE_DATE_EPOCH", "0")
    if not value.isdecimal():
        raise PlugindevError(f"SOURCE_DATE_EPOCH must be a number of seconds, got {value!r}")
    return int(value)


def _entry(folder: Path, rel: str, mtime: int) -> tuple[tarfile.TarInfo, bytes | None]:
    path = folder / rel
    info = tarfile.TarInfo(rel)
    info.mtime, info.uid, info.gid, info.uname, info.gname = mtime, 0, 0, "", ""
    if path.is_dir():
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        return info, None
    content = path.read_bytes()
    info.size, info.mode = len(content), 0o755 if rel == BINARY else 0o644
    return info, content


def package_bytes(folder: Path) -> bytes:
    """The .tar.gz of a release folder, the same bytes for the same files."""
    mtime = _mtime()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in release_entries(folder):
            info, content = _entry(folder, rel, mtime)
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    compressed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, compresslevel=9, mtime=0) as gz:
        gz.write(raw.getvalue())
    return compressed.getvalue()


def write_package(folder: Path, out: Path) -> Path:
    try:
        write_atomic(out, package_bytes(folder))
    except OSError as exc:
        raise PlugindevError(write_failure(exc, out)) from None
    return out
