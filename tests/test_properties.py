"""Property-based tests (hypothesis) of the pure parts: handshake parsing, .devinfo reading, specifier -> shim file
names, port allocation, the rebuild scheduler, plugin.yaml validation, and every bounded reader of files that
someone else may have put there.

Profiles: `ci` (the default) is derandomized with a modest number of examples, so a run is reproducible and the
file takes a few seconds; `PLUGINDEV_HYPOTHESIS_PROFILE=long` runs many more random examples for local hunting
(`PLUGINDEV_HYPOTHESIS_PROFILE=long .venv/bin/pytest tests/test_properties.py`).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import selectors
import socket
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from orchestrator.authoring.manifest import CAPABILITIES, read_manifest
from orchestrator.authoring.validate import validate_plugin
from orchestrator.common.errors import PlugindevError
from orchestrator.common.files import UnreadableFile, read_bounded
from orchestrator.common.net import HOST
from orchestrator.common.rebuild import rebuild_loop, trailing_debounce
from orchestrator.devloop.context import RunOptions
from orchestrator.devloop.manager import DevManager
from orchestrator.devloop.vite import PortAllocator, allocate_port, port_is_free
from orchestrator.diagnose.status import state_from_devinfo
from orchestrator.go.handshake import Handshake, HandshakeError, parse_handshake
from orchestrator.shimgen.shared_list import _SPECIFIER, check_specifier, shim_filename, shim_filenames
from orchestrator.statefiles.api_file import api_file, running_api
from orchestrator.statefiles.codec import Rejected
from orchestrator.statefiles.devinfo import DevInfo, decode_devinfo, read_devinfo
from orchestrator.statefiles.registry import reap_leftovers
from orchestrator.web.plugin_context import read_meta

# --- handshake -------------------------------------------------------------------------------------------------

_FIELD = st.text(st.characters(exclude_characters="|\n\r\x1b"), max_size=12)


@st.composite
def handshake_like(draw: st.DrawFn) -> str:
    """Lines shaped like a handshake (the interesting ones), with any field values."""
    fields = draw(st.lists(st.one_of(_FIELD, st.sampled_from(["1", "0", "2", "unix", "tcp", "grpc", "netrpc", ""])),
                           min_size=3, max_size=9))
    return "|".join(fields)


def _parse_or_reject(line: str) -> None:
    try:
        handshake = parse_handshake(line)
    except HandshakeError:
        return
    assert handshake.core_version == 1 and handshake.network in ("unix", "tcp") and handshake.protocol == "grpc"
    assert handshake.address


@given(st.one_of(st.text(), handshake_like()))
@example("1|\u0661|tcp|127.0.0.1:1|grpc")  # an Arabic-Indic digit: a number to int(), not a go-plugin version
def test_any_line_is_a_handshake_or_a_handshake_error(line: str) -> None:
    _parse_or_reject(line)


def test_a_superscript_digit_is_a_handshake_error() -> None:  # str.isdigit() is true for '²'; int() refuses it
    _parse_or_reject("²|1|unix|/tmp/plugin|grpc|")


_ADDRESS = st.text(st.characters(exclude_characters="|\x1b", exclude_categories=("Cc", "Zs", "Zl", "Zp")),
                   min_size=1, max_size=40)


@given(app=st.integers(0, 10**6), network=st.sampled_from(["unix", "tcp"]), address=_ADDRESS,
       extra=st.sampled_from([(), ("",), ("", ""), ("CERT",), ("CERT", "true")]),
       padding=st.sampled_from(["", "\n", "\r\n", "  ", "\x1b[0m"]))
def test_valid_handshake_lines_round_trip(app: int, network: str, address: str, extra: tuple[str, ...],
                                          padding: str) -> None:
    line = "|".join(["1", str(app), network, address, "grpc", *extra]) + padding
    assert parse_handshake(line) == Handshake(1, app, network, address, "grpc")


# --- .devinfo reading ------------------------------------------------------------------------------------------

_JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
                          st.text(max_size=20))
_JSON = st.recursive(_JSON_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                     max_leaves=12)
_DEVINFO_KEYS = ["pid", "protocol", "protocolVersion", "addr", "network", "vitePort", "pluginId", "version",
                 "startedAt", "processStartTime", "plugindevPid"]


def _check_accepted(info: DevInfo, folder: str) -> None:
    """What SPEC §5/§6 let a reader accept: pid > 0, an address, the folder's id, unix/tcp, grpc, a TCP port."""
    assert isinstance(info.pid, int) and info.pid > 0
    assert info.addr.strip() == info.addr and info.addr
    assert info.pluginId == folder
    assert info.network in ("unix", "tcp") and info.protocol == "grpc"
    assert info.vitePort is None or 0 < info.vitePort <= 65535


