"""Where plugindev finds its bundled files and keeps its caches."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from orchestrator.common.errors import PlugindevError

_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # orchestrator/
# the temporary folders of the processes plugindev starts (a plugin's socket folder, a go build's GOTMPDIR) are
# named so: the start-up cleanup removes only folders so named
TEMP_DIR_PREFIX = "plugindev-"
# A Unix socket's path holds at most 103 bytes on macOS (107 on Linux). go-plugin names a plugin's socket
# `plugin<up to 10 digits>` inside the folder plugindev makes for it (TEMP_DIR_PREFIX and 8 random characters).
_SOCKET_PATH_MAX = 103
_SOCKET_IN_FOLDER = len("/plugindev-12345678/plugin4294967295")
SOCKET_FALLBACK = Path("/tmp")


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


def socket_parent() -> Path:
    """Where a plugin's socket folder goes: the temp folder, else /tmp when a deep TMPDIR leaves no room for the
    socket's name (the plugin would fail with `bind: invalid argument`)."""
    temp = Path(tempfile.gettempdir())
    room = _SOCKET_PATH_MAX - _SOCKET_IN_FOLDER
    if len(os.fsencode(temp)) <= room:
        return temp
    if SOCKET_FALLBACK.is_dir():
        return SOCKET_FALLBACK
    raise PlugindevError(f"the temp folder {temp} is too long a path for a plugin's socket ({len(os.fsencode(temp))} "
                         f"bytes, at most {room}); set TMPDIR to a shorter folder")
