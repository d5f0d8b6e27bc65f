"""The external monitor under test: .devinfo files written as the SDK writes them, and an ExternalMonitor
running on the test's loop with every event it published."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestrator.external.monitor import ExternalMonitor
from orchestrator.model.events import Event, EventBus, LogAppended, StatusChanged


def go_time(moment: datetime, nanoseconds: int) -> str:
    """A UTC time as Go's encoding/json writes a time.Time: RFC 3339 with up to nine fraction digits."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanoseconds:09d}".rstrip("0") + "Z"


def sdk_devinfo(pid: int, addr: str, plugin_id: str, vite_port: int = 0) -> dict[str, Any]:
    """What the SDK's WriteDevInfo (v0.5.0) writes: no network, no process start time."""
    data: dict[str, Any] = {"pid": pid, "protocol": "grpc", "protocolVersion": 1, "addr": addr}
    if vite_port:
        data["vitePort"] = vite_port
    return data | {"pluginId": plugin_id, "version": "0.1.0", "startedAt": go_time(datetime.now(UTC), 123456789)}


def write(state_root: Path, plugin_id: str, content: dict[str, Any] | str) -> Path:
    """Write a .devinfo the way the SDK does (json.MarshalIndent to .tmp, then a rename)."""
    path = state_root / "plugins" / plugin_id / ".devinfo"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".devinfo.tmp")
    tmp.write_text(content if isinstance(content, str) else json.dumps(content, indent=2))
    os.replace(tmp, path)
    return path


class Watching:
    """An ExternalMonitor running on the test's loop, and every event it published with the time it came."""

    def __init__(self, state_root: Path, **options: Any) -> None:
        bus = EventBus()
        self.queue = bus.subscribe()
        self.monitor = ExternalMonitor(state_root, bus, **options)
        self.events: list[tuple[float, Event]] = []
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Watching:
        self.task = asyncio.create_task(self.monitor.run(self.stop))
        return self

    async def __aexit__(self, *_: object) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, 10)

    def statuses(self, plugin_id: str) -> list[dict[str, Any]]:
        return [e.payload.state.to_json() for _, e in self.events
                if isinstance(e.payload, StatusChanged) and e.plugin_id == plugin_id]

    def messages(self, plugin_id: str) -> list[str]:
        return [e.payload.entry.message for _, e in self.events
                if isinstance(e.payload, LogAppended) and e.plugin_id == plugin_id]

    async def status(self, plugin_id: str, predicate: Callable[[dict[str, Any]], bool], timeout: float,
                     what: str) -> float:
        """Wait for a status of `plugin_id` (published from now on) that satisfies `predicate`: when it came."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            try:
                event = await asyncio.wait_for(self.queue.get(), max(remaining, 0))
            except TimeoutError:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}; logs: "
                                     f"{self.messages(plugin_id)}; statuses: {self.statuses(plugin_id)}") from None
            self.events.append((loop.time(), event))
            if isinstance(event.payload, StatusChanged) and event.plugin_id == plugin_id \
                    and predicate(event.payload.state.to_json()):
                return loop.time()


def connected(status: dict[str, Any]) -> bool:
    return bool(status["grpcConnected"]) and status["goStatus"] == "ready" and status["mode"] == "external"


def stopped(status: dict[str, Any]) -> bool:
    return status["goStatus"] == "stopped" and not status["grpcConnected"]
