"""plugin.yaml: the fields plugindev relies on, checked with messages that name file and field.

Unknown keys are kept, never rejected: the SDK and the IDE read more than plugindev does.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from orchestrator.common.bounded_yaml import load_bounded
from orchestrator.common.errors import PlugindevError, shown
from orchestrator.common.files import UnreadableFile, not_utf8, read_bounded

# Both are used with fullmatch: `$` would accept a trailing newline (`id: "abc\n"`, a folder `abc\n`).
PLUGIN_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
MANIFEST_LIMIT = 256 << 10  # bytes; a plugin.yaml has a few hundred
UI_CAPABILITY = "ui"
BACKEND_CAPABILITIES = ("resource", "exec", "networker", "log", "metric", "settings")
CAPABILITIES = (UI_CAPABILITY, *BACKEND_CAPABILITIES)

# Optional fields and the YAML type each must have when present.
_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "name": str, "icon": str, "icon_url": str, "description": str, "repository": str, "website": str,
    "category": str, "license": str, "author": dict, "maintainers": list, "tags": list, "dependencies": list,
    "capabilities": list, "theme": dict, "components": dict, "schema_version": (int, str),
    "sdk_protocol_version": (int, str),
}
_TYPE_WORDS = {str: "a string", dict: "a mapping", list: "a list", (int, str): "a number or string"}


@dataclass(frozen=True)
class Problem:
    file: str  # relative to the plugin directory
    field: str  # the field or element concerned ("" for the file as a whole)
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class PluginManifest:
    id: str
    version: str
    name: str
    capabilities: tuple[str, ...]

    @property
    def has_ui(self) -> bool:
        return UI_CAPABILITY in self.capabilities

    @property
    def has_backend(self) -> bool:
        return any(c in BACKEND_CAPABILITIES for c in self.capabilities)


def check_plugin_id(value: object) -> str | None:
    """Why `value` cannot be a plugin id (it becomes a directory name), or None when it can."""
    if value is None or value == "":
        return "is empty; use lowercase letters, digits, '.', '_' or '-' (e.g. 'hello-plugin')"
    if not isinstance(value, str):
        return f"must be a string like 'hello-plugin', got {shown(value)} ({type(value).__name__}); quote it in YAML"
    if not PLUGIN_ID.fullmatch(value):
        return (f"{shown(value)} is not a valid plugin id; use 1-64 lowercase letters, digits, '.', '_' or '-', "
                "starting with a letter or digit (e.g. 'hello-plugin')")
    return None


def suggest_capability(name: str) -> str:
    close = difflib.get_close_matches(name[:80], CAPABILITIES, n=1)  # a long name matches none, at a long cost
    return f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(CAPABILITIES)}"


def read_manifest(path: Path) -> tuple[PluginManifest | None, list[Problem]]:
    """Parse and check plugin.yaml; the manifest is None when the file cannot be used at all."""
    name = path.name
    try:
        data = load_bounded(read_bounded(path, MANIFEST_LIMIT, follow_symlinks=True).decode("utf-8"))
    except UnreadableFile as exc:
        if exc.missing:
            return None, [Problem(name, "", "missing; every plugin needs a plugin.yaml with id, version and name")]
        return None, [Problem(name, "", exc.reason)]
    except UnicodeDecodeError as exc:
        return None, [Problem(name, "", not_utf8(exc))]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]  # a reader error spans two lines
        return None, [Problem(name, "", f"invalid YAML{line}: {reason}")]
    except ValueError as exc:  # PyYAML builds some values itself: `2020-13-45` as a date, `!!float x`
        return None, [Problem(name, "", f"invalid YAML value: {exc}; quote it to make it a string")]
    except RecursionError:
        return None, [Problem(name, "", "invalid YAML: nested too deeply")]
    if not isinstance(data, dict):
        return None, [Problem(name, "", "must be a mapping of fields (id, version, name, capabilities, ...)")]

    problems: list[Problem] = []
    plugin_id = data.get("id")
    if "id" not in data:
        problems.append(Problem(name, "id", "missing; add e.g. 'id: hello-plugin'"))
    elif (reason := check_plugin_id(plugin_id)) is not None:
        problems.append(Problem(name, "id", reason))
    version = data.get("version")
    if "version" not in data:
        problems.append(Problem(name, "version", "missing; add e.g. 'version: 0.1.0'"))
    elif not isinstance(version, str) or not SEMVER.fullmatch(version):
        problems.append(Problem(name, "version", f"{shown(version)} is not a semantic version like '1.2.3' "
                                                 "(quote it)"))
    for key, expected in _FIELD_TYPES.items():
        if key in data and data[key] is not None and not isinstance(data[key], expected):
            problems.append(Problem(name, key, f"must be {_TYPE_WORDS[expected]}, got {type(data[key]).__name__}"))

    capabilities: list[str] = []
    raw_capabilities = data.get("capabilities")
    if isinstance(raw_capabilities, list):
        for i, capability in enumerate(raw_capabilities):
            if capability in CAPABILITIES:
                capabilities.append(capability)
            else:
                hint = suggest_capability(capability) if isinstance(capability, str) else ""
                problems.append(Problem(name, f"capabilities[{i}]", f"unknown capability {shown(capability)}{hint}"))
    if not raw_capabilities:
        problems.append(Problem(name, "capabilities", f"none listed; a plugin needs at least one of "
                                                      f"{', '.join(CAPABILITIES)}"))
    display_name = data.get("name")
    manifest = PluginManifest(
        id=plugin_id if isinstance(plugin_id, str) else "",
        version=version if isinstance(version, str) else "",
        name=display_name if isinstance(display_name, str) and display_name else str(plugin_id or ""),
        capabilities=tuple(capabilities),
    )
    return manifest, problems


def problems_error(plugin_dir: Path, problems: list[Problem]) -> PlugindevError:
    """One line for a plugin that cannot be used: its first problem, and how many more there are."""
    first = problems[0]
    more = f" (and {len(problems) - 1} more; run `plugindev validate {plugin_dir}`)" if len(problems) > 1 else ""
    return PlugindevError(f"{plugin_dir / first.file}: {first.field + ': ' if first.field else ''}"
                          f"{first.message}{more}")


def load_plugin_manifest(plugin_dir: Path) -> PluginManifest:
    """The manifest of a plugin that must be usable, or a one-line error naming the first problem."""
    manifest, problems = read_manifest(plugin_dir / "plugin.yaml")
    if problems or manifest is None:
        raise problems_error(plugin_dir, problems or [Problem("plugin.yaml", "", "unusable")])
    return manifest
