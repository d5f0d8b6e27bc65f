"""`plugindev validate`: each problem is reported, naming the file and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import plugindev

from orchestrator.authoring.scaffold import ScaffoldOptions, scaffold
from orchestrator.authoring.validate import exports_named_plugin


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    target = tmp_path / "plugin"
    scaffold(target, ScaffoldOptions("hello-plugin", "Hello", "", "full").checked())
    return target


def _problems(plugin: Path) -> list[str]:
    result = plugindev("validate", str(plugin), "--json")
    assert result.returncode == 1, result.stdout
    return [f"{p['file']}: {p['field']}: {p['message']}" for p in json.loads(result.stdout)["problems"]]


def _set_yaml(plugin: Path, text: str) -> None:
    (plugin / "plugin.yaml").write_text(text)


def test_clean_plugin_passes(plugin: Path) -> None:
    result = plugindev("validate", str(plugin))
    assert result.returncode == 0, result.stdout


def test_missing_plugin_yaml(plugin: Path) -> None:
    (plugin / "plugin.yaml").unlink()
    assert _problems(plugin) == ["plugin.yaml: : missing; every plugin needs a plugin.yaml with id, version, name "
                                 "and capabilities"]


def test_plugin_yaml_not_a_mapping(plugin: Path) -> None:
    _set_yaml(plugin, "- id\n- version\n")
    assert "must be a mapping" in _problems(plugin)[0]


def test_plugin_yaml_invalid_yaml_names_the_line(plugin: Path) -> None:
    _set_yaml(plugin, "id: hello-plugin\nversion: [1\n")
    assert "invalid YAML at line" in _problems(plugin)[0]


def test_wrong_field_types(plugin: Path) -> None:
    _set_yaml(plugin, "id: hello-plugin\nversion: 1.0.0\nname: [x]\ncapabilities: ui\ntags: web\n")
    problems = _problems(plugin)
    assert "plugin.yaml: name: must be a string like 'Hello Plugin', got ['x'] (list)" in problems
    assert "plugin.yaml: capabilities: must be a list, got 'ui' (str)" in problems
    assert "plugin.yaml: tags: must be a list, got 'web' (str)" in problems


def test_missing_id(plugin: Path) -> None:
    _set_yaml(plugin, "version: 1.0.0\nname: Hello\ncapabilities: [ui, settings]\n")
    assert _problems(plugin) == ["plugin.yaml: id: missing; add e.g. 'id: hello-plugin'"]


@pytest.mark.parametrize(("line", "problem"), [
    ("", "plugin.yaml: name: missing; add e.g. 'name: Hello Plugin'"),
    ("name:\n", "plugin.yaml: name: is empty; add e.g. 'name: Hello Plugin'"),
    ("name: ''\n", "plugin.yaml: name: is empty; add e.g. 'name: Hello Plugin'"),
])
def test_name_is_required_as_the_messages_say(plugin: Path, line: str, problem: str) -> None:
    _set_yaml(plugin, f"id: hello-plugin\nversion: 1.0.0\n{line}capabilities: [ui, settings]\n")
    assert _problems(plugin) == [problem]


@pytest.mark.parametrize(("line", "problem"), [
    ("name: 2024", "plugin.yaml: name: must be a string like 'Hello Plugin', got 2024 (int); quote it in YAML"),
    ("name: yes", "plugin.yaml: name: must be a string like 'Hello Plugin', got True (bool); quote it in YAML"),
    ("name: [x]", "plugin.yaml: name: must be a string like 'Hello Plugin', got ['x'] (list)"),
    ("version: 'one'", "plugin.yaml: version: 'one' is not a semantic version like '1.2.3'"),
    ("version: 1.0", "plugin.yaml: version: 1.0 is not a semantic version like '1.2.3'"),
    ("id: 42", "plugin.yaml: id: must be a string like 'hello-plugin', got 42 (int); quote it in YAML"),
    ("id: '4 2'", "plugin.yaml: id: '4 2' is not a valid plugin id; use 1-64 lowercase letters, digits, '.', '_' or "
                  "'-', starting with a letter or digit (e.g. 'hello-plugin')"),
])
def test_quote_it_only_where_quoting_is_the_fix(plugin: Path, line: str, problem: str) -> None:
    # an unquoted number, true/false or date that would do as a string; a quoted value never hears it
    fields = {"id": "hello-plugin", "version": "1.0.0", "name": "Hello"} | dict([line.split(": ", 1)])
    _set_yaml(plugin, "".join(f"{key}: {value}\n" for key, value in fields.items()) + "capabilities: [ui, settings]\n")
    assert _problems(plugin) == [problem]


@pytest.mark.parametrize("bad_id", ["../x", "My Plugin", "a/b", "-lead"])
def test_id_not_matching_the_rule(plugin: Path, bad_id: str) -> None:
    _set_yaml(plugin, f"id: {json.dumps(bad_id)}\nversion: 1.0.0\nname: Hello\ncapabilities: [ui, settings]\n")
    (problem,) = _problems(plugin)
    assert problem.startswith("plugin.yaml: id: ") and "is not a valid plugin id" in problem


@pytest.mark.parametrize("version", ["1.0", "v1.0.0", "1.0.0.0", "01.2.3"])
def test_version_not_semver(plugin: Path, version: str) -> None:
    _set_yaml(plugin, f"id: hello-plugin\nversion: '{version}'\nname: Hello\ncapabilities: [ui, settings]\n")
    (problem,) = _problems(plugin)
    assert problem.startswith("plugin.yaml: version: ") and "is not a semantic version" in problem


def test_unquoted_number_version_is_not_semver(plugin: Path) -> None:
    _set_yaml(plugin, "id: hello-plugin\nversion: 1.0\nname: Hello\ncapabilities: [ui, settings]\n")
    assert "plugin.yaml: version: 1.0 is not a semantic version" in _problems(plugin)[0]


def test_unknown_capability_suggests_the_closest(plugin: Path) -> None:
    _set_yaml(plugin, "id: hello-plugin\nversion: 1.0.0\nname: Hello\ncapabilities: [ui, settings, resouce]\n")
    assert _problems(plugin) == ["plugin.yaml: capabilities[2]: unknown capability 'resouce'; did you mean 'resource'?"]


@pytest.mark.parametrize(
    ("missing", "problem"),
    [
        ("pkg/main.go", "pkg/main.go: : missing, but plugin.yaml lists backend capabilities (settings)"),
        ("ui/package.json", "ui/package.json: : missing, but plugin.yaml lists the 'ui' capability"),
        ("ui/vite.config.ts", "ui/vite.config.ts: : missing (no ui/vite.config.* at all)"),
    ],
)
def test_a_file_a_capability_needs_is_missing(plugin: Path, missing: str, problem: str) -> None:
    (plugin / missing).unlink()
    (found,) = _problems(plugin)
    assert found.startswith(problem)


def test_entry_without_named_plugin_export(plugin: Path) -> None:
    (plugin / "ui/src/entry.ts").write_text("import Page from './pages/HomePage';\nexport default Page;\n")
    (problem,) = _problems(plugin)
    assert problem.startswith("ui/src/entry.ts: plugin: no named export 'plugin'")


@pytest.mark.parametrize("other", ["entry.tsx", "entry.jsx"])
def test_an_entry_other_than_entry_ts_is_an_error_naming_it_and_the_fix(plugin: Path, other: str) -> None:
    entry = plugin / "ui/src/entry.ts"
    entry.rename(entry.with_name(other))
    (problem,) = _problems(plugin)
    assert problem == (f"ui/src/entry.ts: : missing, and the IDE requests only /src/entry.ts, not ui/src/{other}: "
                       f"rename ui/src/{other} to entry.ts, or add ui/src/entry.ts containing "
                       f"`export * from './{other}';`")
    entry.write_text(f"export * from './{other}';\n")  # the fix it names: the plugin export is found through it
    assert plugindev("validate", str(plugin)).returncode == 0


def test_no_capability_at_all(plugin: Path) -> None:
    _set_yaml(plugin, "id: hello-plugin\nversion: 1.0.0\nname: Hello\n")
    assert _problems(plugin) == ["plugin.yaml: capabilities: none listed; a plugin needs at least one of "
                                 "ui, resource, exec, networker, log, metric, settings"]


def test_every_problem_is_printed_at_once(plugin: Path) -> None:
    _set_yaml(plugin, "id: Bad Id\nversion: x\nname: Hello\ncapabilities: [ui, settings, nope]\n")
    (plugin / "ui/vite.config.ts").unlink()
    result = plugindev("validate", str(plugin))
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 4 and all(line.startswith(str(plugin)) for line in lines)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("export const plugin = new PluginWindow();", True),
        ("const p = 1;\nexport { p as plugin };", True),
        ("export { plugin, other } from './x';", True),
        ("export function plugin() {}", True),
        ("export default plugin;", False),
        ("// export const plugin = 1\nexport const other = 2;", False),
        ("export const pluginWindow = 1;", False),
    ],
)
def test_static_plugin_export_check(source: str, expected: bool) -> None:
    assert exports_named_plugin(source) is expected
