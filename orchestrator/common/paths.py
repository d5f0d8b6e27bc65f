"""Where plugindev finds its bundled files and keeps its caches."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from orchestrator.common.errors import PlugindevError

_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # orchestrator/


def resource_dir(name: str) -> Path:
    """A bundled folder (`shims`, `vite_plugin_template`, `scaffolds`).

    An installed wheel carries them in `orchestrator/_data/`; a source checkout has them at the root.
    """
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise PlugindevError(f"plugindev is installed without its '{name}' folder; reinstall plugindev")


def cache_dir() -> Path:
    """The user cache directory for Node environments and installed host packages."""
    override = os.environ.get("PLUGINDEV_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "plugindev"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "plugindev" / "Cache"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "plugindev"


def state_root() -> Path:
    """The Omniview state root: `$OMNIVIEW_STATE_DIR` (absolute, `~` expanded) or `~/.omniview`."""
    value = os.environ.get("OMNIVIEW_STATE_DIR")
    if not value:
        return Path.home() / ".omniview"
    root = Path(value).expanduser()
    if not root.is_absolute():
        raise PlugindevError(f"OMNIVIEW_STATE_DIR must be an absolute path, got '{value}'")
    return root
