"""`GET /web/plugin-context/<id>`: the `usePluginContext()` data the IDE gives a plugin's UI. `meta` is plugin.yaml
as the SDK's Go `PluginMeta` encodes it (checked field by field, and against the real SDK's own Go encoding);
`settings` are the values a real SDK v0.5.0 plugin declares, read over its gRPC settings service."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from api_support import ApiClient
from conftest import plugindev
from go_support import copy_fixture
from google.protobuf import any_pb2, wrappers_pb2
from run_support import run_env, running

from orchestrator.authoring.manifest import MANIFEST_LIMIT
from orchestrator.go.toolchain import find_go
from orchestrator.web.plugin_context import decode_settings, meta_from_yaml, read_meta

START = 400.0  # a cold build of a scaffolded plugin (the SDK and its dependencies) on a busy 2-core machine

FULL_YAML = """\
id: full-plugin
version: 1.2.3
name: Full Plugin
icon: LuBox
icon_url: https://example.com/icon.png
description: Every field of plugin.yaml
repository: https://github.com/example/full-plugin
website: https://example.com
category: devops
license: MIT
author:
  name: Ann Author
  email: ann@example.com
  url: https://ann.example.com
maintainers:
  - name: Max
    email: max@example.com
tags: [kubernetes, cloud]
dependencies: [other-plugin]
capabilities: [ui, resource, settings]
theme:
  colors:
    primary: "#112233"
    secondary: "#445566"
    tertiary: "#778899"
components:
  resource:
    - name: PodSidebar
      plugin: full-plugin
      area: SIDEBAR
      resources: ["core::v1::Pod"]
      extension: sidebar
schema_version: 2
sdk_protocol_version: 1
homepage: unknown keys are dropped, as Go drops them
"""

FULL_META: dict[str, Any] = {
    "id": "full-plugin", "version": "1.2.3", "name": "Full Plugin", "icon": "LuBox",
    "icon_url": "https://example.com/icon.png", "description": "Every field of plugin.yaml",
    "repository": "https://github.com/example/full-plugin", "website": "https://example.com", "category": "devops",
    "license": "MIT", "author": {"name": "Ann Author", "email": "ann@example.com", "url": "https://ann.example.com"},
    "maintainers": [{"name": "Max", "email": "max@example.com"}], "tags": ["kubernetes", "cloud"],
    "dependencies": ["other-plugin"], "capabilities": ["ui", "resource", "settings"],
    "theme": {"colors": {"primary": "#112233", "secondary": "#445566", "tertiary": "#778899"}},
    "components": {"resource": [{"name": "PodSidebar", "plugin": "full-plugin", "area": "SIDEBAR",
                                 "resources": ["core::v1::Pod"], "extension": "sidebar"}]},
    "schema_version": 2, "sdk_protocol_version": 1,
}

MINIMAL_YAML = "id: tiny\nversion: 0.1.0\ncapabilities: [ui]\n"

MINIMAL_META: dict[str, Any] = {
    "id": "tiny", "version": "0.1.0", "name": "", "icon": "", "icon_url": "", "description": "", "repository": "",
    "website": "", "category": "", "license": "", "maintainers": None, "tags": None, "dependencies": None,
    "capabilities": ["ui"], "theme": {"colors": {"primary": "", "secondary": "", "tertiary": ""}},
    "components": {"resource": None}, "schema_version": 0, "sdk_protocol_version": 0,
}

# what yaml.v3 reads differently from a YAML 1.1 loader: text kept as written, Go's integer forms, nulls dropped
# from lists, an empty list that is not nil, a second document ignored
TRICKY_YAML = """\
id: tricky
version: 1.10
name: yes
icon: ~
icon_url: 'null'
description: |
  Two lines
  of text.
repository: 0x1F
website: 2020-01-01
license: 1e3
author: {}
maintainers: [{name: A}, ~, {email: b@example.com}]
tags: []
dependencies:
capabilities: [ui, ~, settings]
schema_version: 0o17
sdk_protocol_version: 1_000
---
id: second-document
"""


def _in_order(value: Any) -> str:
    """JSON with the keys in the order written: Go writes a struct's fields in declaration order."""
    return json.dumps(value, indent=1)


def test_a_full_plugin_yaml_is_the_sdks_plugin_meta_field_by_field() -> None:
    meta, notes = meta_from_yaml(FULL_YAML, "full-plugin")
    assert _in_order(meta) == _in_order(FULL_META) and notes == []


def test_a_minimal_plugin_yaml_gets_gos_zero_values() -> None:
    meta, notes = meta_from_yaml(MINIMAL_YAML, "tiny")
    assert _in_order(meta) == _in_order(MINIMAL_META) and notes == []


