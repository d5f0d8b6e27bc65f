"""Finding the Go toolchain plugindev builds with."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from orchestrator.common.errors import PlugindevError


def find_go(explicit: str | None = None) -> str:
    """`--go`, then `$PLUGINDEV_GO`, then PATH, then `$GOROOT/bin`."""
    for candidate in (explicit, os.environ.get("PLUGINDEV_GO")):
        if candidate:
            found = shutil.which(candidate)
            if found is None:
                raise PlugindevError(f"Go toolchain {candidate!r} not found or not executable")
            return found
    found = shutil.which("go")
    goroot = os.environ.get("GOROOT")
    if found is None and goroot and (Path(goroot) / "bin" / "go").is_file():
        found = str(Path(goroot) / "bin" / "go")
    if found is None:
        raise PlugindevError("no Go toolchain: install Go, or pass --go PATH / set PLUGINDEV_GO")
    return found
