"""What a running plugindev owns, recorded in the state root so that nothing outlives a `kill -9` of it:

- `<root>/plugindev/processes/<pid>.json`: the process groups it started; the next start ends the groups of
  owners that are gone and removes their `.devinfo` files;
- `<root>/plugindev/locks/<plugin id>.lock`: held (flock) while a plugin is under development (or being
  installed), so a second `plugindev run` of the same plugin is refused instead of fighting over its `.devinfo`,
  and an install before it builds. The kernel drops the lock when its holder dies, however it dies.

What these files say is checked before anything is ended or removed: a process group only when its leader is
the very process recorded (pid and start time), a temporary folder only when plugindev made it, and nothing
through a link. A record that cannot be written (a full disk) is said and retried: what runs goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import signal
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from orchestrator.common.errors import PlugindevError
from orchestrator.common.files import UnreadableFile, open_regular, write_failure
from orchestrator.common.paths import SOCKET_FALLBACK, TEMP_DIR_PREFIX
from orchestrator.common.process import is_alive, signal_group, start_time
from orchestrator.statefiles.bookkeeping import KeptFile, SayLevel
from orchestrator.statefiles.codec import Rejected
from orchestrator.statefiles.devinfo import DEVINFO, load_devinfo
from orchestrator.statefiles.process_records import ProcessRecord, ProcessRecords, encode_records, load_records

LOCK_HOLDER_LIMIT = 64  # bytes of a lock file: the holder's pid and command


def own_temp_dir(recorded: str) -> Path | None:
    """The temporary folder a record names, when plugindev made it (`plugindev-*` in the temp dir or /tmp, a real
    folder of this user); None for anything else, which is never removed (a go build's folder in the author's own
    GOTMPDIR among them)."""
    path = Path(recorded)
    in_temp = path.parent in (Path(tempfile.gettempdir()), SOCKET_FALLBACK)  # see common.paths.socket_parent
    if not in_temp or not path.name.startswith(TEMP_DIR_PREFIX):
        return None
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return path if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() else None


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
    """This plugindev's own record of the process groups it started; with `say`, a write that fails is said and
    retried, never raised."""

    def __init__(self, state_root: Path, say: SayLevel | None = None) -> None:
        self.path = _plugindev_dir(state_root) / "processes" / f"{os.getpid()}.json"
        self.owner_start = start_time(os.getpid())
        self.records: dict[int, ProcessRecord] = {}
        self._file = KeptFile(self.path, say)

    def add(self, kind: str, plugin_id: str, pid: int, temp_dir: Path | None = None) -> None:
        self.records[pid] = ProcessRecord(kind, plugin_id, pid, pid, start_time(pid),
                                          str(temp_dir) if temp_dir else None)
        self._save()

    def discard(self, pid: int) -> None:
        if self.records.pop(pid, None) is not None:
            self._save()

    def _save(self) -> None:
        records = ProcessRecords(os.getpid(), self.owner_start, tuple(self.records.values()))
        self._file.keep(encode_records(records))

    def close(self) -> None:
        self._file.close()
        with contextlib.suppress(OSError):  # a state root that went away: nothing left to tidy
            self.path.unlink(missing_ok=True)

    def kill_all(self) -> None:
        """The forced way out (a second Ctrl+C): SIGKILL every recorded group at once."""
        for record in self.records.values():
            signal_group(record.pgid, signal.SIGKILL)
        self.records.clear()
        self.close()


@dataclass(frozen=True)
class LockHolder:
    """Who holds a lock, as its file says: `<pid> <command>`."""

    pid: str  # "?" when the file names none
    command: str  # the plugindev command holding it (`run`, `serve`, `install`); "" when the file does not say

    @classmethod
    def parse(cls, text: str) -> LockHolder:
        words = text.split()
        return cls(words[0] if words else "?", words[1] if len(words) > 1 else "")

    def __str__(self) -> str:
        return f"`plugindev {self.command}` (pid {self.pid})" if self.command else f"plugindev (pid {self.pid})"


class PluginLock:
    """Held while one plugindev develops (or installs) a plugin; another one is refused, naming the holder: its
    pid and command, which the lock file records."""

    def __init__(self, state_root: Path, plugin_id: str, command: str) -> None:
        self.path = _plugindev_dir(state_root) / "locks" / f"{plugin_id}.lock"
        self.plugin_id = plugin_id
        self.command = command  # the command taking it: `run`, `serve` or `install`
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:  # never through a link: the pid written below would overwrite whatever it names
            fd = open_regular(self.path, os.O_RDWR | os.O_CREAT, follow_symlinks=False)
        except UnreadableFile as exc:
            raise PlugindevError(f"the lock file {exc}; remove it (plugindev makes it anew)") from None
        handle = os.fdopen(fd, "r+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = LockHolder.parse(handle.read(LOCK_HOLDER_LIMIT))
            handle.close()
            raise PlugindevError(self.refusal(holder)) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()} {self.command}\n")
        handle.flush()
        self._handle = handle

    def refusal(self, holder: LockHolder) -> str:
        if holder.command == "install":
            return f"plugin {self.plugin_id!r} is being installed by {holder}; start it again once that is done"
        return (f"plugin {self.plugin_id!r} is already running under {holder}; stop that one first, or develop "
                "this plugin there")

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
            found = await asyncio.to_thread(load_records, path)
        except (UnreadableFile, Rejected):
            with contextlib.suppress(OSError):  # a folder there is left alone
                path.unlink(missing_ok=True)
            continue
        owner, records = found.owner_pid, found.groups
        if owner != os.getpid() and is_alive(owner, found.owner_start_time):
            continue  # another plugindev that is still running
        alive = [r for r in records if r.alive()]
        for record in alive:
            signal_group(record.pgid, signal.SIGTERM)
        for _ in range(int(grace / 0.05)):
            if not any(r.alive() for r in alive):
                break
            await asyncio.sleep(0.05)
        for record in alive:
            # the leader is the recorded process, or gone with members left (whose group id no new process can
            # take): not when its pid now names another process
            if record.alive() or not is_alive(record.pid):
                signal_group(record.pgid, signal.SIGKILL)
            done.append(f"ended leftover {record.kind} process group {record.pgid} of {record.plugin_id} "
                        f"(plugindev {owner} is gone)")
        for record in records:
            temp_dir = own_temp_dir(record.temp_dir) if record.temp_dir is not None else None
            if temp_dir is not None:
                shutil.rmtree(temp_dir, ignore_errors=True)
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
    plugins = state_root / "plugins"
    for devinfo in plugins.glob(f"*/{DEVINFO}") if plugins.is_dir() else []:
        if devinfo.parent.is_symlink():
            continue  # a folder elsewhere: never cleaned through a link
        try:
            info = await asyncio.to_thread(load_devinfo, devinfo)
            dead = not is_alive(info.pid, info.processStartTime)
        except UnreadableFile:
            continue  # not a file plugindev wrote: left alone (watch-external says what it is)
        except Rejected:
            dead = True  # names no plugin process
        if dead:
            devinfo.unlink(missing_ok=True)
            done.append(f"removed stale {devinfo}")
    return done
