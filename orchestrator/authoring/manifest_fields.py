"""What plugin.yaml holds, written once as data: `validate` checks a manifest against it (`check_fields`) and the
JSON Schema that editors check it with while typing is derived from it (manifest_schema), so the two agree.

The shapes are the SDK's Go type `config.PluginMeta` (pkg/config/meta.go, the same in v0.1.1 and v0.5.0), which
yaml.v3 reads plugin.yaml into, with what plugindev itself relies on on top: an id that can be a folder name, a
semantic version, a name, known capabilities. Keys that are not listed are kept, never rejected: the SDK and the
IDE read more than plugindev does.
"""

from __future__ import annotations

import datetime
import difflib
import enum
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from orchestrator.common.errors import shown

UI_CAPABILITY = "ui"
BACKEND_CAPABILITIES = ("resource", "exec", "networker", "log", "metric", "settings")
CAPABILITIES = (UI_CAPABILITY, *BACKEND_CAPABILITIES)


class Kind(enum.Enum):
    TEXT = "a string"
    INTEGER = "an integer"
    LIST = "a list"
    MAPPING = "a mapping"


@dataclass(frozen=True)
class Shape:
    """What one value must be: its kind and, for text, lists and mappings, what is inside."""

    kind: Kind
    # text: what the whole value matches (fullmatch); written so that ECMA-262, the schema's dialect, reads it alike
    pattern: re.Pattern[str] | None = None
    meaning: str = ""  # text with a pattern or choices: what a value is ("a semantic version like '1.2.3'")
    choices: tuple[str, ...] = ()  # text: the values allowed
    example: str = ""  # text: a good value, suggested where one is missing
    item: Shape | None = None  # list: what each element is
    fields: tuple[Field, ...] = ()  # mapping: the keys plugindev knows (others are kept, unchecked)


@dataclass(frozen=True)
class Field:
    key: str
    shape: Shape
    description: str  # what an editor shows for the key
    required: bool = False  # present, not null, not empty
    missing: str = ""  # a required field: what to say when it is not there (default: add the example)


TEXT = Shape(Kind.TEXT)
INTEGER = Shape(Kind.INTEGER)
TEXTS = Shape(Kind.LIST, item=TEXT)


def _mapping(*fields: tuple[str, Shape, str]) -> Shape:
    return Shape(Kind.MAPPING, fields=tuple(Field(key, shape, description) for key, shape, description in fields))


# Both are used with fullmatch: `$` would accept a trailing newline (`id: "abc\n"`, a folder `abc\n`).
PLUGIN_ID = Shape(Kind.TEXT, re.compile(r"[a-z0-9][a-z0-9._-]{0,63}"), example="hello-plugin",
                  meaning="a valid plugin id; use 1-64 lowercase letters, digits, '.', '_' or '-', starting with a "
                          "letter or digit (e.g. 'hello-plugin')")
