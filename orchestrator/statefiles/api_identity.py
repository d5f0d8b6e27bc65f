"""The API's token and ports, kept per state root so that an open dashboard and preview come back by themselves
when plugindev restarts: the pages' origins (127.0.0.1:<port>) and their cookies stay valid.

Kept in `<state root>/plugindev/api-identity.json`, mode 0600 like api.json, which says the same while plugindev
runs. The next start reuses the token and tries the port first (a free one when it is taken). Deleting the file
gives the next start a new token; open pages then say to open the URL it prints.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from orchestrator.common.files import UnreadableFile, read_bounded, write_atomic

FILE_NAME = "api-identity.json"
IDENTITY_LIMIT = 4096  # bytes: a token and two ports


@dataclass(frozen=True)
class ApiIdentity:
    token: str
    port: int = 0  # 0: none served yet
    preview_port: int = 0  # the preview origin's


def identity_file(state_root: Path) -> Path:
    return state_root / "plugindev" / FILE_NAME


def load_identity(file: Path) -> ApiIdentity:
    """The kept identity, or a new token when there is none (or it is not one plugindev wrote)."""
    try:
        document = json.loads(read_bounded(file, IDENTITY_LIMIT, follow_symlinks=False))
        token, port, preview = document["token"], document["port"], document.get("previewPort", 0)
        if isinstance(token, str) and len(token) >= 32 and _is_port(port):
            return ApiIdentity(token, port, preview if _is_port(preview) else 0)
    except (UnreadableFile, ValueError, KeyError, TypeError):
        pass
    return ApiIdentity(secrets.token_urlsafe(32))


def _is_port(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536


def save_identity(file: Path, identity: ApiIdentity) -> None:
    document = {"token": identity.token, "port": identity.port, "previewPort": identity.preview_port}
    write_atomic(file, (json.dumps(document, indent=2) + "\n").encode(), mode=0o600)