def _read_or_reject(raw: bytes, folder: str) -> None:
    try:
        info = decode_devinfo(raw, folder)
    except Rejected as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    _check_accepted(info, folder)


@given(st.binary(max_size=300))
@example(b'\xff\xfe{\x00"\x00')  # a UTF-16 byte order mark, then half a character
def test_devinfo_from_any_bytes_is_read_or_rejected(raw: bytes) -> None:
    _read_or_reject(raw, "hello-plugin")


def test_devinfo_nested_too_deeply_is_rejected() -> None:  # json.loads raises RecursionError there
    with pytest.raises(Rejected) as rejected:
        decode_devinfo(b"[" * 5000, "hello-plugin")
    assert str(rejected.value) and "\n" not in str(rejected.value)


@given(st.dictionaries(st.sampled_from(_DEVINFO_KEYS), _JSON, max_size=len(_DEVINFO_KEYS)),
       st.sampled_from(["hello-plugin", "p"]))
def test_devinfo_objects_are_accepted_only_when_the_spec_allows(data: dict[str, Any], folder: str) -> None:
    try:
        info = decode_devinfo(json.dumps(data).encode(), folder)
    except Rejected:
        return
    _check_accepted(info, folder)


@given(pid=st.integers(1, 2**22), app=st.integers(0, 99), network=st.sampled_from(["unix", "tcp"]),
       vite_port=st.one_of(st.none(), st.integers(1, 65535)), start=st.one_of(st.none(), st.integers(0, 2**42)))
def test_what_plugindev_writes_is_read_back(pid: int, app: int, network: str, vite_port: int | None,
                                            start: int | None) -> None:
    addr = "/tmp/plugin-1/plugin.sock" if network == "unix" else "127.0.0.1:40123"
    written = DevInfo(pid=pid, protocol="grpc", protocolVersion=app, addr=addr, network=network,
                      pluginId="hello-plugin", version="0.1.0", startedAt="2025-01-01T00:00:00Z",
                      processStartTime=start, plugindevPid=1, vitePort=vite_port)
    assert decode_devinfo(json.dumps(written.to_json()).encode(), "hello-plugin") == written


# --- specifier -> shim file name -------------------------------------------------------------------------------

_NAME = st.from_regex(r"[a-z0-9][a-z0-9._~-]{0,8}", fullmatch=True)
_SUBPATH = st.from_regex(r"[A-Za-z0-9_~@+-][A-Za-z0-9._~@+-]{0,8}", fullmatch=True)
# valid specifiers built the way _SPECIFIER reads them: optional @scope/, a package name, subpath segments
_SPECIFIERS = st.builds(lambda scope, name, subpaths: "/".join([*scope, name, *subpaths]),
                        st.lists(_NAME.map(lambda n: "@" + n), max_size=1), _NAME,
                        st.lists(_SUBPATH, max_size=3)
                        ).filter(lambda s: "/../" not in f"/{s}/" and "/./" not in f"/{s}/")


def _flattened(spec: str) -> str:
    """What the file name rule loses: `/` and `__` look the same afterwards."""
    return spec.replace("/", "__")


@given(st.lists(st.one_of(_SPECIFIERS, _SPECIFIERS.map(_flattened).filter(_SPECIFIER.fullmatch)), unique=True,
                max_size=8))
