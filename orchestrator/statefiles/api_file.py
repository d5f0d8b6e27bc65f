"""`<state root>/plugindev/api.json`: where a running plugindev's control API is (url, token, pid, startTime),
for tools (`plugindev status`, the IDE, scripts). Mode 0600: the token is in it. One plugindev owns the file
at a time, the one whose process it names while that process runs."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from orchestrator.common.errors import PlugindevError
from orchestrator.common.files import read_bounded, write_atomic
from orchestrator.common.process import is_alive, start_time

API_FILE_LIMIT = 64 << 10  # bytes; plugindev writes about 150


@dataclass(frozen=True)
class ApiEndpoint:
    url: str
    token: str
    pid: int


def api_file(root: Path) -> Path:
    return root / "plugindev" / "api.json"


def running_api(root: Path) -> ApiEndpoint | None:
    """The API that api.json advertises, when the process it names (the same one: its start time too) runs.
    A small regular file only (not a link, a FIFO, a device): it blocks on nothing."""
    try:
        data = json.loads(read_bounded(api_file(root), API_FILE_LIMIT, follow_symlinks=False))
        endpoint = ApiEndpoint(str(data["url"]).rstrip("/"), str(data["token"]), int(data["pid"]))
        started = data.get("startTime")
    except (PlugindevError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return endpoint if is_alive(endpoint.pid, started if isinstance(started, int) else None) else None


def write_api_file(root: Path, url: str, token: str) -> None:
    """Advertise this process's API."""
    document = {"url": url, "token": token, "pid": os.getpid(), "startTime": start_time(os.getpid())}
    write_atomic(api_file(root), (json.dumps(document, indent=2) + "\n").encode(), mode=0o600)
