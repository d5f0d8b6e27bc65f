"""`plugindev serve`'s memory under a flood of plugin output, with one event-stream client that reads and one
that has stalled (it never reads: a small receive buffer, so the server's writes to it block at once):

- after 20,000 log lines of 1 KB;
- after 1,500 lines of 1 MiB (kept cut to 16 KiB each).

Target for both: RSS of the `serve` process (psutil) under 120 MB. The plugin is a copy of the go-plugin test
fixture in its `lines` mode (a real Go build and process, no Vite), one `serve` per flood. The reading client
reconnects with Last-Event-ID whenever it is dropped for falling behind, and counts the lines it got.

    python bench/memory.py [--rounds FLOODS]    (the first FLOODS of the floods above, in that order)
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from _bench import arguments, bench_dir  # also puts tests/ on sys.path
from api_support import ApiClient, EventStream
from go_support import copy_fixture
from run_support import run_env, running

RSS_TARGET_MB = 120.0
FLOODS = {"20,000 lines of 1 KB": (20_000, 1000), "1,500 lines of 1 MiB": (1_500, 1 << 20)}
PLUGIN_ID = "testplugin"


@dataclass
class Flood:
    idle_mb: float  # serve with the plugin added, before its output has arrived
    rss_mb: float  # once the reading client has the last line
    settled_mb: float  # a second later
    seconds: float
    received: int  # distinct lines the reading client got
    drops: int  # times the reading client was dropped (and resumed)
    kept: int  # log entries `serve` keeps for the plugin
    kept_chars: int


def _rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def _stalled_client(api: ApiClient) -> socket.socket:
    """`GET /api/events`, and then nothing read, ever."""
    host, port = api.url.removeprefix("http://").split(":")
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.connect((host, int(port)))
    client.sendall(f"GET /api/events HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {api.token}\r\n\r\n"
                   .encode())
    return client


def _read_lines(api: ApiClient, stream: EventStream, count: int, timeout: float) -> tuple[int, int, EventStream]:
    """Read the plugin's lines until its last one (number count - 1): (distinct lines got, drops, open stream)."""
    numbers: set[int] = set()
    drops = 0
    deadline = time.monotonic() + timeout
    while count - 1 not in numbers:
        event = stream.next_event(timeout=deadline - time.monotonic())
        if event.name == "plugindev/dropped":
            drops += 1
            stream.close()
            stream = api.stream(event.id)  # as an EventSource reconnects: after the last event it got
        elif event.name == "plugin/devserver/log":
            for entry in event.data:
                head = entry["message"].split(" ", 1)[0]
                if entry["source"] == "plugin" and head.isdigit():
                    numbers.add(int(head))
    return len(numbers), drops, stream


def _flood(work: Path, name: str, lines: int, size: int) -> Flood:
    plugin = copy_fixture(work / name)
    state_root = work / f"state-{name}"
    env = run_env(state_root, TESTPLUGIN_MODE="lines", TESTPLUGIN_LINES=str(lines), TESTPLUGIN_LINE_BYTES=str(size))
    with running([], env, command="serve") as serve:
        api = ApiClient.wait_for(state_root)
        stalled = _stalled_client(api)
        reading = api.stream()
        try:
            api.call("POST", "/api/plugins", {"path": str(plugin)})
            idle = _rss_mb(serve.process.pid)
            began = time.monotonic()
            received, drops, reading = _read_lines(api, reading, lines, timeout=600)
            seconds = time.monotonic() - began
            rss = _rss_mb(serve.process.pid)
            time.sleep(1.0)
            settled = _rss_mb(serve.process.pid)
            kept = api.get(f"/api/plugins/{PLUGIN_ID}/logs?count=0")
        finally:
            reading.close()
            stalled.close()
    return Flood(idle, rss, settled, seconds, received, drops, len(kept), sum(len(e["message"]) for e in kept))


def main() -> None:
    floods = list(FLOODS.items())[:arguments(len(FLOODS), "floods, the smaller first").rounds]
    with bench_dir("bench-memory-") as work:
        results = {name: _flood(work, f"p{index}", lines, size) for index, (name, (lines, size)) in enumerate(floods)}
    for name, flood in results.items():
        lines = FLOODS[name][0]
        print(f"serve RSS after {name}, one stalled and one reading stream client: {flood.rss_mb:.1f} MB "
              f"({flood.settled_mb:.1f} MB 1 s later; {flood.idle_mb:.1f} MB before the flood; target < "
              f"{RSS_TARGET_MB:.0f} MB, ratio {max(flood.rss_mb, flood.settled_mb) / RSS_TARGET_MB:.2f})")
        print(f"  {flood.seconds:.1f} s; the reading client got {flood.received} of {lines} lines, dropped "
              f"{flood.drops} times; serve keeps {flood.kept} entries, {flood.kept_chars / 2**20:.1f} M characters")
    print(json.dumps({name: vars(flood) for name, flood in results.items()}))


if __name__ == "__main__":
    main()
