"""Processes that tests point plugindev at: a live one that is not a plugin, and a pid that is dead."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that is not a plugin (its PID stands for one whose PID was recycled), ended after the test."""
    child = subprocess.Popen(["sleep", "60"])
    yield child
    child.kill()
    child.wait()
