"""`.devinfo` as the real IDE's watcher treats it (SPEC §6b), and the IDE's go-plugin client as plugindev
reports it.

The IDE reads a `.devinfo` 50 ms after it changes and, every 5 s, deletes it when the pid it read last is dead,
whatever pid the file names by then. So a replaced plugin keeps serving a while after its successor's
`.devinfo` is written, and a `.devinfo` that another program removes is written again at once. An IDE client
that disconnects, or that shuts the plugin down, is plugindev's `[system]` line, never an `[error]`.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import subprocess
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from go_support import build_fixture, copy_fixture, set_marker
from run_support import RunHandle, devinfo, gone, ready, run_env, running, wait_new_devinfo
from session_support import harness
from watchfiles import Change, watch

from orchestrator.common.process import is_alive
from orchestrator.devloop.backend import IDE_HANDOVER
from orchestrator.devloop.plugin_output import CLIENT_DISCONNECTED, RepeatFolder, plugin_line
from orchestrator.model.events import Level, Source
from orchestrator.statefiles import bookkeeping
from orchestrator.statefiles.devinfo import DEVINFO

FIXTURES = Path(__file__).resolve().parent / "fixtures"
START = 240.0  # a cold Go cache builds the SDK and its dependencies first
RESTORED = ".devinfo was removed by another program; written again"
SHUT_DOWN = "was shut down by a client"


def run(scenario: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(scenario, 10))


class IdeLikeWatcher:
    """The IDE's external-mode watcher as SPEC §6b reads it from the IDE's code: 50 ms after a create or write of
    `.devinfo` it reads the file and remembers its pid; every `interval` s (5 s in the IDE), when the remembered
    pid is dead, it deletes the `.devinfo`, whatever pid the file names by then, and forgets that pid."""

    READ_DELAY = 0.05

    def __init__(self, path: Path, interval: float) -> None:
        self.path = path
        self.interval = interval
        self.read: list[int] = []  # every pid it read, in order
        self.deleted: list[int] = []  # the dead pids it deleted the file for
        self._remembered: int | None = None
        self._checks = 0
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._timers: list[threading.Timer] = []

    @contextmanager
    def watching(self) -> Iterator[IdeLikeWatcher]:
        threads = [threading.Thread(target=self._watch), threading.Thread(target=self._check)]
        for thread in threads:
            thread.start()
        self._read()  # the file that is there already
        try:
            yield self
        finally:
            self._stop.set()
            for thread in threads:
                thread.join(10)
            for timer in self._timers:
                timer.cancel()

    def _watch(self) -> None:
        def written(change: Change, path: str) -> bool:
            return change is not Change.deleted and Path(path).name == DEVINFO

        for _changes in watch(self.path.parent, watch_filter=written, recursive=False, step=1,
                              rust_timeout=100, stop_event=self._stop):
            timer = threading.Timer(self.READ_DELAY, self._read)
            self._timers.append(timer)
            timer.start()

    def _read(self) -> None:
        try:
            pid = int(json.loads(self.path.read_text())["pid"])
        except (OSError, ValueError, KeyError):
            return  # gone or half-written: the IDE keeps what it had
        with self._lock:
            self._remembered = pid
            self.read.append(pid)
            self._lock.notify_all()

    def _check(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                pid = self._remembered
                if pid is not None and not is_alive(pid):
                    self.path.unlink(missing_ok=True)
                    self.deleted.append(pid)
                    self._remembered = None
                self._checks += 1
                self._lock.notify_all()

    def wait_read(self, pid: int) -> None:
        """Until it has read a .devinfo naming `pid`."""
        with self._lock:
            assert self._lock.wait_for(lambda: pid in self.read, timeout=10), f"the IDE never read pid {pid}"

    def wait_checks(self, count: int) -> None:
        """Until `count` more of its periodic checks have run."""
        with self._lock:
            target = self._checks + count
            assert self._lock.wait_for(lambda: self._checks >= target, timeout=10 + count * self.interval)


def _lines_with(run: RunHandle, text: str) -> list[dict[str, Any]]:
    return [e for e in run.logs() if text in e["message"]]


def _is_system_line(entry: dict[str, Any]) -> bool:
    """What the terminal shows as `[system]`: plugindev's own line, below error level."""
    return entry["source"] == str(Source.MANAGER) and entry["level"] in (str(Level.INFO), str(Level.WARN))


# -- in process: the handover and the rewrite, step by step --------------------------------------------------


