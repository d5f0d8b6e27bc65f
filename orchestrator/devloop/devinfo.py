""".devinfo: how the IDE finds a plugin process that plugindev runs, and how readers tell it is alive."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

DEVINFO = ".devinfo"


def process_start_time(pid: int) -> int | None:
    """Start time of `pid` in clock ticks since boot (Linux); with the PID it names a process across PID reuse."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 2 (the command name) may hold spaces and parentheses: count from the last ")", which ends it.
    try:
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (IndexError, ValueError):
        return None


def pid_alive(pid: int, start_time: int | None = None) -> bool:
    """The process exists and, when its start time is known, is the same process as before."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    return start_time is None or process_start_time(pid) in (None, start_time)


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
    processStartTime: int | None  # with pid: survives PID reuse
    plugindevPid: int
    vitePort: int | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.vitePort is None:
            del data["vitePort"]
        return data


def devinfo_path(plugin_state_dir: Path) -> Path:
    return plugin_state_dir / DEVINFO


def write_devinfo(plugin_state_dir: Path, info: DevInfo) -> Path:
    """Written to .devinfo.tmp and renamed, so the IDE never reads half a file."""
    path = devinfo_path(plugin_state_dir)
    plugin_state_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(DEVINFO + ".tmp")
    tmp.write_text(json.dumps(info.to_json(), indent=2) + "\n")
    os.replace(tmp, path)
    return path


def remove_devinfo(plugin_state_dir: Path) -> None:
    devinfo_path(plugin_state_dir).unlink(missing_ok=True)
    devinfo_path(plugin_state_dir).with_name(DEVINFO + ".tmp").unlink(missing_ok=True)


def read_devinfo(path: Path) -> tuple[dict[str, Any] | None, str]:
    """The JSON of a .devinfo when the IDE would accept it, else None and the reason."""
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        return None, f"cannot read: {exc.strerror}"
    except ValueError:
        return None, "not valid JSON"
    if not isinstance(data, dict):
        return None, "not a JSON object"
    pid = data.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return None, f"pid {pid!r} is not a positive integer"
    if not isinstance(data.get("addr"), str) or not data["addr"]:
        return None, "addr is empty"
    if data.get("pluginId") != path.parent.name:
        return None, f"pluginId {data.get('pluginId')!r} does not match the directory {path.parent.name!r}"
    if not pid_alive(pid, data.get("processStartTime")):
        return None, f"process {pid} is not running"
    return data, ""

