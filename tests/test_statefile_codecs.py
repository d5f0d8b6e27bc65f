"""The codecs of plugindev's state files (`.devinfo`, api.json, managed.json, the process records), property by
property: every valid value comes back from its bytes; any bytes, and any JSON of the format's shape, decode to a
valid value or are rejected with one line naming the field (never another exception); and the files plugindev
writes hold the very bytes they held before the codecs (the IDE and the SDK read `.devinfo`: SPEC §6b).
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO
from hypothesis import assume, example, given
from hypothesis import strategies as st

from orchestrator.common.process import start_time
from orchestrator.devloop.context import RunOptions
from orchestrator.devloop.manager import DevManager
from orchestrator.statefiles.api_file import ApiEndpoint, api_file, decode_api_file, encode_api_file, write_api_file
from orchestrator.statefiles.codec import Rejected
from orchestrator.statefiles.devinfo import LOOPBACK_HOSTS, DevInfo, DevinfoFile, decode_devinfo, encode_devinfo
from orchestrator.statefiles.managed import SavedSet, decode_saved_set, encode_saved_set
from orchestrator.statefiles.process_records import ProcessRecord, ProcessRecords, decode_records, encode_records
from orchestrator.statefiles.registry import ProcessRegistry

FOLDER = "hello-plugin"  # the folder of every .devinfo decoded here


@dataclass(frozen=True)
class Codec:
    name: str
    encode: Callable[[Any], bytes]
    decode: Callable[[bytes], Any]
    values: st.SearchStrategy[Any]  # every valid value
    valid: Callable[[Any], bool]  # what the format allows, written out again from SPEC §6 and the docstrings


# -- valid values: what each format allows, and all of it -------------------------------------------------------

_PIDS = st.integers(1, 2**40)
_MILLISECONDS = st.one_of(st.none(), st.integers(-(2**63), 2**63))
# any characters, lone surrogates too (a file name that is not UTF-8, as Python decodes it): JSON escapes them
_CHARACTERS = st.characters(exclude_categories=())
_TEXT = st.text(_CHARACTERS, max_size=30)
_SOCKET_PATHS = st.text(st.characters(exclude_categories=(), exclude_characters="\0"), max_size=30).map(
    lambda rest: "/" + rest.strip())
_ADDRESSES = st.one_of(
    _SOCKET_PATHS,
    st.builds(lambda host, port: f"{host}:{port}", st.sampled_from(LOOPBACK_HOSTS), st.integers(1, 65535)),
)
_DEVINFOS = st.builds(
    lambda addr, **fields: DevInfo(addr=addr, network="unix" if addr.startswith("/") else "tcp", **fields),
    addr=_ADDRESSES, pid=_PIDS, protocol=st.just("grpc"), protocolVersion=st.integers(-(2**63), 2**63),
    pluginId=st.just(FOLDER), version=_TEXT, startedAt=_TEXT, processStartTime=_MILLISECONDS,
    plugindevPid=st.one_of(st.none(), _PIDS), vitePort=st.one_of(st.none(), st.integers(1, 65535)))
_ENDPOINTS = st.builds(ApiEndpoint, url=st.text(_CHARACTERS, min_size=1, max_size=40).filter(lambda u: u[-1] != "/"),
                       token=st.text(_CHARACTERS, min_size=1, max_size=50), pid=_PIDS, start_time=_MILLISECONDS)
_PATHS = st.text(st.characters(exclude_categories=(), exclude_characters="\0"), min_size=1, max_size=30).map(Path)
_SAVED_SETS = st.builds(SavedSet, st.lists(_PATHS, max_size=5).map(tuple))
_GROUPS = st.builds(ProcessRecord, kind=st.sampled_from(["vite", "plugin", "go-build", "vite-build"]) | _TEXT,
                    plugin_id=_TEXT, pid=_PIDS, pgid=_PIDS, start_time=_MILLISECONDS,
                    temp_dir=st.one_of(st.none(), st.text(_CHARACTERS, min_size=1, max_size=30)))
_RECORDS = st.builds(ProcessRecords, owner_pid=_PIDS, owner_start_time=_MILLISECONDS,
                     groups=st.lists(_GROUPS, max_size=4).map(tuple))



def _integer(value: object, least: int | None = None, most: int | None = None) -> bool:
    return type(value) is int and (least is None or value >= least) and (most is None or value <= most)


def _maybe_integer(value: object, least: int | None = None) -> bool:
    return value is None or _integer(value, least)


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _valid_devinfo(info: DevInfo) -> bool:
    on_loopback = re.fullmatch(r"(127\.0\.0\.1|localhost|\[::1\]):([0-9]{1,5})", info.addr)
    address = ((info.network == "unix" and info.addr.startswith("/") and "\0" not in info.addr)
               or (info.network == "tcp" and on_loopback is not None and 0 < int(on_loopback[2]) <= 65535))
    return (_integer(info.pid, 1) and info.protocol == "grpc" and _integer(info.protocolVersion) and address
            and info.addr == info.addr.strip() and info.pluginId == FOLDER and isinstance(info.version, str)
            and isinstance(info.startedAt, str) and _maybe_integer(info.processStartTime)
            and _maybe_integer(info.plugindevPid, 1) and (info.vitePort is None or _integer(info.vitePort, 1, 65535)))


def _valid_endpoint(endpoint: ApiEndpoint) -> bool:
    return (_text(endpoint.url) and not endpoint.url.endswith("/") and _text(endpoint.token)
            and _integer(endpoint.pid, 1) and _maybe_integer(endpoint.start_time))


def _valid_saved_set(saved: SavedSet) -> bool:
    return isinstance(saved.plugins, tuple) and all(isinstance(p, Path) and "\0" not in str(p) for p in saved.plugins)


def _valid_records(records: ProcessRecords) -> bool:
    return (_integer(records.owner_pid, 1) and _maybe_integer(records.owner_start_time)
            and isinstance(records.groups, tuple) and all(
                isinstance(g.kind, str) and isinstance(g.plugin_id, str) and _integer(g.pid, 1) and _integer(g.pgid, 1)
                and _maybe_integer(g.start_time) and (g.temp_dir is None or _text(g.temp_dir))
                for g in records.groups))


CODECS = [
    Codec(".devinfo", encode_devinfo, lambda raw: decode_devinfo(raw, FOLDER), _DEVINFOS, _valid_devinfo),
    Codec("api.json", encode_api_file, decode_api_file, _ENDPOINTS, _valid_endpoint),
    Codec("managed.json", encode_saved_set, decode_saved_set, _SAVED_SETS, _valid_saved_set),
    Codec("process records", encode_records, decode_records, _RECORDS, _valid_records),
]

# -- any JSON, and JSON of each format's shape with one field's value replaced ----------------------------------

_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), _TEXT,
                     st.sampled_from(["grpc", "unix", "tcp", "/tmp/s", "127.0.0.1:1", "[::1]:99999", FOLDER, ""]))
_JSON = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                     max_leaves=12)


def _valid_or_rejected(codec: Codec, raw: bytes) -> str | None:
    """The reason `raw` is rejected, or None when it decodes to a valid value: one that its own bytes give back."""
    try:
        value = codec.decode(raw)
    except Rejected as exc:
        reason = str(exc)
        assert reason and "\n" not in reason and len(reason) < 500, reason
        return reason
    assert codec.valid(value), value
    assert codec.decode(codec.encode(value)) == value
    return None


@pytest.mark.parametrize("codec", CODECS, ids=[codec.name for codec in CODECS])
@given(data=st.data())
def test_every_valid_value_comes_back_from_its_bytes(codec: Codec, data: st.DataObject) -> None:
    value = data.draw(codec.values)
    assert codec.valid(value)  # the strategy makes valid values only
    assert codec.decode(codec.encode(value)) == value


@pytest.mark.parametrize("codec", CODECS, ids=[codec.name for codec in CODECS])
@given(raw=st.one_of(st.binary(max_size=300), _JSON.map(lambda data: json.dumps(data).encode())))
@example(raw=b'\xff\xfe{\x00"\x00')  # a UTF-16 byte order mark, then half a character
@example(raw=b"[" * 5000)  # nested too deeply for json.loads
@example(raw=b"1" * 5000)  # more digits than int() takes
def test_any_bytes_decode_to_a_valid_value_or_are_rejected_in_one_line(codec: Codec, raw: bytes) -> None:
    _valid_or_rejected(codec, raw)


# values next to what a field allows (a bool for an integer, a port just out of range, an unstripped address, a
# NUL in a path), each tried on every field of every format
_NEAR_MISSES = [
    None, True, False, 0, -1, 1, 7.0, 65535, 65536, 2**63, "", " ", "12", "/", "x/", " /tmp/s", "/tmp/s\n", "/tmp/\0s",
    "127.0.0.1:0", "127.0.0.1:99999", "localhost:http", "10.0.0.1:80", "[::1]:1", "grpc", "netrpc", "unix", "tcp",
    FOLDER, [], {}, [""], ["a\0b"], [1], [{}], [None], {"pid": 1},
]
_REMOVED = object()  # the field is left out
FieldPath = tuple[str | int, ...]  # keys and list indices down to one field
_FIELDS: list[tuple[Codec, FieldPath]] = [
    *((CODECS[0], (key,)) for key in ("pid", "protocol", "protocolVersion", "addr", "network", "pluginId", "version",
                                      "startedAt", "processStartTime", "plugindevPid", "vitePort")),
    *((CODECS[1], (key,)) for key in ("url", "token", "pid", "startTime")),
    (CODECS[2], ("plugins",)), (CODECS[2], ("plugins", 0)),
    *((CODECS[3], path) for path in [("ownerPid",), ("ownerStartTime",), ("groups",), ("groups", 0)]),
    *((CODECS[3], ("groups", 0, key)) for key in ("kind", "plugin_id", "pid", "pgid", "start_time", "temp_dir")),
]


def _field_name(path: FieldPath) -> str:
    """As a reason names it: `groups[0].pid`."""
    return "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path).lstrip(".")


def _replaced(document: dict[str, Any], path: FieldPath, replacement: object) -> bytes | None:
    """`document` with the field at `path` replaced (or removed); None when it has no such field's place (no
    group to change)."""
    holder: Any = copy.deepcopy(document)
    changed = holder
    for step in path[:-1]:
        if isinstance(step, int) and len(holder) <= step:
            return None
        holder = holder[step]
    last = path[-1]
    if isinstance(last, int) and len(holder) <= last:
        return None
    if replacement is not _REMOVED:
        holder[last] = replacement
    elif isinstance(holder, dict):
        holder.pop(last, None)  # vitePort: left out already when there is no Vite
    else:
        del holder[last]
    return json.dumps(changed).encode()


@pytest.mark.parametrize(("codec", "path"), _FIELDS, ids=[f"{c.name}:{_field_name(p)}" for c, p in _FIELDS])
@given(data=st.data())
def test_a_file_with_one_bad_field_is_rejected_naming_it(codec: Codec, path: FieldPath, data: st.DataObject) -> None:
    document = json.loads(codec.encode(data.draw(codec.values)))
    field = _field_name(path)
    for replacement in [*_NEAR_MISSES, _REMOVED, data.draw(_JSON)]:
        raw = _replaced(document, path, replacement)
        assume(raw is not None)
        assert raw is not None
        reason = _valid_or_rejected(codec, raw)
        # a network that does not fit the address is said of the address (an absolute path is always unix)
        assert reason is None or reason.startswith(field) or (field == "network" and reason.startswith("addr ")), (
            field, replacement, reason)


def test_the_sdks_own_devinfo_decodes_without_network_and_process_start_time() -> None:
    # as the SDK's WriteDevInfo (v0.5.0) writes it: json.MarshalIndent, tabs, Go's nanosecond times
    raw = (b'{\n\t"pid": 4242,\n\t"protocol": "grpc",\n\t"protocolVersion": 1,\n\t"addr": "/tmp/plugin3141",\n'
           b'\t"vitePort": 15180,\n\t"pluginId": "hello-plugin",\n\t"version": "0.1.0",\n'
           b'\t"startedAt": "2026-01-02T03:04:05.123456789Z"\n}')
    assert decode_devinfo(raw, FOLDER) == DevInfo(
        pid=4242, protocol="grpc", protocolVersion=1, addr="/tmp/plugin3141", network="unix", pluginId=FOLDER,
        version="0.1.0", startedAt="2026-01-02T03:04:05.123456789Z", processStartTime=None, plugindevPid=None,
        vitePort=15180)


# -- what plugindev writes: the bytes it wrote before the codecs -----------------------------------------------

GOLDEN_DEVINFO_WITH_VITE = """{
  "pid": 4242,
  "protocol": "grpc",
  "protocolVersion": 1,
  "addr": "/tmp/plugin-1/plugin.sock",
  "network": "unix",
  "pluginId": "hello-plugin",
  "version": "0.1.0",
  "startedAt": "2026-01-02T03:04:05.678Z",
  "processStartTime": 1700000000123,
  "plugindevPid": 99,
  "vitePort": 15173
}
"""
GOLDEN_DEVINFO_BACKEND_ONLY = """{
  "pid": 4242,
  "protocol": "grpc",
  "protocolVersion": 1,
  "addr": "127.0.0.1:40123",
  "network": "tcp",
  "pluginId": "hello-plugin",
  "version": "0.1.0",
  "startedAt": "2026-01-02T03:04:05.678Z",
  "processStartTime": null,
  "plugindevPid": 99
}
"""
GOLDEN_API = """{
  "url": "http://127.0.0.1:7000",
  "token": "t0ken-\\u00e9",
  "pid": @PID@,
  "startTime": @START@
}
"""
GOLDEN_MANAGED_ONE = """{
  "plugins": [
    @PLUGIN@
  ]
}
"""
GOLDEN_MANAGED_NONE = """{
  "plugins": []
}
"""
GOLDEN_RECORDS = """{
  "ownerPid": @PID@,
  "ownerStartTime": @START@,
  "groups": [
    {
      "kind": "plugin",
      "plugin_id": "hello-plugin",
      "pid": @PID@,
      "pgid": @PID@,
      "start_time": @START@,
      "temp_dir": "/tmp/plugindev-abc"
    },
    {
      "kind": "vite",
      "plugin_id": "hello-plugin",
      "pid": 1,
      "pgid": 1,
      "start_time": @START1@,
      "temp_dir": null
    }
  ]
}
"""


def _golden(text: str, **values: object) -> bytes:
    """A golden file with this run's values (pids, start times, folders) put in, as JSON."""
    for name, value in {"PID": os.getpid(), "START": start_time(os.getpid()), **values}.items():
        text = text.replace(f"@{name}@", json.dumps(value))
    return text.encode()


