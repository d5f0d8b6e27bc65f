"""Driving a real `plugindev run --json` from tests: its NDJSON events, its state files, its processes."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import psutil

from orchestrator.common.process import is_alive

Event = dict[str, Any]


class RunHandle:
    """A running `plugindev run` in its own process group; events are collected by a reader thread."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path | None = None, command: str = "run") -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", command, "--json", *args], env=env, cwd=cwd,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        )
        self.events: list[Event] = []
        self.stderr: list[str] = []
        self._changed = threading.Condition()
        self._threads = [threading.Thread(target=self._read_events, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for thread in self._threads:
            thread.start()

    def _read_events(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with suppress(ValueError):
                event = json.loads(line)
                with self._changed:
                    self.events.append(event)
                    self._changed.notify_all()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line.rstrip("\n"))

    # -- looking at events ---------------------------------------------------------------------------------
    def statuses(self, plugin_id: str | None = None) -> list[dict[str, Any]]:
        return [e["data"] for e in list(self.events) if e["event"] == "plugin/devserver/status"
                and (plugin_id is None or e["pluginID"] == plugin_id)]

    def said(self) -> list[str]:
        """plugindev's own lines (not a plugin's): `plugindev/system` events."""
        return [e["data"]["message"] for e in list(self.events) if e["event"] == "plugindev/system"]

    def logs(self) -> list[dict[str, Any]]:
        return [entry for e in list(self.events) if e["event"] == "plugin/devserver/log" for entry in e["data"]]

    def log_count(self, predicate: Callable[[dict[str, Any]], bool]) -> int:
        return sum(1 for entry in self.logs() if predicate(entry))

    def wait_for(self, predicate: Callable[[RunHandle], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                result = predicate(self)
                if result:
                    return result
                if self.process.poll() is not None and not self._threads[0].is_alive():
                    raise AssertionError(f"plugindev exited ({self.process.returncode}) before {what}; "
                                         f"stderr: {self.stderr[-5:]}; last logs: {self.last_logs()}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout} s waiting for {what}; last logs: "
                                         f"{self.last_logs()}; stderr: {self.stderr[-5:]}")
                self._changed.wait(min(remaining, 0.2))

    def wait_status(self, predicate: Callable[[dict[str, Any]], bool], timeout: float, what: str,
                    after: int = 0) -> dict[str, Any]:
        """The first status (counting from index `after`) that satisfies `predicate`."""
        def found(handle: RunHandle) -> dict[str, Any] | None:
            return next((s for s in handle.statuses()[after:] if predicate(s)), None)

        result: dict[str, Any] = self.wait_for(found, timeout, what)
        return result

    def last_logs(self, count: int = 12) -> list[str]:
        return [f"[{e['source']}] {e['message']}" for e in self.logs()[-count:]]

    # -- ending it -------------------------------------------------------------------------------------------
    def interrupt(self, timeout: float = 20) -> int:
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout)
        for thread in self._threads:
            thread.join(5)
        return code

    def kill_group(self) -> None:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(10)


def ready(status: dict[str, Any]) -> bool:
    return status["goStatus"] == "ready" and bool(status["grpcConnected"])


def devinfo(state_root: Path, plugin_id: str) -> dict[str, Any] | None:
    path = state_root / "plugins" / plugin_id / ".devinfo"
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data


def wait_new_devinfo(run: RunHandle, state_root: Path, plugin_id: str, old_pid: int, timeout: float = 60
                     ) -> dict[str, Any]:
    """The .devinfo of the process that replaced `old_pid`, once it is written."""
    def changed(_: RunHandle) -> dict[str, Any] | None:
        info = devinfo(state_root, plugin_id)
        return info if info and info["pid"] != old_pid else None

    result: dict[str, Any] = run.wait_for(changed, timeout, f"a .devinfo replacing pid {old_pid}")
    return result


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Poll `predicate` until it holds; fail after `timeout` seconds, saying what did not happen."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.02)


def gone(pid: int, timeout: float = 10.0) -> bool:
    """Whether `pid` has exited within `timeout`: a replaced plugin stops just after its successor serves."""
    deadline = time.monotonic() + timeout
    while is_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def processes(*, exe: str | None = None, cwd: str | None = None) -> list[int]:
    """The pids of running processes with that executable or working folder (to prove none was left behind)."""
    found = []
    for process in psutil.process_iter(["exe", "cwd", "status"]):
        if process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if (exe is not None and process.info["exe"] == exe) or (cwd is not None and process.info["cwd"] == cwd):
            found.append(process.pid)
    return found


def environ(pid: int) -> dict[str, str]:
    return psutil.Process(pid).environ()


def recorded_groups(state_root: Path) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for path in (state_root / "plugindev" / "processes").glob("*.json"):
        with suppress(OSError, ValueError):
            groups.extend(json.loads(path.read_text())["groups"])
    return groups


@contextmanager
def running(args: list[str], env: dict[str, str], cwd: Path | None = None, command: str = "run"
            ) -> Iterator[RunHandle]:
    """Start `plugindev run` (or `serve`); whatever happens in the test, its whole process tree is gone after."""
    handle = RunHandle(args, env, cwd, command)
    seen_groups: set[int] = set()
    state_root = Path(env["OMNIVIEW_STATE_DIR"])
    try:
        yield handle
    finally:
        seen_groups.update(int(g["pgid"]) for g in recorded_groups(state_root))
        if handle.process.poll() is None:
            with suppress(subprocess.TimeoutExpired):
                handle.interrupt(timeout=15)
        handle.kill_group()
        for pgid in seen_groups:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)


@functools.cache
def _user_caches() -> dict[str, str]:
    """Go's, npm's and pnpm's caches as they are for the user running the tests, whatever HOME a run gets."""
    names = ("GOCACHE", "GOMODCACHE", "GOPATH")
    found = subprocess.run(["go", "env", *names], capture_output=True, text=True, check=True).stdout.splitlines()
    caches = dict(zip(names, found, strict=True))
    caches["NPM_CONFIG_CACHE"] = os.environ.get("NPM_CONFIG_CACHE", str(Path.home() / ".npm"))
    caches["XDG_CACHE_HOME"] = os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))
    caches["XDG_DATA_HOME"] = os.environ.get("XDG_DATA_HOME", str(Path.home() / ".local" / "share"))
    return caches


def run_env(state_root: Path, **extra: str) -> dict[str, str]:
    """The environment of a run: its state root, and a HOME of its own beside it (the SDK reads plugin.yaml
    under $HOME/.omniview; a test must never touch the user's), with the user's Go and npm caches kept."""
    env = dict(os.environ)
    env |= _user_caches()
    env["OMNIVIEW_STATE_DIR"] = str(state_root)
    env["HOME"] = str(state_root.parent / "home")
    env.pop("NO_COLOR", None)
    env.pop("OMNIVIEW_DEV", None)
    env.update(extra)
    return env
