"""Process groups recorded in the state root, so a plugindev that was `kill -9`-ed leaves nothing behind.

Each running plugindev keeps `<root>/plugindev/processes/<pid>.json` listing the groups it started; the
next start ends the groups of owners that are gone and removes their `.devinfo` files.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
from dataclasses import asdict, dataclass
from pathlib import Path

from orchestrator.authoring.render import write_atomic
from orchestrator.devloop.devinfo import DEVINFO, pid_alive, process_start_time


@dataclass(frozen=True)
class ProcessRecord:
    kind: str  # vite | plugin | go-build | vite-build
    plugin_id: str
    pid: int
    pgid: int
    start_time: int | None
    socket_dir: str | None = None  # go-plugin's private socket folder, left behind when the group is killed


def registry_dir(state_root: Path) -> Path:
    return state_root / "plugindev" / "processes"


class ProcessRegistry:
    """This plugindev's own record of the process groups it started."""

    def __init__(self, state_root: Path) -> None:
        self.path = registry_dir(state_root) / f"{os.getpid()}.json"
        self.owner_start = process_start_time(os.getpid())
        self.records: dict[int, ProcessRecord] = {}

    def add(self, kind: str, plugin_id: str, pid: int, socket_dir: Path | None = None) -> None:
        self.records[pid] = ProcessRecord(kind, plugin_id, pid, pid, process_start_time(pid),
                                          str(socket_dir) if socket_dir else None)
        self._save()

    def discard(self, pid: int | None) -> None:
        if pid is not None and self.records.pop(pid, None) is not None:
            self._save()

    def _save(self) -> None:
        document = {"ownerPid": os.getpid(), "ownerStartTime": self.owner_start,
                    "groups": [asdict(r) for r in self.records.values()]}
        write_atomic(self.path, (json.dumps(document, indent=2) + "\n").encode())

    def close(self) -> None:
        self.path.unlink(missing_ok=True)

    def kill_all(self) -> None:
        """The forced way out (a second Ctrl+C): SIGKILL every recorded group at once."""
        for record in self.records.values():
            _signal_group(record, signal.SIGKILL)
        self.records.clear()
        self.close()


def _signal_group(record: ProcessRecord, sig: signal.Signals) -> None:
    if not pid_alive(record.pid, record.start_time) and sig is not signal.SIGKILL:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(record.pgid, sig)


async def reap_leftovers(state_root: Path, grace: float = 2.0) -> list[str]:
    """End what plugindev processes that no longer run left behind; returns what was done, for the log."""
    done: list[str] = []
    folder = registry_dir(state_root)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            document = json.loads(path.read_text())
            owner, owner_start = int(document["ownerPid"]), document.get("ownerStartTime")
            records = [ProcessRecord(**r) for r in document["groups"]]
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)
            continue
        if owner != os.getpid() and pid_alive(owner, owner_start):
            continue  # another plugindev that is still running
        alive = [r for r in records if pid_alive(r.pid, r.start_time)]
        for record in alive:
            _signal_group(record, signal.SIGTERM)
        for _ in range(int(grace / 0.05)):
            if not any(pid_alive(r.pid, r.start_time) for r in alive):
                break
            await asyncio.sleep(0.05)
        for record in alive:
            _signal_group(record, signal.SIGKILL)
            done.append(f"ended leftover {record.kind} process group {record.pgid} of {record.plugin_id} "
                        f"(plugindev {owner} is gone)")
        for record in records:
            if record.socket_dir:
                shutil.rmtree(record.socket_dir, ignore_errors=True)
        path.unlink(missing_ok=True)
    for devinfo in (state_root / "plugins").glob(f"*/{DEVINFO}") if (state_root / "plugins").is_dir() else []:
        try:
            data = json.loads(devinfo.read_text())
            dead = not pid_alive(int(data["pid"]), data.get("processStartTime"))
        except (OSError, ValueError, KeyError, TypeError):
            dead = True
        if dead:
            devinfo.unlink(missing_ok=True)
            done.append(f"removed stale {devinfo}")
    return done
