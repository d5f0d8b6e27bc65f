"""Driving a real `plugindev run` as an author sees it: its terminal lines (no --json), each with the moment it
arrived, and waiting for the next one that matches."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from run_support import recorded_groups

_CLOCK = re.compile(r"^\d\d:\d\d:\d\d ")  # the printer's `HH:MM:SS ` before each line


class TerminalRun:
    """`plugindev run ARGS` in its own process group; its stdout lines are collected by a reader thread."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "orchestrator", "run", *args], env=env,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, start_new_session=True)
        self.lines: list[tuple[float, str]] = []  # (time.monotonic() on arrival, the line without its clock)
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append((time.monotonic(), _CLOCK.sub("", line.rstrip("\n"), count=1)))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def texts(self) -> list[str]:
        with self._changed:
            return [text for _at, text in self.lines]

    def count(self, predicate: Callable[[str], bool]) -> int:
        return sum(1 for text in self.texts() if predicate(text))

    def wait_line(self, predicate: Callable[[str], bool], timeout: float, what: str, after: int = 0
                  ) -> tuple[int, float]:
        """The index and arrival time of the first line from index `after` on that satisfies `predicate`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for index in range(after, len(self.lines)):
                    if predicate(self.lines[index][1]):
                        return index, self.lines[index][0]
                remaining = deadline - time.monotonic()
                if self.process.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(f"plugindev exited ({self.process.returncode}) before {what}: "
                                         f"{self.texts()[-15:]}")
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout} s waiting for {what}; last lines: "
                                         f"{[text for _at, text in self.lines[-15:]]}")
                self._changed.wait(min(remaining, 0.2))


@contextmanager
def terminal_run(args: list[str], env: dict[str, str]) -> Iterator[TerminalRun]:
    """Start `plugindev run`; whatever happens, it and every process group it recorded are gone after."""
    run = TerminalRun(args, env)
    state_root = Path(env["OMNIVIEW_STATE_DIR"])
    groups: set[int] = set()
    try:
        yield run
    finally:
        groups.update(int(group["pgid"]) for group in recorded_groups(state_root))
        if run.process.poll() is None:
            run.process.send_signal(signal.SIGINT)
            with suppress(subprocess.TimeoutExpired):
                run.process.wait(20)
        for pgid in {run.process.pid, *groups}:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        run.process.wait(10)
        run._reader.join(5)
