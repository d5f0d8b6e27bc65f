"""What a running plugindev owns, recorded in the state root so that nothing outlives a `kill -9` of it:

- `<root>/plugindev/processes/<pid>.json`: the process groups it started; the next start ends the groups of
  owners that are gone and removes their `.devinfo` files;
- `<root>/plugindev/locks/<plugin id>.lock`: held (flock) while a plugin is under development, so a second
  `plugindev run` of the same plugin is refused instead of fighting over its `.devinfo`. The kernel drops
  the lock when its holder dies, however it dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import signal
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from orchestrator.common.errors import PlugindevError
from orchestrator.common.files import write_atomic, write_failure
from orchestrator.common.process import is_alive, signal_group, start_time
from orchestrator.devloop.devinfo import DEVINFO


@dataclass(frozen=True)
class ProcessRecord:
    kind: str  # vite | plugin | go-build | vite-build
    plugin_id: str
    pid: int
    pgid: int
    start_time: int | None
    socket_dir: str | None = None  # go-plugin's private socket folder, left behind when the group is killed

    def alive(self) -> bool:
        return is_alive(self.pid, self.start_time)


def _plugindev_dir(state_root: Path) -> Path:
    return state_root / "plugindev"


def check_state_root(state_root: Path) -> None:
    """plugindev keeps its records, installs and `.devinfo` files there: one line at once if it cannot."""
    try:
        _plugindev_dir(state_root).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=_plugindev_dir(state_root)):
            pass
    except OSError as exc:
        raise PlugindevError(f"the state root {state_root} cannot be used: {write_failure(exc, state_root)} "
                             "(or set OMNIVIEW_STATE_DIR to a writable folder)") from None


class ProcessRegistry:
    """This plugindev's own record of the process groups it started."""

    def __init__(self, state_root: Path) -> None:
        self.path = _plugindev_dir(state_root) / "processes" / f"{os.getpid()}.json"
        self.owner_start = start_time(os.getpid())
        self.records: dict[int, ProcessRecord] = {}

    def add(self, kind: str, plugin_id: str, pid: int, socket_dir: Path | None = None) -> None:
        self.records[pid] = ProcessRecord(kind, plugin_id, pid, pid, start_time(pid),
                                          str(socket_dir) if socket_dir else None)
        self._save()

    def discard(self, pid: int) -> None:
        if self.records.pop(pid, None) is not None:
            self._save()

    def _save(self) -> None:
        document = {"ownerPid": os.getpid(), "ownerStartTime": self.owner_start,
                    "groups": [asdict(r) for r in self.records.values()]}
        write_atomic(self.path, (json.dumps(document, indent=2) + "\n").encode())

    def close(self) -> None:
        with contextlib.suppress(OSError):  # a state root that went away: nothing left to tidy
            self.path.unlink(missing_ok=True)

    def kill_all(self) -> None:
        """The forced way out (a second Ctrl+C): SIGKILL every recorded group at once."""
        for record in self.records.values():
            signal_group(record.pgid, signal.SIGKILL)
        self.records.clear()
        self.close()


class PluginLock:
    """Held while one plugindev develops a plugin; a second one is refused with the holder's pid."""

    def __init__(self, state_root: Path, plugin_id: str) -> None:
        self.path = _plugindev_dir(state_root) / "locks" / f"{plugin_id}.lock"
        self.plugin_id = plugin_id
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            handle.close()
            raise PlugindevError(f"plugin {self.plugin_id!r} is already running under plugindev (pid {holder}); "
                                 "stop that one first, or develop this plugin there") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing drops the lock; the file stays (removing it would race a new holder)
            self._handle = None


async def reap_leftovers(state_root: Path, grace: float = 2.0) -> list[str]:
    """End what plugindev processes that no longer run left behind; returns what was done, for the log."""
    done: list[str] = []
    folder = _plugindev_dir(state_root) / "processes"
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            document = json.loads(path.read_text())
            owner, owner_start = int(document["ownerPid"]), document.get("ownerStartTime")
            records = [ProcessRecord(**r) for r in document["groups"]]
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)
            continue
        if owner != os.getpid() and is_alive(owner, owner_start):
            continue  # another plugindev that is still running
        alive = [r for r in records if r.alive()]
        for record in alive:
            signal_group(record.pgid, signal.SIGTERM)
        for _ in range(int(grace / 0.05)):
            if not any(r.alive() for r in alive):
                break
            await asyncio.sleep(0.05)
        for record in alive:
            signal_group(record.pgid, signal.SIGKILL)
            done.append(f"ended leftover {record.kind} process group {record.pgid} of {record.plugin_id} "
                        f"(plugindev {owner} is gone)")
        for record in records:
            if record.socket_dir:
                shutil.rmtree(record.socket_dir, ignore_errors=True)
        path.unlink(missing_ok=True)
    plugins = state_root / "plugins"
    for devinfo in plugins.glob(f"*/{DEVINFO}") if plugins.is_dir() else []:
        dead = True
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            data = json.loads(devinfo.read_text())
            dead = not is_alive(int(data["pid"]), data.get("processStartTime"))
        if dead:
            devinfo.unlink(missing_ok=True)
            done.append(f"removed stale {devinfo}")
    return done