def test_what_the_sdk_cannot_load_is_one_note_a_problem_never_an_exception() -> None:
    meta, notes = meta_from_yaml('id: t\nschema_version: "2"\ntags: x\nauthor: bob\n', "t")
    assert meta["schema_version"] == 0 and meta["tags"] is None and meta["id"] == "t"
    assert [note.split(" where")[0] for note in notes] == [
        'meta: plugin.yaml author: "bob"', 'meta: plugin.yaml tags: "x"', 'meta: plugin.yaml schema_version: "2"']
    assert all("NewPlugin panics" in note for note in notes)
    assert meta_from_yaml("id: a\nname: a\nname: b\n", "a")[1] == [
        "meta: plugin.yaml name is given twice; the SDK cannot load this file (NewPlugin panics)"]
    for text, why in [("id: [unclosed\n", "is not valid YAML at line 2"), ("- a list\n", "is not a mapping"),
                      ("", "is not a mapping")]:
        meta, notes = meta_from_yaml(text, "the-id")
        assert meta == MINIMAL_META | {"id": "the-id", "version": "", "capabilities": None}
        assert len(notes) == 1 and why in notes[0] and notes[0].endswith("only the id is shown"), notes


def test_plugin_yaml_is_read_bounded_and_only_from_a_regular_file(tmp_path: Path) -> None:
    cases = {"missing": "is missing", "folder": "is a folder, not a regular file",
             "fifo": "is a named pipe (FIFO), not a regular file",
             "large": f"is {MANIFEST_LIMIT + 1} bytes, more than the 256 KiB",
             "latin1": "is not UTF-8 text (byte 0xe9 at offset 10); save it with UTF-8"}
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "fifo")  # opening it must not block on a writer that never comes
    (tmp_path / "large").write_bytes(b"#" * (MANIFEST_LIMIT + 1))
    (tmp_path / "latin1").write_bytes("name: Andr\u00e9\n".encode("latin-1"))
    empty = MINIMAL_META | {"id": "p", "version": "", "capabilities": None}
    for name, why in cases.items():
        meta, notes = asyncio.run(asyncio.wait_for(read_meta(tmp_path / name, "p"), 10))
        assert meta == empty and len(notes) == 1, notes
        assert notes[0].startswith(f"meta: {tmp_path / name} {why}") and notes[0].endswith("only the id is shown")
    (tmp_path / "plugin.yaml").write_text(FULL_YAML)
    assert asyncio.run(read_meta(tmp_path / "plugin.yaml", "full-plugin")) == (FULL_META, [])


def _varint(value: int) -> bytes:
    encoded = bytearray()
    while value >= 0x80:
        encoded.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes(encoded) + bytes([value])


