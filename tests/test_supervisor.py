"""The supervisor's states and events (with fake instances), and a requested start that fails after its handshake:
retried with the backoff, in the session with fakes and with a real go-plugin process."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

import pytest
from go_support import build_fixture
from session_support import FakeGo, FakeProcess, harness

from orchestrator.common.errors import PlugindevError
from orchestrator.common.supervision import Backoff
from orchestrator.devloop.plugin_process import PluginProcess
from orchestrator.devloop.supervisor import (
    Exited,
    FailedAfterStart,
    Started,
    StartFailed,
    Stopped,
    Supervisor,
    SupervisorEvent,
    SupervisorState,
)
from orchestrator.go.build import BuildResult

BACKOFF = Backoff(delays=(0.2, 0.4), stable_after=10.0)  # long enough to see BACKING_OFF, short enough to wait
IDLE, STARTING, RUNNING = SupervisorState.IDLE, SupervisorState.STARTING, SupervisorState.RUNNING
BACKING_OFF, STOPPING, STOPPED = SupervisorState.BACKING_OFF, SupervisorState.STOPPING, SupervisorState.STOPPED


def run(scenario: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(scenario, 20))


async def until(predicate: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.002)
    except TimeoutError:
        raise AssertionError(f"not within {timeout} s: {what}") from None


class Instance(FakeProcess):
    """A fake instance whose stop waits until the test lets it finish (`stopping` tells it began)."""

    def __init__(self) -> None:
        super().__init__()
        self.stopping = asyncio.Event()
        self.may_stop = asyncio.Event()
        self.may_stop.set()

    async def stop(self) -> int:
        self.stopping.set()
        await self.may_stop.wait()
        return await super().stop()


class Starts:
    """The supervisor's `start`: waits while `gate` is closed, then fails with the next planned error, if any."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.gate.set()
        self.failures: list[PlugindevError] = []
        self.made: list[Instance] = []
        self.calls = 0

    async def __call__(self) -> Instance:
        self.calls += 1
        await self.gate.wait()
        if self.failures:
            raise self.failures.pop(0)
        self.made.append(Instance())
        return self.made[-1]


def supervised(starts: Starts, events: list[SupervisorEvent[Instance]], *, overlap: bool = False
               ) -> Supervisor[Instance]:
    return Supervisor(starts, events.append, name="the thing", policy=BACKOFF, overlap=overlap)


async def running(supervisor: Supervisor[Instance], stop: asyncio.Event,
                  scenario: Callable[[], Awaitable[None]]) -> None:
    task = asyncio.create_task(supervisor.run(stop))
    try:
        await scenario()
    finally:
        stop.set()
        await task


def test_the_state_follows_a_life_asked_for_started_exited_backed_off_restarted_stopped() -> None:
    async def scenario() -> None:
        starts, events, stop = Starts(), [], asyncio.Event()
        supervisor = supervised(starts, events)

        async def life() -> None:
            await asyncio.sleep(0.05)
            assert supervisor.state is IDLE and starts.calls == 0  # nothing starts before it is asked
            starts.gate.clear()
            supervisor.restart()
            await until(lambda: supervisor.state is STARTING, "starting")
            starts.gate.set()
            await until(lambda: supervisor.state is RUNNING, "running")
            first = starts.made[0]
            assert events == [Started(first)] and supervisor.current is first
            first.exit(3)
            await until(lambda: supervisor.state is BACKING_OFF, "backing off")
            assert events[1:] == [Exited(first, 3, 0.2)] and supervisor.current is None
            await until(lambda: supervisor.state is RUNNING, "running again after the backoff")
            second = starts.made[1]
            assert events[2:] == [Started(second)]
            second.may_stop.clear()
            stop.set()
            await second.stopping.wait()
            assert supervisor.state is STOPPING
            second.may_stop.set()

        await running(supervisor, stop, life)
        assert supervisor.state is STOPPED and events[3:] == [Stopped(starts.made[1], replaced=False)]

    run(scenario())