@example(["a/b", "a__b"])
def test_shim_file_names_are_injective_or_the_collision_is_named(specs: list[str]) -> None:
    for spec in specs:
        check_specifier(spec, where="test")
    collisions = {_flattened(s) for s in specs if sum(_flattened(o) == _flattened(s) for o in specs) > 1}
    try:
        mapping = shim_filenames(specs)
    except PlugindevError as exc:
        named = re.findall(r"'([^']+)'", str(exc))
        assert len(named) == 2 and named[0] != named[1] and shim_filename(named[0]) == shim_filename(named[1])
        assert collisions
        return
    assert not collisions
    assert mapping == {s: shim_filename(s) for s in specs}  # stable: the same rule, whatever the order
    assert len(set(mapping.values())) == len(specs)
    for spec, name in mapping.items():
        assert name.endswith(".mjs") and "/" not in name and name == shim_filename(spec)


@given(_SPECIFIERS, _SPECIFIERS)
def test_two_specifiers_share_a_file_only_in_the_documented_case(a: str, b: str) -> None:
    if a != b and shim_filename(a) == shim_filename(b):
        assert _flattened(a) == _flattened(b)


# --- port allocation -------------------------------------------------------------------------------------------

# A range of its own, away from the 15173-15272 of the Vite servers other tests and people run.
_PORTS_BASE = 41_000


def _hold(ports: list[int]) -> list[socket.socket]:
    held = []
    for port in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((HOST, port))
            sock.listen()
        except OSError:
            sock.close()
            continue
        held.append(sock)
    return held


@given(size=st.integers(1, 8), offset=st.integers(0, 200), taken=st.sets(st.integers(0, 9), max_size=8),
       listening=st.sets(st.integers(0, 9), max_size=8))
def test_allocate_port_never_returns_a_taken_port_or_one_outside_the_range(size: int, offset: int, taken: set[int],
                                                                          listening: set[int]) -> None:
    ports = range(_PORTS_BASE + offset, _PORTS_BASE + offset + size)
    held = _hold([ports.start + i for i in listening])
    try:
        busy = {s.getsockname()[1] for s in held}
        try:
            port = allocate_port({ports.start + i for i in taken}, ports)
        except PlugindevError:
            assert all(p - ports.start in taken or not port_is_free(p) for p in ports)
            return
        assert port in ports and port - ports.start not in taken and port not in busy
        assert all(p - ports.start in taken or not port_is_free(p) for p in ports if p < port)  # the first free
    finally:
        for sock in held:
            sock.close()


@given(st.lists(st.tuples(st.sampled_from(["allocate", "release", "move", "steal", "free"]), st.integers(0, 7)),
                max_size=25))
def test_port_allocator_never_hands_out_another_plugins_port(operations: list[tuple[str, int]]) -> None:
    """Plugins take, give back and move ports while outsiders start and stop listening on some of them."""
    ports = range(_PORTS_BASE + 500, _PORTS_BASE + 506)
    allocator = PortAllocator(ports)
    owned: list[int] = []  # one port per plugin
    outsiders: dict[int, socket.socket] = {}
    try:
        for op, n in operations:
            if op == "allocate":
                try:
                    port = allocator.allocate()
                except PlugindevError:
                    continue
                assert port in ports and port not in owned and port not in outsiders
                owned.append(port)
            elif op == "release" and owned:
                allocator.release(owned.pop(n % len(owned)))
            elif op == "move" and owned:
                old = owned[n % len(owned)]
                try:
                    new = allocator.move(old)
                except PlugindevError:
                    continue
                assert new in ports and new != old and new not in owned and new not in outsiders
                owned[n % len(owned)] = new
            elif op == "steal" and (port := ports.start + n % len(ports)) not in outsiders:
                outsiders.update({s.getsockname()[1]: s for s in _hold([port])})
            elif op == "free" and outsiders:
                outsiders.pop(sorted(outsiders)[n % len(outsiders)]).close()
            assert allocator.assigned == set(owned)
    finally:
        for sock in outsiders.values():
            sock.close()


# --- the rebuild scheduler -------------------------------------------------------------------------------------


