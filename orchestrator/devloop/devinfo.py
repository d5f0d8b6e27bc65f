""".devinfo: how the IDE finds a plugin process that plugindev runs.

It is derived from the plugin's state and nothing else: after every state change the session asks for the
file that state implies (`advertised`), and `DevinfoFile.reconcile` writes or removes it. So the file is
present exactly while a healthy plugin process serves (and Vite, when used, is ready), and names that process;
one that another program removed meanwhile is put back (`DevinfoFile.restore`). A write that fails is said and
tried again (orchestrator.devloop.bookkeeping): the plugin serves on meanwhile.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from orchestrator.devloop.bookkeeping import KeptFile, SayLevel
from orchestrator.devloop.state import DevState, Status

DEVINFO = ".devinfo"


@dataclass(frozen=True)
class DevInfo:
    pid: int
    protocol: str
    protocolVersion: int
    addr: str
    network: str
    pluginId: str
    version: str
    startedAt: str
    processStartTime: int | None  # ms since the epoch; with pid it survives PID reuse
    plugindevPid: int
    vitePort: int | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.vitePort is None:
            del data["vitePort"]
        return data


def advertised(state: DevState, uses_vite: bool) -> DevInfo | None:
    """The .devinfo that `state` implies: one while a healthy process serves and Vite (if used) is ready."""
    process = state.process
    if process is None or not state.grpcConnected or (uses_vite and state.viteStatus is not Status.READY):
        return None
    return DevInfo(pid=process.pid, protocol=process.protocol, protocolVersion=process.protocol_version,
                   addr=process.address, network=process.network, pluginId=state.pluginID, version=process.version,
                   startedAt=process.started_at, processStartTime=process.start_time, plugindevPid=os.getpid(),
                   vitePort=state.vitePort if uses_vite else None)


class DevinfoFile:
    """The one writer of a plugin's `.devinfo`; with `say`, a write that fails is said and retried, never raised."""

    def __init__(self, plugin_state_dir: Path, say: SayLevel | None = None) -> None:
        self.path = plugin_state_dir / DEVINFO
        self._file = KeptFile(self.path, say)  # written atomically: the IDE never reads half a file
        self._written: DevInfo | None = None  # what the file says, or will once a retry works

    @property
    def failing(self) -> bool:
        """The last write (or removal) failed; it is being retried."""
        return self._file.failing

    def reconcile(self, desired: DevInfo | None) -> bool:
        """Make the file say `desired` (None: no file); True when that changed what it should say."""
        if desired == self._written:
            return False
        self._written = desired
        self._file.keep(None if desired is None else _content(desired))
        return True

    def restore(self) -> bool:
        """Write the file again when it should be there and is not (another program removed it); True when it
        is there again now."""
        if self._written is None or self._file.failing or self.path.exists():
            return False  # a failing write is being retried already
        return self._file.keep(_content(self._written))

    def remove(self) -> None:
        self._written = None
        self._file.keep(None)


def _content(info: DevInfo) -> bytes:
    return (json.dumps(info.to_json(), indent=2) + "\n").encode()