SEMVER = Shape(Kind.TEXT, re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"), meaning="a semantic version like '1.2.3'", example="0.1.0")
CAPABILITY = Shape(Kind.TEXT, choices=CAPABILITIES, meaning="capability")
AUTHOR = _mapping(("name", TEXT, "The author's name."), ("email", TEXT, "The author's e-mail address."),
                  ("url", TEXT, "The author's website."))
MAINTAINER = _mapping(("name", TEXT, "The maintainer's name."), ("email", TEXT, "The maintainer's e-mail address."))
COLOURS = _mapping(("primary", TEXT, "The primary colour, e.g. '#326CE5'."),
                   ("secondary", TEXT, "The secondary colour."), ("tertiary", TEXT, "The tertiary colour."))
RESOURCE_COMPONENT = _mapping(
    ("name", TEXT, "The component's name."), ("plugin", TEXT, "The plugin that provides it."),
    ("area", TEXT, "Where it is shown: EDITOR or SIDEBAR."), ("resources", TEXTS, "The resources it shows."),
    ("extension", TEXT, "The extension point it plugs into."))

MANIFEST: tuple[Field, ...] = (
    Field("id", PLUGIN_ID, "The plugin's id: its folder name under the state root and go-plugin's magic cookie; "
                           "must equal sdk.PluginOpts{ID} in pkg/main.go.", required=True),
    Field("version", SEMVER, "The plugin's semantic version, e.g. 0.1.0.", required=True),
    Field("name", Shape(Kind.TEXT, example="Hello Plugin"), "The name Omniview shows.", required=True),
    Field("icon", TEXT, "An icon name from react-icons, e.g. LuBox."),
    Field("icon_url", TEXT, "The URL of an icon image."),
    Field("description", TEXT, "One line on what the plugin does."),
    Field("repository", TEXT, "Where the source lives."),
    Field("website", TEXT, "The plugin's website."),
    Field("category", TEXT, "The plugin's category, e.g. cloud."),
    Field("license", TEXT, "An SPDX license id, e.g. Apache-2.0."),
    Field("author", AUTHOR, "Who wrote the plugin."),
    Field("maintainers", Shape(Kind.LIST, item=MAINTAINER), "Who maintains the plugin."),
    Field("tags", TEXTS, "Words to find the plugin by."),
    Field("dependencies", TEXTS, "The ids of plugins this one needs."),
    Field("capabilities", Shape(Kind.LIST, item=CAPABILITY),
          "What the plugin provides: ui (a React UI) and the backend capabilities resource, exec, networker, log, "
          "metric and settings (a Go backend).",
          required=True, missing=f"none listed; a plugin needs at least one of {', '.join(CAPABILITIES)}"),
    Field("theme", _mapping(("colors", COLOURS, "The plugin's colours.")), "How Omniview shows the plugin."),
    Field("components", _mapping(("resource", Shape(Kind.LIST, item=RESOURCE_COMPONENT), "Components for resources.")),
          "UI components the plugin adds to other plugins' views."),
    Field("schema_version", INTEGER, "The manifest's schema version (the SDK reads an integer)."),
    Field("sdk_protocol_version", INTEGER, "The SDK protocol version (the SDK reads an integer)."),
)


def suggest_choice(value: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(value[:80], choices, n=1)  # a long value matches none, at a long cost
    return f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(choices)}"


def check_fields(data: Mapping[object, object], fields: tuple[Field, ...],
                 where: str = "") -> Iterator[tuple[str, str]]:
    """(field, message) for every way `data` does not hold `fields`; a field is named as `author.name`, `tags[2]`."""
    for field in fields:
        at = f"{where}.{field.key}" if where else field.key
        value = data.get(field.key)
        if field.required and _empty(value, field.shape):
            add = f"add e.g. '{field.key}: {field.shape.example}'"
            yield at, field.missing or (f"is empty; {add}" if field.key in data else f"missing; {add}")
        elif value is not None:  # an optional field may be null: the SDK reads Go's zero value
            yield from _check(value, field.shape, at)


def _check(value: object, shape: Shape, where: str) -> Iterator[tuple[str, str]]:
    if shape.kind is Kind.TEXT:
        yield from _check_text(value, shape, where)
    elif shape.kind is Kind.INTEGER:
        if not _is_integer(value):
            unquote = "; write it without quotes" if isinstance(value, str) and re.fullmatch(r"[-+]?\d+", value) else ""
            yield where, f"{_got(value, shape)}{unquote}"
    elif shape.kind is Kind.LIST:
        if not isinstance(value, list):
            yield where, _got(value, shape)
        elif shape.item is not None:
            for index, item in enumerate(value):
                yield from _check(item, shape.item, f"{where}[{index}]")
    elif not isinstance(value, dict):
        yield where, _got(value, shape)
    else:
        yield from check_fields(value, shape.fields, where)


def _check_text(value: object, shape: Shape, where: str) -> Iterator[tuple[str, str]]:
    if not isinstance(value, str | int | float | datetime.date):  # a list or a mapping
        yield where, _got(value, shape)
        return
    text = value if isinstance(value, str) else str(value)  # a YAML number, true/false or date, were it quoted
    if shape.pattern is not None and not shape.pattern.fullmatch(text):
        yield where, f"{shown(value)} is not {shape.meaning}"
    elif shape.choices and text not in shape.choices:
        yield where, f"unknown {shape.meaning} {shown(value)}{suggest_choice(text, shape.choices)}"
    elif not isinstance(value, str):  # only when quoting is the whole fix
        yield where, f"{_got(value, shape)}; quote it in YAML"


def _empty(value: object, shape: Shape) -> bool:
    return value is None or (shape.kind is Kind.TEXT and value == "") or (shape.kind is Kind.LIST and value == [])


def _is_integer(value: object) -> bool:
    """JSON Schema's integer, which yaml.v3 also stores in a Go int: a whole number, not true or false."""
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())


def _got(value: object, shape: Shape) -> str:
    like = f" like {shape.example!r}" if shape.example else ""
    return f"must be {shape.kind.value}{like}, got {shown(value)} ({type(value).__name__})"


def value_problem(value: object, shape: Shape) -> str | None:
    """The first way `value` is not `shape`, or None when it is."""
    return next((message for _, message in _check(value, shape, "")), None)
