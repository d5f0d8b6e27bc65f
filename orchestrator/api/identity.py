"""The API's token and port, kept per state root so that an open dashboard comes back by itself when plugindev
restarts: the page's origin (127.0.0.1:<port>) and its cookie (the token) stay valid.

Kept in `<state root>/plugindev/api-identity.json`, mode 0600 like api.json, which says the same while plugindev
runs. The next start reuses the token and tries the port first (a free one when it is taken). Deleting the file
gives the next start a new token; open pages then say to open the URL it prints.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from orchestrator.common.files import write_atomic

FILE_NAME = "api-identity.json"


@dataclass(frozen=True)
class ApiIdentity:
    token: str
    port: int = 0  # 0: none served yet


def identity_file(state_root: Path) -> Path:
    return state_root / "plugindev" / FILE_NAME


def load_identity(file: Path) -> ApiIdentity:
    """The kept identity, or a new token when there is none (or it is not one plugindev wrote)."""
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
        token, port = document["token"], document["port"]
        if isinstance(token, str) and len(token) >= 32 and isinstance(port, int) and 0 < port < 65536:
            return ApiIdentity(token, port)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return ApiIdentity(secrets.token_urlsafe(32))


def save_identity(file: Path, identity: ApiIdentity) -> None:
    document = {"token": identity.token, "port": identity.port}
    write_atomic(file, (json.dumps(document, indent=2) + "\n").encode(), mode=0o600)
