"""plugin.yaml read and checked against its fields (manifest_fields), with messages that name file and field.

PyYAML is imported on the first read, not with this module: `plugindev --help` imports it and stays light.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orchestrator.authoring.manifest_fields import (
    BACKEND_CAPABILITIES,
    CAPABILITIES,
    MANIFEST,
    PLUGIN_ID,
    UI_CAPABILITY,
    check_fields,
    value_problem,
)
from orchestrator.common.errors import PlugindevError
from orchestrator.common.files import UnreadableFile, not_utf8, read_bounded

MANIFEST_LIMIT = 256 << 10  # bytes; a plugin.yaml has a few hundred


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
    if value == "":  # as `--id ''` gives it
        return f"is empty; give one like {PLUGIN_ID.example!r}"
    return value_problem(value, PLUGIN_ID)


def read_manifest(path: Path) -> tuple[PluginManifest | None, list[Problem]]:
    """Parse and check plugin.yaml; the manifest is None when the file cannot be used at all."""
    import yaml

    from orchestrator.common.bounded_yaml import load_bounded

    name = path.name
    try:
        data = load_bounded(read_bounded(path, MANIFEST_LIMIT, follow_symlinks=True).decode("utf-8"))
    except UnreadableFile as exc:
        if exc.missing:
            return None, [Problem(name, "", "missing; every plugin needs a plugin.yaml with id, version, name and "
                                            "capabilities")]
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

    problems = [Problem(name, field, message) for field, message in check_fields(data, MANIFEST)]
    plugin_id, version = data.get("id"), data.get("version")
    raw_capabilities = data.get("capabilities")
    capabilities = [c for c in raw_capabilities if c in CAPABILITIES] if isinstance(raw_capabilities, list) else []
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
