"""The control API and its event stream under `plugindev serve`, and plugindev's own memory.

- request latency: `GET /api/plugins` (median, p95 of REQUESTS calls);
- save → event: a Go save in a managed plugin → the `plugin/devserver/status` event with goStatus building,
  read from `GET /api/events` (SSE), and → the one with the new process ready;
- RSS of the `serve` process (psutil) with 1 and with 10 plugins running (target < 80 MB with 10).

Plugins are copies of the go-plugin test fixture (real Go builds and processes, no Vite).

    python bench/api.py [--rounds SAVES]
"""

from __future__ import annotations

import time
from pathlib import Path

import psutil
from _bench import arguments, bench_dir, median, pct  # also puts tests/ on sys.path
from api_support import ApiClient
from go_support import copy_fixture
from run_support import run_env, running

SAVES = 10
REQUESTS = 200
RSS_TARGET_MB = 80.0


def _ready(state: dict[str, object]) -> bool:
    return state["goStatus"] == "ready" and state["grpcConnected"] is True


def _edit(plugin: Path, marker: str) -> None:
    main_go = plugin / "pkg" / "main.go"
    text = main_go.read_text()
    start = text.index('const BUILD_MARKER = "') + len('const BUILD_MARKER = "')
    main_go.write_text(text[:start] + marker + text[text.index('"', start):])


def _rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def main() -> None:
    saves = arguments(SAVES, "Go saves timed").rounds
    with bench_dir("bench-api-") as work:
        plugins = []
        for i in range(10):
            plugin = copy_fixture(work / f"p{i}")
            (plugin / "plugin.yaml").write_text((plugin / "plugin.yaml").read_text().replace("testplugin", f"p{i}"))
            plugins.append(plugin)
        state_root = work / "state"
        with running([], run_env(state_root, TESTPLUGIN_ID_FROM_COOKIE="1"), command="serve") as serve:
            api = ApiClient.wait_for(state_root)
            api.call("POST", "/api/plugins", {"path": str(plugins[0])})
            api.wait_state("p0", _ready, 300, "p0 ready")
            time.sleep(1.0)
            rss_one = _rss_mb(serve.process.pid)

            requests = []
            for _ in range(REQUESTS):
                began = time.perf_counter()
                api.get("/api/plugins")
                requests.append((time.perf_counter() - began) * 1000)

            stream = api.stream()
            to_building, to_ready = [], []
            for i in range(saves):
                began = time.perf_counter()
                _edit(plugins[0], f"bench-{i}")
                stream.next_event(lambda e: e.name == "plugin/devserver/status" and e.data["goStatus"] == "building")
                to_building.append((time.perf_counter() - began) * 1000)
                stream.next_event(lambda e: e.name == "plugin/devserver/status" and _ready(e.data))
                to_ready.append((time.perf_counter() - began) * 1000)
                time.sleep(0.3)
            stream.close()

            for plugin in plugins[1:]:
                api.call("POST", "/api/plugins", {"path": str(plugin)})
            for i in range(1, 10):
                api.wait_state(f"p{i}", _ready, 300, f"p{i} ready")
            time.sleep(1.0)
            rss_ten = _rss_mb(serve.process.pid)
    print(f"GET /api/plugins, {REQUESTS} calls: median {median(requests):.2f} ms, p95 {pct(requests, 95):.2f} ms")
    print(f"Go save → status event over SSE, {saves} saves: building median {median(to_building):.1f} ms "
          f"(p95 {pct(to_building, 95):.1f}); ready median {median(to_ready):.1f} ms (p95 {pct(to_ready, 95):.1f})")
    print(f"serve RSS: {rss_one:.1f} MB with 1 plugin, {rss_ten:.1f} MB with 10 "
          f"(target < {RSS_TARGET_MB:.0f} MB, ratio {rss_ten / RSS_TARGET_MB:.2f})")


if __name__ == "__main__":
    main()
