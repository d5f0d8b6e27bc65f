"""The control API in process (no plugins): what needs no real plugin to show."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest


def test_an_idle_stream_gets_heartbeats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from orchestrator.api import handlers
    from orchestrator.api.history import EventHistory
    from orchestrator.devloop.context import RunOptions
    from orchestrator.devloop.manager import DevManager
    from orchestrator.web import server

    monkeypatch.setattr(handlers, "HEARTBEAT", 0.05)

    async def scenario() -> list[bytes]:
        manager = DevManager(tmp_path, RunOptions(), fail_fast=False)
        api = handlers.Api(manager, EventHistory(manager.bus))
        async with TestClient(TestServer(server.api_app(api), host="127.0.0.1")) as client:
            api.port = client.port or 0
            response = await client.get("/api/events", headers={"Authorization": f"Bearer {api.token}"})
            assert response.status == 200
            lines = [await asyncio.wait_for(response.content.readline(), 5) for _ in range(3)]
            response.close()  # a client that leaves: the stream ends at its next write
            return lines

    # the stream opens with its retry delay at once (Firefox fires `open` on the first bytes), then heartbeats
    assert asyncio.run(scenario()) == [b"retry: 1000\n", b"\n", b": heartbeat\n"]


def test_the_identity_is_kept_0600_and_a_bad_file_gives_a_new_token(tmp_path: Path) -> None:
    from orchestrator.statefiles.api_identity import ApiIdentity, load_identity, save_identity

    file = tmp_path / "plugindev" / "api-identity.json"
    fresh = load_identity(file)
    assert len(fresh.token) >= 32 and fresh.port == 0
    save_identity(file, ApiIdentity(fresh.token, 15555, 15556))
    assert load_identity(file) == ApiIdentity(fresh.token, 15555, 15556)  # the preview's port is kept too
    assert file.stat().st_mode & 0o777 == 0o600
    for bad in ("{", '{"token": "short", "port": 15555}', f'{{"token": "{fresh.token}", "port": 70000}}', "[]",
                "x" * 5000):
        file.write_text(bad)
        again = load_identity(file)
        assert again.port == 0 and again.token != fresh.token, bad


@pytest.mark.parametrize("listener", ["api", "preview"])
def test_the_kept_port_is_tried_first_and_a_taken_one_gives_a_free_port(tmp_path: Path, listener: str) -> None:
    import socket

    from orchestrator.api import handlers
    from orchestrator.api.history import EventHistory
    from orchestrator.devloop.context import RunOptions
    from orchestrator.devloop.manager import DevManager
    from orchestrator.web import server

    async def served_on(kept_port: int) -> int:
        manager = DevManager(tmp_path, RunOptions(), fail_fast=False)
        api_server = server.ApiServer(handlers.Api(manager, EventHistory(manager.bus)), tmp_path)
        await api_server.start(**{"kept_port" if listener == "api" else "kept_preview_port": kept_port})
        try:
            return api_server.api.port if listener == "api" else api_server.api.preview_port
        finally:
            await api_server.close()

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    assert asyncio.run(served_on(free)) == free
    with socket.socket() as taker:
        taker.bind(("127.0.0.1", free))
        taker.listen()
        moved = asyncio.run(served_on(free))
    assert moved not in (0, free)


def test_api_json_is_taken_over_once_the_plugindev_owning_it_has_gone(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import subprocess
    import sys

    from orchestrator.api import handlers
    from orchestrator.api.history import EventHistory
    from orchestrator.common.process import start_time
    from orchestrator.devloop.context import RunOptions
    from orchestrator.devloop.manager import DevManager
    from orchestrator.web import server

    monkeypatch.setattr(server, "ADVERTISE_RETRY", 0.05)
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    api_json = tmp_path / "plugindev" / "api.json"
    api_json.parent.mkdir(parents=True)
    api_json.write_text(json.dumps({"url": "http://127.0.0.1:1", "token": "t", "pid": owner.pid,
                                    "startTime": start_time(owner.pid)}))

    async def scenario() -> tuple[bool, str, str]:
        manager = DevManager(tmp_path, RunOptions(), fail_fast=False)
        api_server = server.ApiServer(handlers.Api(manager, EventHistory(manager.bus)), tmp_path)
        await api_server.start()
        try:
            at_first = api_server.advertised
            await asyncio.sleep(0.3)
            still_theirs = json.loads(api_json.read_text())["url"]
            owner.kill()
            owner.wait(10)
            for _ in range(100):
                if api_server.advertised:
                    break
                await asyncio.sleep(0.05)
            return at_first, still_theirs, json.loads(api_json.read_text())["url"] if api_server.advertised else ""
        finally:
            await api_server.close()

    try:
        at_first, while_owned, taken = asyncio.run(scenario())
    finally:
        owner.kill()
        owner.wait(10)
    assert (at_first, while_owned) == (False, "http://127.0.0.1:1")  # a live owner's file stays
    assert taken.startswith("http://127.0.0.1:") and taken != "http://127.0.0.1:1"
    assert not api_json.exists()  # and it went with the server that took it over
