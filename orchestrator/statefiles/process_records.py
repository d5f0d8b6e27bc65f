"""`<state root>/plugindev/processes/<pid>.json`: the process groups one plugindev started, so that the next
start ends those of an owner that is gone (orchestrator.statefiles.registry). Its keys are camelCase at the top
and snake_case in each group, as plugindev has always written them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from orchestrator.common.files import read_bounded
from orchestrator.common.process import is_alive
from orchestrator.statefiles.codec import Rejected, decode_object, encode_json, integer, positive, shown, text

RECORD_LIMIT = 1 << 20  # bytes; a record of a few plugins' groups has a few hundred


@dataclass(frozen=True)
class ProcessRecord:
    kind: str  # vite | plugin | go-build | vite-build | ui-install | delve-install
    plugin_id: str
    pid: int
    pgid: int
    start_time: int | None  # ms since the epoch
    # a temporary folder of the group's own (go-plugin's socket folder, a go build's GOTMPDIR), left behind when
    # the group is killed
    temp_dir: str | None = None

    def alive(self) -> bool:
        """The group's leader is still the process plugindev started: the same pid and start time. A record
        without a start time (or not of a group leader) names no process for sure, so it is never ended."""
        return self.pgid == self.pid and self.start_time is not None and is_alive(self.pid, self.start_time)


@dataclass(frozen=True)
class ProcessRecords:
    owner_pid: int  # the plugindev that started the groups
    owner_start_time: int | None
    groups: tuple[ProcessRecord, ...]


def encode_records(records: ProcessRecords) -> bytes:
    return encode_json({"ownerPid": records.owner_pid, "ownerStartTime": records.owner_start_time,
                        "groups": [asdict(group) for group in records.groups]})


def decode_records(raw: bytes) -> ProcessRecords:
    """The records in `raw`, else Rejected with the reason."""
    data = decode_object(raw)
    groups = data.get("groups")
    if not isinstance(groups, list):
        raise Rejected(f"groups must be a list of process groups, got {shown(groups)}")
    return ProcessRecords(positive(data, "ownerPid"), integer(data, "ownerStartTime"),
                          tuple(_group(group, f"groups[{index}]") for index, group in enumerate(groups)))


def _group(group: Any, name: str) -> ProcessRecord:
    if not isinstance(group, dict):
        raise Rejected(f"{name} must be an object, got {shown(group)}")
    temp_dir = text(group, "temp_dir", name=f"{name}.temp_dir") or None
    return ProcessRecord(kind=text(group, "kind", name=f"{name}.kind"),
                         plugin_id=text(group, "plugin_id", name=f"{name}.plugin_id"),
                         pid=positive(group, "pid", f"{name}.pid"), pgid=positive(group, "pgid", f"{name}.pgid"),
                         start_time=integer(group, "start_time", f"{name}.start_time"), temp_dir=temp_dir)


def load_records(path: Path) -> ProcessRecords:
    """The records at `path`, else UnreadableFile (not a small regular file: never followed through a link, never
    blocking) or Rejected."""
    return decode_records(read_bounded(path, RECORD_LIMIT, follow_symlinks=False))
