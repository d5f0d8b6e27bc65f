"""The control API in process (no plugins): what needs no real plugin to show."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest


def test_an_idle_stream_gets_heartbeats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from orchestrator.api import server
    from orchestrator.api.history import EventHistory
    from orchestrator.devloop.context import RunOptions
    from orchestrator.devloop.manager import DevManager

    monkeypatch.setattr(server, "HEARTBEAT", 0.05)

    async def scenario() -> bytes:
        manager = DevManager(tmp_path, RunOptions(), fail_fast=False)
        api = server.Api(manager, EventHistory(manager.bus))
        async with TestClient(TestServer(api.app(), host="127.0.0.1")) as client:
            api.port = client.port or 0
            response = await client.get("/api/events", headers={"Authorization": f"Bearer {api.token}"})
            assert response.status == 200
            line = await asyncio.wait_for(response.content.readline(), 5)
            response.close()  # a client that leaves: the stream ends at its next write
            return line

    assert asyncio.run(scenario()) == b": heartbeat\n"
