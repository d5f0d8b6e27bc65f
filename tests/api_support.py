"""A client of a running plugindev's control API, as a tool or the IDE would use it: api.json, the token, JSON
over REST, and the Server-Sent Events stream."""

from __future__ import annotations

import http.client
import json
import queue
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


@dataclass
class ApiClient:
    url: str
    token: str
    pid: int

    @classmethod
    def wait_for(cls, state_root: Path, timeout: float = 30) -> ApiClient:
        """The API of the plugindev that writes `<state root>/plugindev/api.json`, once it is there."""
        path = state_root / "plugindev" / "api.json"
        deadline = time.monotonic() + timeout
        while True:
            try:
                data = json.loads(path.read_text())
                return cls(data["url"], data["token"], data["pid"])
            except (OSError, ValueError, KeyError):
                if time.monotonic() > deadline:
                    raise AssertionError(f"no {path} after {timeout} s") from None
                time.sleep(0.05)

    def call(self, method: str, path: str, body: Any = None, *, token: str | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.url + path, method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token if token is None else token}",
                     "Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def get(self, path: str) -> Any:
        status, data = self.call("GET", path)
        assert status == 200, (path, status, data)
        return data

    def wait_state(self, plugin_id: str, predicate: Any, timeout: float, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status, state = self.call("GET", f"/api/plugins/{plugin_id}")
            if status == 200 and predicate(state):
                return dict(state)
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; last: {status} {state}")
            time.sleep(0.05)

    def stream(self, last_event_id: int | None = None) -> EventStream:
        return EventStream(self, last_event_id)


@dataclass
class SseEvent:
    id: int
    name: str
    data: Any


@dataclass
class EventStream:
    """`GET /api/events` read by a thread; `close()` drops the connection as a client that goes away."""

    client: ApiClient
    last_event_id: int | None = None
    events: queue.Queue[SseEvent | str] = field(default_factory=queue.Queue)

    def __post_init__(self) -> None:
        parts = urlsplit(self.client.url)
        self._connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        headers = {"Authorization": f"Bearer {self.client.token}"}
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = str(self.last_event_id)
        self._connection.request("GET", "/api/events", headers=headers)
        self.response = self._connection.getresponse()
        assert self.response.status == 200 and self.response.getheader("Content-Type") == "text/event-stream"
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\n")
                if line.startswith(":"):
                    self.events.put(line)  # a heartbeat
                elif line:
                    name, _, value = line.partition(": ")
                    fields[name] = value
                elif fields:
                    if "event" in fields:  # not the stream's opening `retry:`
                        self.events.put(SseEvent(int(fields["id"]), fields["event"], json.loads(fields["data"])))
                    fields = {}
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            return  # closed: http.client's chunked reader loses its file on close (AttributeError)

    def next_event(self, predicate: Any = lambda _e: True, timeout: float = 60) -> SseEvent:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("no such event on the stream in time")
            try:
                item = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            if isinstance(item, SseEvent) and predicate(item):
                return item

    def close(self) -> None:
        self._connection.close()