class _VirtualSelector(selectors.SelectSelector):
    """An event loop selector that never waits: it moves a virtual clock forward by the timeout instead."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:
            raise AssertionError("the scheduler waits forever: nothing is scheduled and nothing can wake it")
        self.now += max(timeout, 0.0)
        return []


class _VirtualClockLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self._virtual = _VirtualSelector()
        super().__init__(self._virtual)

    def time(self) -> float:
        return self._virtual.now


@dataclass
class _Timeline:
    saves: list[float] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    finished: list[float] = field(default_factory=list)  # builds that ran to the end
    successes: list[float] = field(default_factory=list)  # on_success done
    cancelled: int = 0
    running: int = 0
    most_at_once: int = 0


async def _schedule(gaps_ms: list[int], build_ms: list[int], success_ms: list[int], quiet_ms: int) -> _Timeline:
    loop = asyncio.get_running_loop()
    timeline = _Timeline()
    trigger, stop = asyncio.Event(), asyncio.Event()

    async def saves() -> AsyncIterator[set[str]]:
        for gap in gaps_ms:
            await asyncio.sleep(gap / 1000)
            timeline.saves.append(loop.time())
            yield {"pkg/main.go"}
        await stop.wait()  # a watcher ends only when told to

    async def build() -> bool:
        timeline.running += 1
        timeline.most_at_once = max(timeline.most_at_once, timeline.running)
        timeline.starts.append(loop.time())
        try:
            await asyncio.sleep(build_ms[len(timeline.starts) % len(build_ms)] / 1000)
        finally:
            timeline.running -= 1
        timeline.finished.append(loop.time())
        return True

    async def on_success() -> None:
        await asyncio.sleep(success_ms[len(timeline.successes) % len(success_ms)] / 1000)
        timeline.successes.append(loop.time())

    def on_cancelled() -> None:
        timeline.cancelled += 1

    async def driver() -> None:
        # after the last save: its quiet period, one follow-up still running, one build, its follow-up
        await asyncio.sleep((sum(gaps_ms) + quiet_ms + 2 * max(success_ms) + max(build_ms)) / 1000 + 1)
        stop.set()

    async with asyncio.TaskGroup() as group:
        group.create_task(trailing_debounce(saves(), quiet_ms / 1000, trigger))
        group.create_task(rebuild_loop(trigger, stop, build, on_success, on_cancelled))
        group.create_task(driver())
    return timeline


QUIET_MS = 20
# gaps between saves: never within 2 ms of the quiet period, so which side of it a save falls is clear
_GAPS = st.integers(0, 80).filter(lambda ms: abs(ms - QUIET_MS) > 2)


@given(gaps=st.lists(_GAPS, min_size=1, max_size=12), build_ms=st.lists(st.integers(1, 120), min_size=1, max_size=5),
       success_ms=st.lists(st.integers(0, 40), min_size=1, max_size=3))
def test_rebuild_scheduler_one_build_at_a_time_and_one_after_the_last_save(gaps: list[int], build_ms: list[int],
                                                                           success_ms: list[int]) -> None:
    with asyncio.Runner(loop_factory=_VirtualClockLoop) as runner:
        timeline = runner.run(_schedule(gaps, build_ms, success_ms, QUIET_MS))
    quiet = QUIET_MS / 1000
    # the end of each burst of saves: the moment its quiet period is over
    quiet_ends = [t + quiet for t, later in zip(timeline.saves, [*timeline.saves[1:], None], strict=True)
                  if later is None or later - t > quiet]
    assert timeline.most_at_once == 1
    # every build starts once a quiet period is over, and no two builds start for the same quiet period
    causes = [max(e for e in quiet_ends if e <= start + 1e-9) for start in timeline.starts]
    assert len(set(causes)) == len(causes)
    # the last save is always built, to the end, after it
    last_start = timeline.starts[-1]
    assert last_start >= timeline.saves[-1] + quiet - 1e-9
    assert timeline.finished and timeline.finished[-1] >= last_start
    assert timeline.successes and timeline.successes[-1] >= timeline.finished[-1]
    assert len(timeline.starts) == len(timeline.finished) + timeline.cancelled


# --- plugin.yaml validation ------------------------------------------------------------------------------------

_YAML_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12), st.dates(),
              st.sampled_from([*CAPABILITIES, "hello-plugin", "1.2.3", "0.1.0-rc.1", "../x"])),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=10)
_MANIFEST_KEYS = st.sampled_from(["id", "version", "name", "capabilities", "author", "tags", "theme",
                                  "schema_version", "maintainers", "icon", "unknown"])


def _validate_bytes(plugin_yaml: bytes, extra: dict[str, bytes] | None = None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        plugin = Path(folder)
        (plugin / "plugin.yaml").write_bytes(plugin_yaml)
        for rel, content in (extra or {}).items():
            (plugin / rel).parent.mkdir(parents=True, exist_ok=True)
            (plugin / rel).write_bytes(content)
        manifest, problems = read_manifest(plugin / "plugin.yaml")
        assert manifest is not None or problems
        for problem in validate_plugin(plugin):
            assert problem.message and "\n" not in str(problem)


@given(st.binary(max_size=200))
@example(b"id: caf\xe9\n")
@example(b"id: a\nreleased: 2020-13-45\n")
@example(b"version: !!float x\n")
@example(b"a: " + b"[" * 1200)  # deeper than Python's recursion limit
@example(b"\x00")  # PyYAML's reader error spans two lines
def test_plugin_yaml_from_any_bytes_never_crashes_validation(raw: bytes) -> None:
    _validate_bytes(raw)


@given(st.dictionaries(_MANIFEST_KEYS, _YAML_VALUES, max_size=8), st.binary(max_size=60), st.binary(max_size=60))
def test_plugin_yaml_of_any_shape_never_crashes_validation(data: dict[str, Any], package_json: bytes,
                                                           main_go: bytes) -> None:
    try:
        text = yaml.safe_dump(data)
    except yaml.YAMLError:
        assume(False)
    _validate_bytes(text.encode(), {"ui/package.json": package_json, "pkg/main.go": main_go,
                                    "ui/src/entry.ts": b"export const plugin = 1;\n"})


@pytest.mark.parametrize("profile", ["ci"])
def test_the_ci_profile_is_reproducible(profile: str) -> None:
    assert settings.get_profile(profile).derandomize and settings.get_profile(profile).database is None


# --- the bounded readers: any bytes, any file type, any size ------------------------------------------------
# Each reader of a file that someone else may have put there (`.devinfo`, plugin.yaml, api.json, managed.json,
# the process records) answers a value or one line, at once, whatever is at its path: a regular file of any
# bytes or any (sparse) size, a FIFO with no writer, a folder, nothing, or a link to any of those or to a device.

_BOUND = 2.0  # seconds for one read, on a busy 2-core machine
_DOCUMENTS = st.sampled_from([
    b'{"pid": 1, "addr": "/tmp/s", "pluginId": "p"}', b'{"url": "http://127.0.0.1:1", "token": "t", "pid": 1}',
    b'{"plugins": ["/nowhere"]}', b'{"ownerPid": 1, "groups": [{"kind": "plugin", "plugin_id": "p", "pid": 1, '
    b'"pgid": 1, "start_time": null, "temp_dir": "/nonexistent/plugindev-x"}]}',
    b"id: p\nversion: 1.0.0\ncapabilities: [ui]\n",
    b"a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c]\n" * 40,
])
_KINDS = ("regular", "sparse", "fifo", "folder", "missing", "link-to-regular", "link-to-dev-zero", "link-to-folder",
          "dangling-link")


@dataclass(frozen=True)
class _Planted:
    kind: str
    content: bytes
    size: int  # of a sparse file


_PLANTED = st.builds(_Planted, st.sampled_from(_KINDS), st.one_of(st.binary(max_size=300), _DOCUMENTS),
                     st.integers(0, 1 << 32))


def _plant(path: Path, planted: _Planted) -> None:
    """Put `planted` at `path` (its folder exists)."""
    elsewhere = path.parent / f"elsewhere-{path.name}"
    if planted.kind == "missing":
        return
    if planted.kind == "fifo":
        os.mkfifo(path)
    elif planted.kind == "folder":
        path.mkdir()
    elif planted.kind == "sparse":
        with path.open("wb") as handle:
            handle.write(planted.content)
            handle.truncate(max(planted.size, len(planted.content)))
    elif planted.kind == "regular":
        path.write_bytes(planted.content)
    else:
        target = {"link-to-regular": elsewhere, "link-to-folder": elsewhere, "dangling-link": elsewhere,
                  "link-to-dev-zero": Path("/dev/zero")}[planted.kind]
        if planted.kind == "link-to-regular":
            elsewhere.write_bytes(planted.content)
        elif planted.kind == "link-to-folder":
            elsewhere.mkdir()
        path.symlink_to(target)


def _within_bound(call: Any, *args: Any) -> Any:
    started = time.monotonic()
    result = call(*args)
    assert time.monotonic() - started < _BOUND, f"{call.__name__} took {time.monotonic() - started:.1f} s"
    return result


def _one_line(message: str) -> None:
    assert message and "\n" not in message and len(message) < 2000, message


@given(_PLANTED, st.integers(0, 4096), st.booleans())
def test_read_bounded_returns_the_bytes_of_a_small_regular_file_or_one_line(planted: _Planted, limit: int,
                                                                            follow_symlinks: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "file"
        _plant(path, planted)
        try:
            data = _within_bound(lambda: read_bounded(path, limit, follow_symlinks=follow_symlinks))
        except UnreadableFile as exc:
            _one_line(str(exc))
            assert str(exc).startswith(str(path))
            return
        assert planted.kind in ("regular", "sparse") or (follow_symlinks and planted.kind == "link-to-regular")
        assert len(data) <= limit and data == path.read_bytes()


def _planted_devinfo(root: Path, planted: _Planted) -> Path:
    """`planted` as plugin p's .devinfo under the state root `root`; its path."""
    path = root / "plugins" / "p" / ".devinfo"
    path.parent.mkdir(parents=True)
    _plant(path, planted)
    return path


