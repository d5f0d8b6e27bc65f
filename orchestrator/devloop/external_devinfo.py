"""Reading a `.devinfo` that someone else wrote: plugindev, the Omniview SDK's own `WriteDevInfo` (v0.5.0: no
`network`, no process start time), or a tool or a person (air, a shell script). What it says is checked once,
here, and the state the IDE is shown is derived from it and from the last health check.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.common.files import read_bounded
from orchestrator.common.process import is_alive, start_time
from orchestrator.devloop.handshake import shorten
from orchestrator.devloop.state import HOST, BackendProcess, DevState, Status

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


def external_state(info: ExternalDevinfo, health_error: str | None) -> DevState:
    """The state shown for an attached process: `health_error` None while the first check is under way,
    "" while the checks pass, else why the last one failed."""
    connected = health_error == ""
    status = Status.STARTING if health_error is None else Status.READY if connected else Status.ERROR
    return DevState(pluginID=info.plugin_id, devPath="", mode="external", vitePort=info.vite_port,
                    viteURL=f"http://{HOST}:{info.vite_port}" if info.vite_port else "", goStatus=status,
                    lastError=health_error or "", grpcConnected=connected, process=info.backend_process())


def rejected_state(plugin_id: str, reason: str) -> DevState:
    return DevState(pluginID=plugin_id, devPath="", mode="external", goStatus=Status.ERROR, lastError=reason)
