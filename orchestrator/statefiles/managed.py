"""`<state root>/plugindev/managed.json`: the set of plugins `plugindev serve` develops, saved after each change
(through a KeptFile) and restored by the next `serve` of that state root."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orchestrator.common.files import read_bounded
from orchestrator.statefiles.codec import Rejected, decode_object, encode_json, shown

MANAGED_LIMIT = 1 << 20  # bytes of the saved set: a path per plugin


@dataclass(frozen=True)
class SavedSet:
    plugins: tuple[Path, ...]  # the plugins' folders, in the order they were added


def encode_saved_set(saved: SavedSet) -> bytes:
    return encode_json({"plugins": [str(path) for path in saved.plugins]})


def decode_saved_set(raw: bytes) -> SavedSet:
    """The saved set in `raw`, else Rejected with the reason."""
    plugins = decode_object(raw).get("plugins")
    if not isinstance(plugins, list):
        raise Rejected(f"plugins must be a list of plugin folders, got {shown(plugins)}")
    for index, path in enumerate(plugins):
        if not isinstance(path, str) or not path or "\0" in path:
            raise Rejected(f"plugins[{index}] must be a plugin folder's path, got {shown(path)}")
    return SavedSet(tuple(Path(path) for path in plugins))


def load_saved_set(path: Path) -> SavedSet:
    """The saved set at `path`, else UnreadableFile (it is not a small regular file: never followed through a
    link, never blocking) or Rejected."""
    return decode_saved_set(read_bounded(path, MANAGED_LIMIT, follow_symlinks=False))
