""".devinfo: how the IDE finds a plugin process that plugindev runs.

It is derived from the plugin's state and nothing else: after every state change the session asks for the
file that state implies (`advertised`), and `DevinfoFile.reconcile` writes or removes it. So the file is
present exactly while a healthy plugin process serves (and Vite, when used, is ready), and names that process;
one that another program removed meanwhile is put back (`DevinfoFile.restore`). A write that fails is said and
tried again (orchestrator.statefiles.bookkeeping): the plugin serves on meanwhile.

Reading one that someone else wrote: plugindev, the Omniview SDK's own `WriteDevInfo` (v0.5.0: no `network`, no
process start time), or a tool or a person (air, a shell script). What it says is checked once, here.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from orchestrator.common.files import read_bounded
from orchestrator.common.process import is_alive, start_time
from orchestrator.go.handshake import shorten
from orchestrator.model.state import BackendProcess, DevState, Status
from orchestrator.statefiles.bookkeeping import KeptFile, SayLevel

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


DEVINFO_LIMIT = 64 << 10  # bytes; plugindev's and the SDK's files have about 300
# Where a plugin process may serve: this machine only (a unix socket, or TCP on loopback). A file naming another
# host would have plugindev dial it every few seconds.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
_SHOWN = 80  # characters of a value quoted in a reason

# Writers other than plugindev may take a process's start time from another clock source, or round it to the
# second; a PID reused within the same second by another process is not a case worth a false "recycled".
START_TIME_TOLERANCE_MS = 1000


class DevinfoRejected(ValueError):
    """The file cannot describe a plugin process; the message says which field and why (one line)."""


@dataclass(frozen=True)
class ExternalDevinfo:
    """A checked `.devinfo`: the plugin process it advertises, and the file's JSON as read."""

    pid: int
    addr: str
    network: str  # unix | tcp
    protocol: str
    protocol_version: int
    plugin_id: str
    version: str
    started_at: str
    vite_port: int  # 0: none
    process_start_time: int | None  # ms since the epoch, when the writer recorded it
    data: dict[str, Any]

    @property
    def grpc_target(self) -> str:
        return f"unix:{self.addr}" if self.network == "unix" else self.addr

    @property
    def endpoint(self) -> str:
        return f"{self.network} {self.addr}"

    def same_process(self, other: ExternalDevinfo) -> bool:
        """Both files name one process at one address (a rewrite that only changed, say, the Vite port)."""
        return (self.pid, self.process_start_time, self.network, self.addr) == (
            other.pid, other.process_start_time, other.network, other.addr)

    def backend_process(self) -> BackendProcess:
        return BackendProcess(pid=self.pid, start_time=self.process_start_time, network=self.network,
                              address=self.addr, protocol=self.protocol, protocol_version=self.protocol_version,
                              started_at=self.started_at, version=self.version)


def read_devinfo(path: Path) -> bytes:
    """The bytes of a `.devinfo` that anyone may have written: a regular file (not a link, a FIFO, a device) of
    at most DEVINFO_LIMIT bytes, else UnreadableFile saying why. It blocks on nothing: call it off the loop."""
    return read_bounded(path, DEVINFO_LIMIT, follow_symlinks=False)


def _shown(value: object) -> str:
    """A JSON value for a reason: as JSON, cut to one short line."""
    return shorten(json.dumps(value), _SHOWN)


def _integer(data: dict[str, Any], key: str, default: int | None) -> int | None:
    value = data.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise DevinfoRejected(f"{key} must be an integer, got {_shown(value)}")
    return value


def _text(data: dict[str, Any], key: str, default: str = "") -> str:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise DevinfoRejected(f"{key} must be a string, got {_shown(value)}")
    return value


def _loopback_port(addr: str) -> bool:
    """`addr` is a TCP address on this machine: LOOPBACK_HOSTS with a port, e.g. `127.0.0.1:4000`."""
    host, _, port = addr.rpartition(":")
    return host in LOOPBACK_HOSTS and port.isascii() and port.isdigit() and len(port) <= 5 and 0 < int(port) <= 65535


def _check_address(addr: str, network: str) -> None:
    if network == "unix" and (not addr.startswith("/") or "\0" in addr):
        raise DevinfoRejected(f"addr {_shown(addr)} must be the absolute path of a unix socket")
    if network == "tcp" and not _loopback_port(addr):
        raise DevinfoRejected(f"addr {_shown(addr)} must be a unix socket path or HOST:PORT with HOST one of "
                              f"{', '.join(LOOPBACK_HOSTS)}: plugins serve on this machine")


def parse_devinfo(raw: bytes, folder: str) -> ExternalDevinfo:
    """Check the `.devinfo` found in `<state root>/plugins/<folder>/`; raises DevinfoRejected with the reason."""
    try:
        data = json.loads(raw)
    except ValueError as exc:  # UnicodeDecodeError is one too
        raise DevinfoRejected(f"not valid JSON ({exc})") from None
    except RecursionError:
        raise DevinfoRejected("not valid JSON (nested too deeply)") from None
    if not isinstance(data, dict):
        raise DevinfoRejected(f"not a JSON object but {type(data).__name__}")
    pid = _integer(data, "pid", None)
    if pid is None or pid <= 0:
        raise DevinfoRejected(f"pid must be a positive integer, got {_shown(data.get('pid'))}")
    addr = _text(data, "addr").strip()
    if not addr:
        raise DevinfoRejected("addr is empty: it must be a socket path or host:port")
    plugin_id = _text(data, "pluginId")
    if plugin_id != folder:
        raise DevinfoRejected(f"pluginId {_shown(data.get('pluginId'))} is not its folder's name {folder!r}")
    # The SDK's own files have no network: an absolute path is a unix socket, as the IDE reads them.
    network = "unix" if addr.startswith("/") else _text(data, "network", "tcp")
    if network not in ("unix", "tcp"):
        raise DevinfoRejected(f"network must be unix or tcp, got {_shown(network)}")
    _check_address(addr, network)
    protocol = _text(data, "protocol", "grpc")
    if protocol != "grpc":
        raise DevinfoRejected(f"protocol {_shown(protocol)}: Omniview plugins serve grpc")
    vite_port = _integer(data, "vitePort", 0) or 0
    if not 0 <= vite_port <= 65535:
        raise DevinfoRejected(f"vitePort must be a TCP port, got {vite_port}")
    return ExternalDevinfo(
        pid=pid, addr=addr, network=network, protocol=protocol,
        protocol_version=_integer(data, "protocolVersion", 0) or 0, plugin_id=plugin_id,
        version=_text(data, "version"), started_at=_text(data, "startedAt"), vite_port=vite_port,
        process_start_time=_integer(data, "processStartTime", None), data=data)


def process_gone(info: ExternalDevinfo) -> str:
    """Why the file's process no longer serves ("" while it runs): dead, or its PID now another process's."""
    if not is_alive(info.pid):
        return f"pid {info.pid} is not running"
    if info.process_start_time is not None:
        actual = start_time(info.pid)
        if actual is not None and abs(actual - info.process_start_time) > START_TIME_TOLERANCE_MS:
            return (f"pid {info.pid} was recycled: it started at {actual} ms, the file's process at "
                    f"{info.process_start_time} ms")
    return ""