def test_a_requested_start_that_fails_outright_waits_for_the_next_request() -> None:
    async def scenario() -> None:
        starts, events, stop = Starts(), [], asyncio.Event()
        supervisor = supervised(starts, events)
        error = PlugindevError("no handshake")

        async def life() -> None:
            starts.failures.append(error)
            supervisor.restart()
            await until(lambda: events == [StartFailed(error, serving=False)], "the failure")
            await asyncio.sleep(BACKOFF.delays[0] + 0.1)  # longer than a backoff: no retry came
            assert supervisor.state is IDLE and starts.calls == 1
            supervisor.restart()
            await until(lambda: supervisor.state is RUNNING, "running once asked again")

        await running(supervisor, stop, life)

    run(scenario())


def test_a_requested_start_that_fails_after_it_started_is_retried_with_the_backoff() -> None:
    async def scenario() -> None:
        starts, events, stop = Starts(), [], asyncio.Event()
        supervisor = supervised(starts, events)
        unhealthy = FailedAfterStart("started, but its health check fails")

        async def life() -> None:
            starts.failures += [unhealthy, unhealthy]
            supervisor.restart()
            await until(lambda: supervisor.state is BACKING_OFF, "backing off after the first failure")
            await until(lambda: supervisor.state is RUNNING, "running after the retries", timeout=2)
            assert starts.calls == 3 and events[:2] == [StartFailed(unhealthy, serving=False)] * 2
            assert events[2:] == [Started(starts.made[0])]

        await running(supervisor, stop, life)

    run(scenario())


def test_a_start_after_an_exit_is_retried_whatever_its_failure() -> None:
    async def scenario() -> None:
        starts, events, stop = Starts(), [], asyncio.Event()
        supervisor = supervised(starts, events)
        error = PlugindevError("no handshake")

        async def life() -> None:
            supervisor.restart()
            await until(lambda: supervisor.state is RUNNING, "running")
            starts.failures.append(error)
            starts.made[0].exit(1)
            await until(lambda: StartFailed(error, serving=False) in events, "the failed restart")
            assert supervisor.state is BACKING_OFF
            await until(lambda: len(starts.made) == 2 and supervisor.state is RUNNING, "running after a retry")

        await running(supervisor, stop, life)

    run(scenario())


@pytest.mark.parametrize("overlap", [True, False], ids=["overlap", "no-overlap"])
def test_a_replacement_that_fails_after_it_started_is_retried_with_the_backoff(overlap: bool) -> None:
    async def scenario() -> None:
        starts, events, stop = Starts(), [], asyncio.Event()
        supervisor = supervised(starts, events, overlap=overlap)
        unhealthy = FailedAfterStart("started, but its health check fails")

        async def life() -> None:
            supervisor.restart()
            await until(lambda: supervisor.state is RUNNING, "running")
            old = starts.made[0]
            starts.failures.append(unhealthy)
            supervisor.restart()  # as a save does
            await until(lambda: starts.calls == 2 and supervisor.state is not STARTING, "the failed replacement")
            if overlap:  # the old one serves on meanwhile
                assert supervisor.state is RUNNING and supervisor.current is old and old.running
                assert events[1:] == [StartFailed(unhealthy, serving=True)]
            else:
                assert supervisor.state is BACKING_OFF and supervisor.current is None
                assert events[1:] == [Stopped(old, replaced=False), StartFailed(unhealthy, serving=False)]
            await until(lambda: len(starts.made) == 2, "the retry", timeout=2)
            await until(lambda: Stopped(old, replaced=True) in events or not overlap, "the old one replaced")
            assert supervisor.current is starts.made[1] and supervisor.state is RUNNING and not old.running

        await running(supervisor, stop, life)

    run(scenario())