def _message(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _packed(value: object) -> bytes:
    """A google.protobuf.Any packing a BytesValue of the value's JSON, as the SDK's ConvertInterfaceToAny does."""
    packed = any_pb2.Any()
    packed.Pack(wrappers_pb2.BytesValue(value=json.dumps(value).encode()))
    return packed.SerializeToString()


def _entry(setting_id: str, setting: bytes) -> bytes:
    """One entry of ListSettingsResponse's `map<string, Setting> settings = 1`."""
    return _message(1, _message(1, setting_id.encode()) + _message(2, setting))


def test_settings_decode_each_value_else_its_default() -> None:
    response = (
        _entry("theme", _message(1, b"theme") + _message(5, _packed("dark")) + _message(6, _packed("light")))
        + _entry("limit", _message(1, b"limit") + _message(6, _packed(50)))  # no value: the default
        + _entry("flags", _message(5, _packed(["a", "b"])))
        + _entry("unset", _message(1, b"unset")))
    assert decode_settings(response) == {"flags": ["a", "b"], "limit": 50, "theme": "dark", "unset": None}
    assert decode_settings(b"") == {}
    not_bytes = any_pb2.Any(type_url="type.googleapis.com/google.protobuf.StringValue").SerializeToString()
    for malformed in [b"\x0a\x05ab", _entry("x", _message(5, not_bytes)), _entry("x", _message(5, b"\x12\x01{"))]:
        with pytest.raises(ValueError):
            decode_settings(malformed)


# -- with the real SDK ------------------------------------------------------------------------------------------

META_JSON_GO = """\
// Prints plugin.yaml files as the SDK's config.PluginMeta, encoded by encoding/json (one line each).
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/omniviewdev/plugin-sdk/pkg/config"
)

func main() {
	for _, path := range os.Args[1:] {
		file, err := os.Open(path)
		if err != nil {
			panic(err)
		}
		meta := config.PluginMeta{}
		if err := meta.Load(file); err != nil {
			panic(err)
		}
		line, _ := json.Marshal(meta)
		fmt.Println(string(line))
	}
}
"""

SETTINGS_GO = """\
	plugin := sdk.NewPlugin(sdk.PluginOpts{ID: "ctx-plugin", Settings: []pkgsettings.Setting{
		{ID: "greeting", Label: "Greeting", Type: pkgsettings.Text, Default: "hello"},
		{ID: "page_size", Label: "Page size", Type: pkgsettings.Integer, Default: 25},
	}})
"""


def _scaffold(tmp_path: Path) -> Path:
    plugin = tmp_path / "ctx-plugin"
    result = plugindev("scaffold", str(plugin), "--id", "ctx-plugin", "--name", "Context", "--template", "full")
    assert result.returncode == 0, result.stderr
    return plugin


@pytest.mark.integration
def test_the_sdks_own_go_encoding_gives_the_same_meta(tmp_path: Path) -> None:
    plugin = _scaffold(tmp_path)  # a module that requires the SDK v0.5.0, with its go.sum
    (plugin / "metajson").mkdir()
    (plugin / "metajson" / "main.go").write_text(META_JSON_GO)
    texts = {"full": FULL_YAML, "minimal": MINIMAL_YAML, "tricky": TRICKY_YAML}
    for name, text in texts.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    result = subprocess.run([find_go(), "run", "./metajson", *(str(tmp_path / f"{n}.yaml") for n in texts)],
                            cwd=plugin, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    for (name, text), go_line in zip(texts.items(), result.stdout.splitlines(), strict=True):
        meta, notes = meta_from_yaml(text, name)
        assert _in_order(meta) == _in_order(json.loads(go_line)) and notes == [], name


@pytest.mark.integration
def test_a_real_plugins_context_has_its_meta_and_declared_settings(tmp_path: Path) -> None:
    plugin = _scaffold(tmp_path)
    main_go = plugin / "pkg" / "main.go"
    source = main_go.read_text()
    opts = '\tplugin := sdk.NewPlugin(sdk.PluginOpts{ID: "ctx-plugin"})\n'
    sdk_import = 'import "github.com/omniviewdev/plugin-sdk/pkg/sdk"\n'
    assert opts in source and sdk_import in source, source
    main_go.write_text(source.replace(opts, SETTINGS_GO).replace(sdk_import, (
        'import (\n\t"github.com/omniviewdev/plugin-sdk/pkg/sdk"\n'
        '\tpkgsettings "github.com/omniviewdev/plugin-sdk/settings"\n)\n')))
    with (plugin / "plugin.yaml").open("a") as manifest:
        manifest.write("tags: [demo]\nauthor:\n  name: Ann\ntheme:\n  colors:\n    primary: '#123456'\n")
    fixture = copy_fixture(tmp_path / "testplugin")  # go-plugin without the Omniview SDK: no settings service
    state_root = tmp_path / "state"
    env = run_env(state_root)
    with running(["--no-vite"], env, command="serve"):
        api = ApiClient.wait_for(state_root)
        for folder in (plugin, fixture):
            assert api.call("POST", "/api/plugins", {"path": str(folder)})[0] == 201
        for plugin_id in ("ctx-plugin", "testplugin"):
            api.wait_state(plugin_id, lambda s: s["goStatus"] == "ready" and s["grpcConnected"], START,
                           f"{plugin_id} serving")

        context = api.get("/web/plugin-context/ctx-plugin")
        assert context["pluginId"] == "ctx-plugin"
        assert context["meta"] == MINIMAL_META | {
            "id": "ctx-plugin", "version": "0.1.0", "name": "Context", "author": {"name": "Ann", "email": "",
                                                                                  "url": ""},
            "tags": ["demo"], "capabilities": ["ui", "settings"],
            "theme": {"colors": {"primary": "#123456", "secondary": "", "tertiary": ""}}}
        assert context["settings"] == {"greeting": "hello", "page_size": 25}  # the defaults the Go code declares
        assert context["notes"] == []

        without = api.get("/web/plugin-context/testplugin")
        assert without["meta"]["name"] == "Test Plugin" and without["settings"] == {}
        assert len(without["notes"]) == 1 and "serves no omniview.sdk.settings.v1.SettingsPlugin" in \
            without["notes"][0], without["notes"]

        status, body = api.call("GET", "/web/plugin-context/nowhere")
        assert status == 404 and "no plugin 'nowhere'" in body["error"]

        api.call("POST", "/api/plugins/ctx-plugin/stop")
        stopped = api.get("/web/plugin-context/ctx-plugin")
        assert stopped["settings"] == {} and stopped["meta"] == context["meta"]
        assert stopped["notes"] == ["settings: none yet: no backend process serves (goStatus stopped); the IDE "
                                    "would pass the values the backend declares: ask again once it is ready"]

        # run by hand (another plugindev): an external plugin, no folder known here, its process still asked
        assert api.call("DELETE", "/api/plugins/ctx-plugin")[0] == 200
        with running([str(plugin), "--no-vite"], env):
            api.wait_state("ctx-plugin", lambda s: s["mode"] == "external" and s["grpcConnected"], START,
                           "the plugin run by hand attached as external")
            external = api.get("/web/plugin-context/ctx-plugin")
            assert external["meta"] == MINIMAL_META | {"id": "ctx-plugin", "version": "0.1.0", "capabilities": None}
            assert external["settings"] == {"greeting": "hello", "page_size": 25}
            assert len(external["notes"]) == 1 and external["notes"][0].startswith("meta: an external plugin")
