"""The JSON Schema of plugin.yaml, derived from manifest_fields (what `validate` checks), for editors that check
plugin.yaml while it is typed (yaml-language-server: VS Code's YAML extension, Neovim, Helix, ...).

plugindev ships it beside this module (`plugindev schema --path`). A scaffold writes a copy into the plugin, as
`plugin.schema.json` beside plugin.yaml, and names it in plugin.yaml's first line: yaml-language-server resolves a
relative `$schema` from the YAML file's folder, so the reference holds in every clone of the plugin (the copy is
committed with it), on every machine, whichever way plugindev is installed; a path into plugindev's own install
would hold on one machine only, and a URL only with a network. `plugindev schema --write` brings the copy up to
date.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orchestrator.authoring.manifest import MANIFEST_LIMIT
from orchestrator.authoring.manifest_fields import MANIFEST, Field, Kind, Shape
from orchestrator.authoring.render import FileSpec, Outcome, apply, plan
from orchestrator.common.files import UnreadableFile, read_bounded

SHIPPED = Path(__file__).with_name("plugin.schema.json")  # inside the package: the wheel carries it
IN_PLUGIN = "plugin.schema.json"  # the copy in a plugin, beside its plugin.yaml
MODELINE = f"# yaml-language-server: $schema={IN_PLUGIN}"
# yaml-language-server supports "JSON Schema 7 and below"
DRAFT = "http://json-schema.org/draft-07/schema#"
_TYPES = {Kind.TEXT: "string", Kind.INTEGER: "integer", Kind.LIST: "array", Kind.MAPPING: "object"}


def json_schema() -> dict[str, Any]:
    return {"$schema": DRAFT, "title": "plugin.yaml",
            "description": "The manifest of an Omniview plugin, as `plugindev validate` checks it.",
            **_shape(Shape(Kind.MAPPING, fields=MANIFEST))}


def schema_text() -> str:
    """The schema as plugindev ships and writes it."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def write_into_plugin(plugin_dir: Path) -> Outcome:
    """The plugin's copy brought up to date (created, overwritten or left identical)."""
    files = {IN_PLUGIN: FileSpec(schema_text().encode())}
    outcomes = plan(plugin_dir, files, force=True)
    apply(plugin_dir, files, outcomes)
    return outcomes[0]


def names_a_schema(plugin_yaml: Path) -> bool:
    """Whether plugin.yaml has a `yaml-language-server: $schema=` line (anywhere, as the server looks for one)."""
    try:
        text = read_bounded(plugin_yaml, MANIFEST_LIMIT, follow_symlinks=True).decode("utf-8", errors="replace")
    except UnreadableFile:
        return False
    return any(line.lstrip().startswith("#") and "yaml-language-server:" in line and "$schema=" in line
               for line in text.splitlines())


def _shape(shape: Shape) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": _TYPES[shape.kind]}
    if shape.pattern is not None:
        # anchored for ECMA-262 (editors) and Python's re.search (the jsonschema package) alike: Python's `$` also
        # matches before a final newline, which the lookahead refuses
        schema["pattern"] = f"^(?:{shape.pattern.pattern})$(?!\\n)"
        schema["patternErrorMessage"] = f"Must be {shape.meaning}."  # yaml-language-server says it for the pattern
    if shape.choices:
        schema["enum"] = list(shape.choices)
    if shape.example:
        schema["examples"] = [shape.example]
    if shape.item is not None:
        schema["items"] = _shape(shape.item)
    if shape.fields:
        schema["properties"] = {field.key: _field(field) for field in shape.fields}
        if required := [field.key for field in shape.fields if field.required]:
            schema["required"] = required
    return schema


def _field(field: Field) -> dict[str, Any]:
    schema = {"description": field.description, **_shape(field.shape)}
    if not field.required:  # an optional field may be null: the SDK reads Go's zero value
        schema["type"] = [schema["type"], "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    elif field.shape.kind is Kind.TEXT:
        schema["minLength"] = 1
    elif field.shape.kind is Kind.LIST:
        schema["minItems"] = 1
    return schema