@pytest.mark.parametrize(("vite_port", "addr", "network", "started", "golden"), [
    (15173, "/tmp/plugin-1/plugin.sock", "unix", 1_700_000_000_123, GOLDEN_DEVINFO_WITH_VITE),
    (None, "127.0.0.1:40123", "tcp", None, GOLDEN_DEVINFO_BACKEND_ONLY),
])
def test_a_devinfo_plugindev_writes_has_the_same_bytes(tmp_path: Path, vite_port: int | None, addr: str,
                                                       network: str, started: int | None, golden: str) -> None:
    file = DevinfoFile(tmp_path / "plugins" / FOLDER)
    file.reconcile(DevInfo(pid=4242, protocol="grpc", protocolVersion=1, addr=addr, network=network,
                           pluginId=FOLDER, version="0.1.0", startedAt="2026-01-02T03:04:05.678Z",
                           processStartTime=started, plugindevPid=99, vitePort=vite_port))
    assert file.path.read_bytes() == golden.encode()


def test_an_api_json_plugindev_writes_has_the_same_bytes(tmp_path: Path) -> None:
    write_api_file(tmp_path, "http://127.0.0.1:7000", "t0ken-é")
    assert api_file(tmp_path).read_bytes() == _golden(GOLDEN_API)
    assert api_file(tmp_path).stat().st_mode & 0o777 == 0o600


def test_a_managed_json_plugindev_writes_has_the_same_bytes(tmp_path: Path) -> None:
    saved = tmp_path / "plugindev" / "managed.json"
    plugin = REPO / "examples" / "hello-plugin"

    async def scenario() -> None:
        manager = DevManager(tmp_path, RunOptions(), fail_fast=False, saved=saved)
        try:
            manager.add(plugin)
            assert saved.read_bytes() == _golden(GOLDEN_MANAGED_ONE, PLUGIN=str(plugin.resolve()))
            await manager.remove("hello-plugin")
            assert saved.read_bytes() == _golden(GOLDEN_MANAGED_NONE)
        finally:
            await manager.close()

    asyncio.run(scenario())


def test_the_process_records_plugindev_writes_have_the_same_bytes(tmp_path: Path) -> None:
    registry = ProcessRegistry(tmp_path)
    try:
        registry.add("plugin", "hello-plugin", os.getpid(), Path("/tmp/plugindev-abc"))
        registry.add("vite", "hello-plugin", 1)
        assert registry.path.read_bytes() == _golden(GOLDEN_RECORDS, START1=start_time(1))
    finally:
        registry.close()