def test_a_requested_plugin_start_whose_health_check_fails_is_retried_without_a_new_build(tmp_path: Path,
                                                                                        monkeypatch: pytest.MonkeyPatch
                                                                                        ) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # plugin.yaml is installed under $HOME/.omniview too

    async def scenario() -> None:
        async with harness(tmp_path, ui=False, go=FakeGo(healthy=False)) as h:
            unhealthy = "started, but its gRPC health check fails"
            await h.until(lambda: unhealthy in h.state.lastError, "the failed start")
            await h.until(lambda: len(h.go.plugins) >= 2, "a retry")
            h.go.healthy = True
            await h.advertised()
            assert h.go.builds == 1 and all(not p.running for p in h.go.plugins[:-1])
            # the same for a replacement (a save): the old process serves until one passes its health check
            serving = h.go.current
            h.go.healthy = False
            h.backend.build_wanted.set()
            await h.until(lambda: any(m.endswith(f"{unhealthy}; the running plugin keeps serving")
                                      for m in h.messages()), "the failed replacement")
            tried = len(h.go.plugins)
            await h.until(lambda: len(h.go.plugins) > tried, "a retry")
            assert serving.running and h.devinfo()["pid"] == serving.pid
            h.go.healthy = True
            await h.until(lambda: (h.devinfo() or {}).get("pid") == h.go.current.pid != serving.pid, "replaced")
            assert h.go.builds == 2

    run(scenario())


# A plugin binary that, the first time, handshakes and exits at once (nothing answers on the socket it names);
# then it is the real test plugin.
_FLAKY_PLUGIN = """#!/bin/sh
if [ ! -e "$0.started" ]; then
  : > "$0.started"
  echo "1|1|unix|$0.sock|grpc"
  exit 0
fi
TESTPLUGIN_ID_FROM_COOKIE=1 exec {plugin}
"""


class FlakyGo(FakeGo):
    """The fake Go builder, installing `_FLAKY_PLUGIN`; real plugin processes, with real gRPC health checks."""

    def __init__(self, plugin: Path) -> None:
        super().__init__()
        self.plugin = plugin

    async def build(self, binary: Path, on_line: Callable[[str], None],
                    on_spawn: Callable[[int, Path | None], None]) -> BuildResult:
        result = await super().build(binary, on_line, on_spawn)
        binary.write_text(_FLAKY_PLUGIN.format(plugin=self.plugin))
        binary.chmod(0o755)
        return result

    async def launch(self, binary: Path, env: Mapping[str, str], on_output: Callable[[str, str], None],
                     on_spawn: Callable[[int, Path], None]) -> PluginProcess:  # type: ignore[override]
        return await PluginProcess.start(binary, plugin_id="fake", cwd=binary.parent, extra_env=env,
                                         on_output=on_output, on_spawn=on_spawn, handshake_timeout=10)


def test_a_real_plugin_that_exits_right_after_its_handshake_is_started_again_with_the_backoff(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    go = FlakyGo(build_fixture())

    async def scenario() -> None:
        async with harness(tmp_path, ui=False, go=go, health_interval=5.0) as h:
            # the failed health check of a process gone at once may wait for its gRPC deadline (5 s)
            await h.until(lambda: h.devinfo() is not None, ".devinfo", timeout=15)
            failed = [m for m in h.messages() if m.endswith("started, but its gRPC health check fails")]
            assert len(failed) == 1 and go.builds == 1  # one failed start, retried without a build
            assert f"pid {h.devinfo()['pid']} " not in failed[0] and h.state.grpcConnected

    run(scenario())


def test_the_health_check_of_a_plugin_that_exits_right_after_its_handshake_fails_at_once(tmp_path: Path) -> None:
    binary = tmp_path / "plugin"
    binary.write_text(_FLAKY_PLUGIN.format(plugin="/nonexistent"))
    binary.chmod(0o755)

    async def scenario() -> None:
        plugin = await PluginProcess.start(binary, plugin_id="fake", cwd=tmp_path, on_output=lambda *_: None)
        try:
            loop = asyncio.get_running_loop()
            began = loop.time()
            assert not await plugin.check_health(timeout=10)
            assert loop.time() - began < 2  # the exit ends the check, not its 10 s deadline
        finally:
            await plugin.stop()

    run(scenario())
