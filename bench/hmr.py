"""Time UI edit → HMR update delivered and module refetched: plugindev's config vs bare Vite (SPEC §8: ≤ 1.10 x bare).

Two Vite servers run side by side on 127.0.0.1 with the same React page, Vite and @vitejs/plugin-react:
  plugindev  a scaffolded UI-only plugin run by `plugindev run` (its vite.config: react() + omniviewExternals())
  bare       a copy of that ui/ folder (hard-linked node_modules) whose vite.config has only react()
Each gets a websocket client on Vite's HMR socket (subprotocol `vite-hmr`), written here with asyncio streams.
Per round and app: write src/pages/HomePage.tsx, wait for the `update` naming it, GET `<acceptedPath>?t=<ts>`
like the Vite client does, until the body (with the new text) is received. Rounds alternate the order of the
apps; 2 warm-up rounds are not counted. Prints median/p95 per app and the ratios plugindev / bare.

    python bench/hmr.py [--rounds N]
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _bench import arguments, bench_dir, median, pct, scaffold_plugin, set_hint  # also puts tests/ on sys.path
from run_support import run_env, running
from vite_support import ViteProcesses, copy_node_modules

from orchestrator.link.setup import DEPS, mirror_node_modules

ROUNDS = 20
WARMUP = 2
TARGET = 1.10
PAGE = "src/pages/HomePage.tsx"
BARE_CONFIG = "import { defineConfig } from 'vite';\nimport react from '@vitejs/plugin-react';\n\n" \
              "export default defineConfig({ plugins: [react()] });\n"


@dataclass
class App:
    name: str
    ui: Path
    port: int
    messages: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    total: list[float] = field(default_factory=list)
    update: list[float] = field(default_factory=list)


async def _http_get(port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
                 .encode())
    data = await reader.read()  # Connection: close → until the server closes
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


async def _ws_connect(app: App) -> asyncio.Task[None]:
    """Open Vite's HMR websocket; a task puts each JSON message into `app.messages` until cancelled."""
    reader, writer = await asyncio.open_connection("127.0.0.1", app.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{app.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                  "Sec-WebSocket-Protocol: vite-hmr\r\n\r\n").encode())
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"{app.name}: websocket upgrade refused: {head!r}")

    def send(opcode: int, payload: bytes) -> None:  # client frames are masked
        mask = os.urandom(4)
        writer.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask
                     + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    async def pump() -> None:
        buffer = b""
        try:
            while True:
                first, second = await reader.readexactly(2)
                size = second & 0x7F
                if size >= 126:
                    size = struct.unpack(">H" if size == 126 else ">Q",
                                         await reader.readexactly(2 if size == 126 else 8))[0]
                payload = await reader.readexactly(size)  # server frames are never masked
                opcode = first & 0x0F
                if opcode == 9:
                    send(0xA, payload)
                elif opcode == 8:
                    return
                elif opcode in (0, 1):
                    buffer += payload
                    if first & 0x80:
                        app.messages.put_nowait(json.loads(buffer))
                        buffer = b""
        finally:
            writer.close()

    task = asyncio.create_task(pump())
    connected = await asyncio.wait_for(app.messages.get(), 10)
    if connected.get("type") != "connected":
        raise RuntimeError(f"{app.name}: first HMR message was {connected}")
    return task


async def _round(app: App, marker: str, record: bool) -> None:
    while not app.messages.empty():
        app.messages.get_nowait()
    t0 = time.perf_counter()
    set_hint(app.ui / PAGE, marker)
    t_update = None
    while True:
        message = await asyncio.wait_for(app.messages.get(), 15)
        if message.get("type") != "update":
            continue
        hits = [u for u in message["updates"] if u.get("path") == f"/{PAGE}" or u.get("acceptedPath") == f"/{PAGE}"]
        if not hits:
            continue
        t_update = t_update or time.perf_counter()
        status, body = await _http_get(app.port, f"{hits[0]['acceptedPath']}?t={hits[0]['timestamp']}")
        if status == 200 and marker.encode() in body:
            break  # else an update for a half-written file: the next one carries the text
    t1 = time.perf_counter()
    if record:
        app.total.append((t1 - t0) * 1000)
        app.update.append((t_update - t0) * 1000)


async def _measure(apps: list[App], rounds: int) -> None:
    tasks = [await _ws_connect(app) for app in apps]
    try:
        for app in apps:  # put the page in each module graph (an update names only modules Vite has served)
            status, _ = await _http_get(app.port, f"/{PAGE}")
            if status != 200:
                raise RuntimeError(f"{app.name}: GET /{PAGE} → {status}")
        for i in range(WARMUP + rounds):
            for app in apps if i % 2 == 0 else apps[::-1]:
                await _round(app, f"{app.name} round {i}", record=i >= WARMUP)
                await asyncio.sleep(0.2)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    rounds = arguments(ROUNDS, "edits timed per app").rounds
    with bench_dir("bench-hmr-") as work:
        plugin = scaffold_plugin(work, "ui")
        state_root = work / ".omniview"
        with running([str(plugin)], run_env(state_root)) as run, ViteProcesses() as procs:
            up = run.wait_status(lambda s: s["viteStatus"] == "ready" and s["vitePort"], 600, "Vite ready")
            bare_ui = work / "bare" / "ui"
            # ui/node_modules is links into the install plugindev keeps in ui/.plugindev/deps (with its host
            # packages): the sources and .plugindev copied, the install hard-linked, the links made again
            shutil.copytree(plugin / "ui", bare_ui, symlinks=True, ignore=shutil.ignore_patterns("node_modules"))
            (bare_ui / "vite.config.ts").write_text(BARE_CONFIG)
            copy_node_modules(plugin / "ui" / DEPS / "node_modules", bare_ui / DEPS)
            mirror_node_modules(bare_ui)
            bare = procs.start(bare_ui)
            apps = [App("plugindev", plugin / "ui", int(up["vitePort"])), App("bare", bare_ui, bare.port)]
            asyncio.run(_measure(apps, rounds))
    print(f"{rounds} edits per app (after {WARMUP} warm-up rounds), apps alternating; ms from the file write")
    print(f"{'app':10} {'measure':18} {'median':>7} {'p95':>7} {'min':>7} {'max':>7}")
    for app in apps:
        for label, values in (("write→update", app.update), ("write→module body", app.total)):
            print(f"{app.name:10} {label:18} {median(values):7.1f} {pct(values, 95):7.1f} {min(values):7.1f} "
                  f"{max(values):7.1f}")
    ours, bare_app = apps
    for label, a, b in (("update", ours.update, bare_app.update), ("module body", ours.total, bare_app.total)):
        print(f"plugindev/bare {label:12} median {median(a) / median(b):.2f}  p95 {pct(a, 95) / pct(b, 95):.2f}")
    print(f"target: write→module body, plugindev/bare ≤ {TARGET:.2f}")


if __name__ == "__main__":
    main()