@pytest.mark.usefixtures("own_home")
def test_a_replaced_process_serves_through_the_handover_and_a_save_meanwhile_is_not_delayed(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        async with harness(tmp_path, ui=False) as h:
            loop = asyncio.get_running_loop()
            await h.advertised()
            h.backend.build_wanted.set()
            await h.until(lambda: len(h.go.plugins) == 2 and h.devinfo()["pid"] == h.go.plugins[1].pid,
                          "the first replacement advertised")
            advertised_at = loop.time()
            first = h.go.plugins[0]
            assert first.running  # the IDE may not have read the new file yet

            h.backend.build_wanted.set()  # a save during the handover is served at once
            await h.until(lambda: len(h.go.plugins) == 3 and (h.devinfo() or {}).get("pid") == h.go.plugins[2].pid,
                          "the second replacement advertised")
            assert loop.time() - advertised_at < IDE_HANDOVER and first.running

            await asyncio.sleep(advertised_at + 0.8 * IDE_HANDOVER - loop.time())
            assert first.running  # still serving well after the IDE's re-read 50 ms after the new file
            await h.until(lambda: first.stopped, "the first process stopped after its handover")
            await h.until(lambda: h.go.plugins[1].stopped, "the second process stopped after its handover")
            assert h.go.current.running and h.state.process.pid == h.go.current.pid

    run(scenario())


@pytest.mark.usefixtures("own_home")
def test_a_devinfo_that_cannot_be_written_again_is_one_error_line_and_the_plugin_serves_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(path: Path, _content: bytes, _mode: int = 0o644) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    async def scenario() -> None:
        async with harness(tmp_path, ui=False) as h:
            await h.advertised()
            path = h.session.devinfo.path
            monkeypatch.setattr(bookkeeping, "write_atomic", disk_full)
            path.unlink()
            failure = (f"cannot write {path}: No space left on device; free some space on that disk and retry "
                       "(plugindev tries again)")
            await h.until(lambda: failure in h.messages(), "the failure said")
            await asyncio.sleep(0.1)  # room for a (wrong) second line
            assert [m for m in h.messages() if DEVINFO in m and "cannot write" in m] == [failure]
            assert h.state.grpcConnected and h.go.current.running and not path.exists()

    run(scenario())


def test_go_plugin_broker_stream_cancels_are_one_system_line_and_other_lines_stay_the_plugins() -> None:
    sdk_v05 = ('2026-12-06T08:01:10.221Z [ERROR] tcpplugin.runtime: stream closed with error: '
               'timestamp=2026-12-06T08:01:10.221144874Z plugin_id=tcpplugin method=/plugin.GRPCBroker/StartStream '
               'duration=2.91904ms grpc_code=Canceled error="rpc error: code = Canceled desc = context canceled"')
    sdk_v01 = ('2026/12/06 08:02:00 [STREAM] /plugin.GRPCBroker/StartStream closed duration=2.607877ms '
               'error="rpc error: code = Canceled desc = context canceled" code=Canceled')
    hclog_json = ('{"@level":"error","@message":"plugin: stream ended","method":"/plugin.GRPCBroker/StartStream",'
                  '"error":"rpc error: code = Canceled desc = context canceled"}')
    for line in (sdk_v05, sdk_v01, hclog_json):
        shown = plugin_line(line)
        assert (shown.source, shown.level, shown.message) == (Source.MANAGER, Level.INFO, CLIENT_DISCONNECTED)
    opened = plugin_line("2026/12/06 08:02:00 [STREAM] /plugin.GRPCBroker/StartStream opened")
    assert opened.source is Source.PLUGIN
    failed = plugin_line('{"@level":"error","@message":"list failed","error":"context canceled"}')
    assert (failed.source, failed.level) == (Source.PLUGIN, Level.ERROR)

    folder = RepeatFolder()  # the count of a folded line carries that line's tag
    assert not folder.seen(CLIENT_DISCONNECTED, Source.MANAGER) and folder.seen(CLIENT_DISCONNECTED, Source.MANAGER)
    assert folder.take_repeats() == 1 and folder.source is Source.MANAGER


# -- a real plugin under a real run ---------------------------------------------------------------------------


@pytest.fixture
def testplugin(tmp_path: Path) -> Path:
    return copy_fixture(tmp_path / "testplugin")


@pytest.mark.integration
def test_a_devinfo_deleted_while_the_plugin_serves_is_written_again(testplugin: Path, tmp_path: Path) -> None:
    state_root = tmp_path / "state"
    with running([str(testplugin)], run_env(state_root)) as run:
        run.wait_status(ready, START, "the plugin ready")
        before = run.wait_for(lambda _: devinfo(state_root, "testplugin"), 10, ".devinfo")
        (state_root / "plugins/testplugin" / DEVINFO).unlink()
        again = run.wait_for(lambda _: devinfo(state_root, "testplugin"), 5, "the .devinfo written again")
        assert again == before and is_alive(again["pid"])
        lines = run.wait_for(lambda r: _lines_with(r, RESTORED), 5, "the line saying so")
        time.sleep(0.3)  # room for a (wrong) second line
        assert len(_lines_with(run, RESTORED)) == 1 and _is_system_line(lines[0])


SWAPS = 50
# A `go` that "builds" by copying the fixture binary that the real toolchain built once: each save is a real
# swap to a new plugin process (handshake, health, .devinfo, stop), at the cost of the start alone.
COPYING_GO = """#!/bin/sh
while [ "$#" -gt 0 ]; do if [ "$1" = "-o" ]; then out="$2"; fi; shift; done
exec cp "{binary}" "$out"
"""


@pytest.mark.integration
def test_an_ide_like_watcher_never_loses_the_devinfo_over_many_swaps(testplugin: Path, tmp_path: Path) -> None:
    state_root = tmp_path / "state"
    path = state_root / "plugins/testplugin" / DEVINFO
    # the IDE checks every 5 s; every 0.1 s here makes each swap's 50 ms race a coin toss instead of 1 in 100
    ide = IdeLikeWatcher(path, interval=0.1)

    go = tmp_path / "copying-go"
    go.write_text(COPYING_GO.format(binary=build_fixture()))
    go.chmod(0o755)

    def swap_done(swap: int, old: int, pids: list[int]) -> None:
        """Once `old` is gone and the IDE checked twice since: the file is there and names a live successor."""
        assert gone(old, 5), f"swap {swap}: pid {old} still runs"
        ide.wait_checks(2)
        info = devinfo(state_root, "testplugin")
        assert info is not None and info["pid"] not in pids[:-1] and is_alive(info["pid"]), (swap, info)
        assert ide.deleted == [], f"swap {swap}: the IDE deleted the .devinfo once pid {ide.deleted} had died"

    with running([str(testplugin), "--go", str(go)], run_env(state_root)) as run:
        run.wait_status(ready, START, "the plugin ready")
        pids = [run.wait_for(lambda _: devinfo(state_root, "testplugin"), 10, ".devinfo")["pid"]]
        with ide.watching():
            for swap in range(SWAPS):
                # each save comes once the IDE read the last swap's file, while the process it replaced serves on
                set_marker(testplugin, f"swap-{swap}")
                if swap:
                    swap_done(swap - 1, pids[-2], pids)
                pids.append(wait_new_devinfo(run, state_root, "testplugin", pids[-1], 30)["pid"])
                ide.wait_read(pids[-1])
            swap_done(SWAPS - 1, pids[-2], pids)
    assert len(set(pids)) == SWAPS + 1
    assert _lines_with(run, RESTORED) == []


def _attach(client: Path, info_file: Path, *extra: str) -> None:
    result = subprocess.run([str(client), "-devinfo", str(info_file), *extra], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.mark.integration
def test_an_ide_client_that_disconnects_or_shuts_the_plugin_down_is_a_system_line_not_an_error(
        tmp_path: Path, attach_client: Path) -> None:
    plugin = copy_fixture(tmp_path / "tcpplugin", FIXTURES / "tcpplugin")  # the real SDK v0.5.0
    state_root = tmp_path / "state"
    info_file = state_root / "plugins/tcpplugin" / DEVINFO
    with running([str(plugin)], run_env(state_root)) as run:
        run.wait_status(ready, START, "the plugin ready")
        first = run.wait_for(lambda _: devinfo(state_root, "tcpplugin"), 10, ".devinfo")

        _attach(attach_client, info_file)  # attaches, asks, and goes away without closing
        disconnected = run.wait_for(lambda r: _lines_with(r, CLIENT_DISCONNECTED), 10, "the disconnect said")
        time.sleep(0.3)
        assert len(_lines_with(run, CLIENT_DISCONNECTED)) == 1 and _is_system_line(disconnected[0])
        assert is_alive(first["pid"])

        _attach(attach_client, info_file, "-close")  # go-plugin's Close(): Shutdown, the plugin exits 0
        shut = run.wait_for(lambda r: _lines_with(r, SHUT_DOWN), 20, "the shutdown said")
        again = wait_new_devinfo(run, state_root, "tcpplugin", first["pid"], 30)
        assert is_alive(again["pid"]) and not is_alive(first["pid"])
        assert len(shut) == 1 and _is_system_line(shut[0])
        assert shut[0]["message"] == (f"plugin pid {first['pid']} was shut down by a client (go-plugin's "
                                      "Shutdown, as the IDE sends on closing); restarting it in 0.5 s")
        run.wait_status(ready, 20, "ready again", after=len(run.statuses()) - 1)

    errors = [e for e in run.logs() if e["level"] == "error" or "[ERROR]" in e["message"]]
    assert errors == []
    assert [e for e in run.logs() if "StartStream" in e["message"]] == []
    assert all(_is_system_line(e) for e in run.logs() if "disconnected" in e["message"] or "came" in e["message"])
