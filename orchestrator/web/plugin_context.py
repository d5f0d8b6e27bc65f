"""What the IDE hands a plugin's UI through `usePluginContext()`: `{pluginId, meta, settings}` (SPEC §6b), built for
a plugin plugindev knows, so that a preview can give the plugin the same data.

`meta` is plugin.yaml as the SDK v0.5.0 reads it into its Go `config.PluginMeta` (gopkg.in/yaml.v3) and
encoding/json writes it: every field under its json name, Go's zero value where the file has none, unknown keys
dropped. `settings` are the values the plugin process declares, asked over gRPC from the settings service that
every SDK v0.5.0 plugin registers. What cannot be had goes into `notes` (one line each); the rest is answered.
"""

from __future__ import annotations

import asyncio
import enum
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from orchestrator.authoring.manifest import MANIFEST_LIMIT
from orchestrator.common.bounded_yaml import BoundedSafeLoader
from orchestrator.common.files import UnreadableFile, not_utf8, read_bounded
from orchestrator.go.handshake import proto_fields, proto_records, shorten
from orchestrator.model.state import BackendProcess, DevState

if TYPE_CHECKING:
    from orchestrator.api.handlers import Api

SETTINGS_TIMEOUT = 2.0  # seconds for the ListSettings call
# sdk.NewPlugin registers pkg/v1/settings: service omniview.sdk.settings.v1.SettingsPlugin
# (proto/v1/settings/settings.proto); ListSettings(google.protobuf.Empty) -> ListSettingsResponse
# {map<string, Setting> settings = 1}, Setting {... google.protobuf.Any value = 5; google.protobuf.Any default = 6}
LIST_SETTINGS = "/omniview.sdk.settings.v1.SettingsPlugin/ListSettings"
_SETTING_VALUE, _SETTING_DEFAULT = 5, 6
_BYTES_VALUE = "type.googleapis.com/google.protobuf.BytesValue"  # what the SDK packs each value's JSON in


# -- the Go type PluginMeta, as far as decoding and encoding it needs -------------------------------------------

class Scalar(enum.Enum):
    STRING = "a string"
    INT = "an integer"


@dataclass(frozen=True)
class GoSlice:
    item: GoType  # nil (JSON null) when plugin.yaml lacks the key


@dataclass(frozen=True)
class GoPointer:
    to: GoStruct  # tagged `omitempty`: nil is left out of the JSON


@dataclass(frozen=True)
class GoStruct:
    fields: tuple[tuple[str, GoType], ...]  # PluginMeta's yaml and json names are the same


GoType = Scalar | GoSlice | GoPointer | GoStruct

_TEXT, _STRINGS = Scalar.STRING, GoSlice(Scalar.STRING)
_AUTHOR = GoStruct((("name", _TEXT), ("email", _TEXT), ("url", _TEXT)))
_MAINTAINER = GoStruct((("name", _TEXT), ("email", _TEXT)))
_THEME = GoStruct((("colors", GoStruct((("primary", _TEXT), ("secondary", _TEXT), ("tertiary", _TEXT)))),))
_RESOURCE_COMPONENT = GoStruct((("name", _TEXT), ("plugin", _TEXT), ("area", _TEXT), ("resources", _STRINGS),
                                ("extension", _TEXT)))
# pkg/config/meta.go of SDK v0.5.0, in field order; `Markdown` (json "-") never appears
PLUGIN_META = GoStruct((
    ("id", _TEXT), ("version", _TEXT), ("name", _TEXT), ("icon", _TEXT), ("icon_url", _TEXT),
    ("description", _TEXT), ("repository", _TEXT), ("website", _TEXT), ("category", _TEXT), ("license", _TEXT),
    ("author", GoPointer(_AUTHOR)), ("maintainers", GoSlice(_MAINTAINER)), ("tags", _STRINGS),
    ("dependencies", _STRINGS), ("capabilities", _STRINGS), ("theme", _THEME),
    ("components", GoStruct((("resource", GoSlice(_RESOURCE_COMPONENT)),))),
    ("schema_version", Scalar.INT), ("sdk_protocol_version", Scalar.INT),
))


def go_zero(kind: GoType) -> Any:
    """Go's zero value as encoding/json writes it (a nil slice or pointer: None)."""
    if isinstance(kind, GoStruct):
        return {name: go_zero(field) for name, field in kind.fields if not isinstance(field, GoPointer)}
    if kind is Scalar.STRING:
        return ""
    return 0 if kind is Scalar.INT else None