@given(_PLANTED)
def test_an_external_devinfo_is_a_plugin_process_or_one_line(planted: _Planted) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = _planted_devinfo(Path(folder), planted)
        try:
            info = decode_devinfo(_within_bound(read_devinfo, path), "p")
        except (UnreadableFile, Rejected) as exc:
            _one_line(str(exc))
            return
        assert info.pid > 0 and planted.kind in ("regular", "sparse")


@given(_PLANTED)
def test_a_plugin_yaml_is_a_manifest_or_problems_of_one_line(planted: _Planted) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "plugin.yaml"
        _plant(path, planted)
        manifest, problems = _within_bound(read_manifest, path)
        assert manifest is not None or problems
        for problem in problems:
            _one_line(str(problem))
        meta, notes = asyncio.run(asyncio.wait_for(read_meta(path, "p"), _BOUND))
        assert meta["id"] is not None
        for note in notes:
            _one_line(note)


@given(_PLANTED)
def test_an_api_json_is_a_running_api_or_none(planted: _Planted) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        api_file(root).parent.mkdir(parents=True)
        _plant(api_file(root), planted)
        endpoint = _within_bound(running_api, root)
        assert endpoint is None or endpoint.pid > 0


@given(_PLANTED)
def test_status_shows_any_devinfo_as_a_state_with_one_line_of_error(planted: _Planted) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = _planted_devinfo(Path(folder), planted)
        if planted.kind == "missing":
            return
        state = _within_bound(state_from_devinfo, path)
        assert state["pluginID"] == "p" and "\n" not in state["lastError"]


@given(_PLANTED, _PLANTED)
def test_the_next_start_reads_any_records_and_devinfo_at_once_and_ends_nothing_unrecorded(
        record: _Planted, devinfo: _Planted) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "plugindev" / "processes").mkdir(parents=True)
        (root / "plugins" / "p").mkdir(parents=True)
        _plant(root / "plugindev" / "processes" / "1.json", record)  # pid 1: never plugindev's to end
        _plant(root / "plugins" / "p" / ".devinfo", devinfo)
        done = asyncio.run(asyncio.wait_for(reap_leftovers(root, grace=0.1), _BOUND))
        assert all(line.startswith("removed stale ") for line in done)


@given(_PLANTED)
@example(_Planted("sparse", b'{"plugins": []}', 4 << 30))  # 4 GiB that cost no disk
def test_a_saved_set_of_plugins_is_restored_or_said_in_one_line(planted: _Planted) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        saved = root / "plugindev" / "managed.json"
        saved.parent.mkdir(parents=True)
        _plant(saved, planted)
        manager = DevManager(root, RunOptions(), fail_fast=False, saved=saved)
        for line in _within_bound(manager.restore):
            _one_line(line)
