"""`<state root>/plugindev/api.json`: where a running plugindev's control API is (url, token, pid, startTime),
for tools (`plugindev status`, the IDE, scripts). Mode 0600: the token is in it. One plugindev owns the file
at a time, the one whose process it names while that process runs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from orchestrator.common.files import UnreadableFile, read_bounded, write_atomic
from orchestrator.common.process import is_alive, start_time
from orchestrator.statefiles.codec import Rejected, decode_object, encode_json, integer, positive, text

API_FILE_LIMIT = 64 << 10  # bytes; plugindev writes about 150


@dataclass(frozen=True)
class ApiEndpoint:
    """An api.json."""

    url: str  # without a trailing slash
    token: str
    pid: int
    start_time: int | None  # ms since the epoch; with pid it names the process across PID reuse


def encode_api_file(endpoint: ApiEndpoint) -> bytes:
    return encode_json({"url": endpoint.url, "token": endpoint.token, "pid": endpoint.pid,
                        "startTime": endpoint.start_time})


def decode_api_file(raw: bytes) -> ApiEndpoint:
    """The api.json in `raw`, else Rejected with the reason."""
    data = decode_object(raw)
    url = text(data, "url").rstrip("/")
    if not url:
        raise Rejected("url is empty: it must be the API's http:// address")
    token = text(data, "token")
    if not token:
        raise Rejected("token is empty")
    return ApiEndpoint(url, token, positive(data, "pid"), integer(data, "startTime"))


def api_file(root: Path) -> Path:
    return root / "plugindev" / "api.json"


def running_api(root: Path) -> ApiEndpoint | None:
    """The API that api.json advertises, when the process it names (the same one: its start time too) runs.
    A small regular file only (not a link, a FIFO, a device): it blocks on nothing."""
    try:
        endpoint = decode_api_file(read_bounded(api_file(root), API_FILE_LIMIT, follow_symlinks=False))
    except (UnreadableFile, Rejected):
        return None
    return endpoint if is_alive(endpoint.pid, endpoint.start_time) else None


def write_api_file(root: Path, url: str, token: str) -> None:
    """Advertise this process's API."""
    endpoint = ApiEndpoint(url, token, os.getpid(), start_time(os.getpid()))
    write_atomic(api_file(root), encode_api_file(endpoint), mode=0o600)