def empty_meta(plugin_id: str, version: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = go_zero(PLUGIN_META)
    return meta | {"id": plugin_id, "version": version}


# -- plugin.yaml -> PluginMeta, as yaml.v3 decodes it ------------------------------------------------------------

_NULLS = {"", "~", "null", "Null", "NULL"}  # the plain scalars yaml.v3 reads as null
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INT64 = range(-(1 << 63), 1 << 63)


def _go_int(node: yaml.ScalarNode) -> int | None:
    """The scalar as yaml.v3 stores it in a Go int, None when it refuses: what Go's ParseInt(s, 0, 64) reads
    once `_` are dropped (0x, 0o, 0b, legacy octal 017), or a float, truncated. Quoted text is a string."""
    plain = node.value.replace("_", "")
    if node.style is not None or not plain.isascii():
        return None
    try:
        number = int(plain, 0)
    except ValueError:
        if re.fullmatch(r"[-+]?0[0-7]+", plain):
            number = int(plain, 8)
        elif _YAML_FLOAT.fullmatch(plain) and math.isfinite(value := float(plain)):
            number = int(value)
        else:
            return None
    return number if number in _INT64 else None


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.style is None and node.value in _NULLS


def _shown(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        return json.dumps(shorten(node.value, 40))
    return "a mapping" if isinstance(node, yaml.MappingNode) else "a list"


def _wanted(kind: GoType) -> str:
    if isinstance(kind, Scalar):
        return kind.value
    return "a list" if isinstance(kind, GoSlice) else "a mapping"


class _MetaDecoder:
    """Decodes a node tree into a Go type as yaml.v3 does. Where yaml.v3 fails (and so the SDK's NewPlugin
    panics) the value stays Go's zero and a note says so."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def decode(self, node: yaml.Node | None, kind: GoType, where: str) -> Any:
        if node is None or _is_null(node):
            return go_zero(kind)
        if isinstance(kind, GoPointer):
            return self.decode(node, kind.to, where)
        if isinstance(kind, GoStruct) and isinstance(node, yaml.MappingNode):
            return self._struct(node, kind, where)
        if isinstance(kind, GoSlice) and isinstance(node, yaml.SequenceNode):
            # yaml.v3 drops a null element: a Go string or struct cannot be nil
            return [self.decode(item, kind.item, f"{where}[{i}]") for i, item in enumerate(node.value)
                    if not _is_null(item)]
        if kind is Scalar.STRING and isinstance(node, yaml.ScalarNode):
            return node.value  # yaml.v3 keeps the text as written: `1.10`, `yes`, `0x1F` stay as they are
        if kind is Scalar.INT and isinstance(node, yaml.ScalarNode) and (number := _go_int(node)) is not None:
            return number
        self.notes.append(f"meta: plugin.yaml {where}: {_shown(node)} where the SDK's PluginMeta has "
                          f"{_wanted(kind)}; shown empty, and the SDK cannot load this file (NewPlugin panics)")
        return go_zero(kind)

    def _struct(self, node: yaml.MappingNode, kind: GoStruct, where: str) -> dict[str, Any]:
        known = dict(kind.fields)
        prefix = f"{where}." if where else ""
        given: dict[str, yaml.Node] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            if name not in known:
                continue  # Go drops keys its struct lacks
            if name in given:  # yaml.v3 keeps the first and fails the decode
                self.notes.append(f"meta: plugin.yaml {prefix}{name} is given twice; the SDK cannot load this "
                                  "file (NewPlugin panics)")
                continue
            given[name] = value
        decoded = {name: self.decode(given.get(name), field, prefix + name) for name, field in kind.fields}
        return {name: value for name, value in decoded.items()
                if value is not None or not isinstance(known[name], GoPointer)}


def meta_from_yaml(text: str, plugin_id: str) -> tuple[dict[str, Any], list[str]]:
    """plugin.yaml's text as the IDE's `meta`, and notes on what the SDK would refuse."""
    try:
        # yaml.v3's Decoder reads the first document only; composing keeps every scalar's text as written
        root = next(yaml.compose_all(text, Loader=BoundedSafeLoader), None)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = f" at line {mark.line + 1}" if mark else ""
        return empty_meta(plugin_id), [f"meta: plugin.yaml is not valid YAML{line} ({reason}); only the id is shown"]
    except RecursionError:
        return empty_meta(plugin_id), ["meta: plugin.yaml is nested too deeply; only the id is shown"]
    if not isinstance(root, yaml.MappingNode):
        return empty_meta(plugin_id), ["meta: plugin.yaml is not a mapping of fields (id, version, name, ...); "
                                       "only the id is shown"]
    decoder = _MetaDecoder()
    meta: dict[str, Any] = decoder.decode(root, PLUGIN_META, "")
    return meta, decoder.notes


async def read_meta(path: Path, plugin_id: str) -> tuple[dict[str, Any], list[str]]:
    """`meta` from the plugin.yaml at `path` (read off the event loop); never raises for a bad file."""
    try:
        text = (await asyncio.to_thread(read_bounded, path, MANIFEST_LIMIT, follow_symlinks=True)).decode("utf-8")
    except UnreadableFile as exc:
        return empty_meta(plugin_id), [f"meta: {path} {'is missing' if exc.missing else exc.reason}; "
                                       "only the id is shown"]
    except UnicodeDecodeError as exc:
        return empty_meta(plugin_id), [f"meta: {path} {not_utf8(exc)}; only the id is shown"]
    return meta_from_yaml(text, plugin_id)


# -- settings: ListSettings on the plugin process ----------------------------------------------------------------

def _message(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise ValueError("a number where a message belongs")
    return value


def _unpack_json(packed: bytes) -> Any:
    """A google.protobuf.Any packing a BytesValue of JSON (the SDK's ConvertInterfaceToAny) -> the value."""
    fields = proto_fields(packed)
    type_url = _message(fields.get(1, b"")).decode()
    if type_url != _BYTES_VALUE:
        raise ValueError(f"a value packed as {type_url or 'nothing'!r}, not as a BytesValue")
    data = _message(proto_fields(_message(fields.get(2, b""))).get(1, b""))
    return json.loads(data) if data else None


def decode_settings(response: bytes) -> dict[str, Any]:
    """ListSettingsResponse -> {setting id: its value, else its default}; ValueError when malformed."""
    settings: dict[str, Any] = {}
    for number, entry in proto_records(response):
        if number != 1:
            continue
        pair = proto_fields(_message(entry))  # a map entry: key = 1, value = 2
        setting = proto_fields(_message(pair.get(2, b"")))
        packed = setting.get(_SETTING_VALUE, setting.get(_SETTING_DEFAULT))
        settings[_message(pair.get(1, b"")).decode()] = None if packed is None else _unpack_json(_message(packed))
    return dict(sorted(settings.items()))


async def read_settings(process: BackendProcess, timeout: float = SETTINGS_TIMEOUT) -> tuple[dict[str, Any], str]:
    """The setting values the process serves, and "" — or {} and a note saying why not."""
    import grpc
    import grpc.aio

    target = f"unix:{process.address}" if process.network == "unix" else process.address
    async with grpc.aio.insecure_channel(target) as channel:
        list_settings = channel.unary_unary(LIST_SETTINGS)  # no serializers: the bytes as they are
        try:
            response = await list_settings(b"", timeout=timeout)  # google.protobuf.Empty encodes as no bytes
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                return {}, ("settings: none: the plugin serves no omniview.sdk.settings.v1.SettingsPlugin (an SDK "
                            "before v0.5.0, or none), so the IDE gets none from it either")
            details = (exc.details() or "").strip()
            details = f" ({shorten(details, 160)})" if details else ""
            return {}, (f"settings: none: ListSettings on pid {process.pid} failed: {exc.code().name}{details}; "
                        "the IDE would pass the values the backend declares")
    try:
        return decode_settings(response), ""
    except ValueError as exc:
        return {}, f"settings: none: ListSettings answered something unreadable ({exc})"


async def _settings_of(state: DevState, has_backend: bool) -> tuple[dict[str, Any], str]:
    if not has_backend:
        return {}, "settings: none: a UI-only plugin has no backend to declare any (the IDE passes {} too)"
    if state.process is None:
        return {}, (f"settings: none yet: no backend process serves (goStatus {state.goStatus}); the IDE would "
                    "pass the values the backend declares: ask again once it is ready")
    return await read_settings(state.process)


# -- the whole context -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PluginContext:
    plugin_id: str
    meta: dict[str, Any]
    settings: dict[str, Any]
    notes: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"pluginId": self.plugin_id, "meta": self.meta, "settings": self.settings, "notes": self.notes}


async def plugin_context(api: Api, plugin_id: str) -> PluginContext:
    """The context of a plugin the API lists (managed, else external); UnknownPlugin (404) for any other id."""
    api.state(plugin_id)  # raises the API's one-line UnknownPlugin
    if plugin_id in api.manager.ids():
        session = api.manager.session(plugin_id)
        (meta, notes), (settings, settings_note) = await asyncio.gather(
            read_meta(session.plugin_dir / "plugin.yaml", plugin_id),
            _settings_of(session.state, session.manifest.has_backend))
    else:
        assert api.external is not None  # api.state found the id: the external monitor lists it
        state = api.external.states()[plugin_id]
        meta = empty_meta(plugin_id, state.process.version if state.process else "")
        notes = ["meta: an external plugin (run outside this plugindev: no folder here) shows only the id and "
                 "version of its .devinfo; the IDE reads the rest from its plugin.yaml"]
        settings, settings_note = await _settings_of(state, has_backend=True)
    return PluginContext(plugin_id, meta, settings, [*notes, settings_note] if settings_note else notes)
