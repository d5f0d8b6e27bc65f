""".devinfo: how the IDE finds a plugin process that plugindev runs.

It is derived from the plugin's state and nothing else: after every state change the session asks for the
file that state implies (`advertised`), and `DevinfoFile.reconcile` writes or removes it. So the file is
present exactly while a healthy plugin process serves (and Vite, when used, is ready), and names that process;
one that another program removed meanwhile is put back (`DevinfoFile.restore`). A write that fails is said and
tried again (orchestrator.statefiles.bookkeeping): the plugin serves on meanwhile.

Every reader decodes with `decode_devinfo`, whoever wrote the file: plugindev, the Omniview SDK's own
`WriteDevInfo` (v0.5.0: no `network`, no process start time), or a tool or a person (air, a shell script).
What it says is checked once, there.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from orchestrator.common.files import read_bounded
from orchestrator.common.process import is_alive, start_time
from orchestrator.model.state import BackendProcess, DevState, Status
from orchestrator.statefiles.bookkeeping import KeptFile, SayLevel
from orchestrator.statefiles.codec import Rejected, decode_object, encode_json, integer, positive, shown, text

DEVINFO = ".devinfo"
DEVINFO_LIMIT = 64 << 10  # bytes; plugindev's and the SDK's files have about 300
# Where a plugin process may serve: this machine only (a unix socket, or TCP on loopback). A file naming another
# host would have plugindev dial it every few seconds.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")

# Writers other than plugindev may take a process's start time from another clock source, or round it to the
# second; a PID reused within the same second by another process is not a case worth a false "recycled".
START_TIME_TOLERANCE_MS = 1000


@dataclass(frozen=True)
class DevInfo:
    """A `.devinfo`; the fields are its JSON keys, in the order plugindev writes them."""

    pid: int
    protocol: str  # grpc
    protocolVersion: int
    addr: str  # a unix socket's absolute path, or HOST:PORT on loopback
    network: str  # unix | tcp: what `addr` is (the SDK's files have none: it is derived from addr)
    pluginId: str  # the name of the file's folder
    version: str
    startedAt: str
    processStartTime: int | None  # ms since the epoch; with pid it survives PID reuse
    plugindevPid: int | None  # the plugindev that wrote it and checks its health (None: another writer)
    vitePort: int | None = None  # None: no Vite (the key is left out)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.vitePort is None:
            del data["vitePort"]
        return data

    @property
    def grpc_target(self) -> str:
        return f"unix:{self.addr}" if self.network == "unix" else self.addr

    @property
    def endpoint(self) -> str:
        return f"{self.network} {self.addr}"

    def same_process(self, other: DevInfo) -> bool:
        """Both files name one process at one address (a rewrite that only changed, say, the Vite port)."""
        return (self.pid, self.processStartTime, self.network, self.addr) == (
            other.pid, other.processStartTime, other.network, other.addr)

    def backend_process(self) -> BackendProcess:
        return BackendProcess(pid=self.pid, start_time=self.processStartTime, network=self.network,
                              address=self.addr, protocol=self.protocol, protocol_version=self.protocolVersion,
                              started_at=self.startedAt, version=self.version)


def encode_devinfo(info: DevInfo) -> bytes:
    return encode_json(info.to_json())


def decode_devinfo(raw: bytes, folder: str) -> DevInfo:
    """The `.devinfo` found in `<state root>/plugins/<folder>/`, else Rejected with the reason. Optional keys
    read as the SDK writes them (no network: an absolute path is a unix socket, as the IDE reads them)."""
    data = decode_object(raw)
    pid = positive(data, "pid")
    addr = text(data, "addr").strip()
    if not addr:
        raise Rejected("addr is empty: it must be a socket path or host:port")
    plugin_id = text(data, "pluginId")
    if plugin_id != folder:
        raise Rejected(f"pluginId {shown(data.get('pluginId'))} is not its folder's name {folder!r}")
    network = "unix" if addr.startswith("/") else text(data, "network", "tcp")
    if network not in ("unix", "tcp"):
        raise Rejected(f"network must be unix or tcp, got {shown(network)}")
    _check_address(addr, network)
    protocol = text(data, "protocol", "grpc")
    if protocol != "grpc":
        raise Rejected(f"protocol {shown(protocol)}: Omniview plugins serve grpc")
    vite_port = integer(data, "vitePort") or None  # 0: no Vite
    if vite_port is not None and not 0 < vite_port <= 65535:
        raise Rejected(f"vitePort must be a TCP port, got {vite_port}")
    writer = None if data.get("plugindevPid") is None else positive(data, "plugindevPid")
    return DevInfo(pid=pid, protocol=protocol, protocolVersion=integer(data, "protocolVersion") or 0, addr=addr,
                   network=network, pluginId=plugin_id, version=text(data, "version"),
                   startedAt=text(data, "startedAt"), processStartTime=integer(data, "processStartTime"),
                   plugindevPid=writer, vitePort=vite_port)


def _loopback_port(addr: str) -> bool:
    """`addr` is a TCP address on this machine: LOOPBACK_HOSTS with a port, e.g. `127.0.0.1:4000`."""
    host, _, port = addr.rpartition(":")
    return host in LOOPBACK_HOSTS and port.isascii() and port.isdigit() and len(port) <= 5 and 0 < int(port) <= 65535


def _check_address(addr: str, network: str) -> None:
    if network == "unix" and (not addr.startswith("/") or "\0" in addr):
        raise Rejected(f"addr {shown(addr)} must be the absolute path of a unix socket")
    if network == "tcp" and not _loopback_port(addr):
        raise Rejected(f"addr {shown(addr)} must be a unix socket path or HOST:PORT with HOST one of "
                       f"{', '.join(LOOPBACK_HOSTS)}: plugins serve on this machine")


def read_devinfo(path: Path) -> bytes:
    """The bytes of a `.devinfo` that anyone may have written: a regular file (not a link, a FIFO, a device) of
    at most DEVINFO_LIMIT bytes, else UnreadableFile saying why. It blocks on nothing: call it off the loop."""
    return read_bounded(path, DEVINFO_LIMIT, follow_symlinks=False)


def load_devinfo(path: Path) -> DevInfo:
    """The `.devinfo` at `path` (in its plugin's folder), else UnreadableFile or Rejected saying why."""
    return decode_devinfo(read_devinfo(path), path.parent.name)


def process_gone(info: DevInfo) -> str:
    """Why the file's process no longer serves ("" while it runs): dead, or its PID now another process's."""
    if not is_alive(info.pid):
        return f"pid {info.pid} is not running"
    if info.processStartTime is not None:
        actual = start_time(info.pid)
        if actual is not None and abs(actual - info.processStartTime) > START_TIME_TOLERANCE_MS:
            return (f"pid {info.pid} was recycled: it started at {actual} ms, the file's process at "
                    f"{info.processStartTime} ms")
    return ""


# -- the writer -----------------------------------------------------------------------------------------------


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
        self._file = KeptFile(self.path, say)  # written atomically (write_atomic): the IDE never reads half a file
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
        self._file.keep(None if desired is None else encode_devinfo(desired))
        return True

    def restore(self) -> bool:
        """Write the file again when it should be there and is not (another program removed it); True when it
        is there again now."""
        if self._written is None or self._file.failing or self.path.exists():
            return False  # a failing write is being retried already
        return self._file.keep(encode_devinfo(self._written))

    def remove(self) -> None:
        self._written = None
        self._file.keep(None)
