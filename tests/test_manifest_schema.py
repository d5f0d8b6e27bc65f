"""The JSON Schema of plugin.yaml and `plugindev validate` agree: both come from manifest_fields, and on a corpus of
good and bad manifests they find fault with the same fields. The schema plugindev ships is the one it generates,
an editor's regular expressions (ECMA-262) read its patterns as Python does, and a scaffolded plugin.yaml names
a copy that resolves from the plugin's own folder."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from conftest import plugindev

from orchestrator.authoring.manifest import read_manifest
from orchestrator.authoring.manifest_fields import MANIFEST, PLUGIN_ID, SEMVER
from orchestrator.authoring.manifest_schema import IN_PLUGIN, MODELINE, SHIPPED, json_schema, schema_text
from orchestrator.authoring.scaffold import ScaffoldOptions, scaffold

GOOD = "id: hello-plugin\nversion: 0.1.0\nname: Hello\ncapabilities: [ui]\n"

# name -> (plugin.yaml, the fields found at fault: "" for the file as a whole)
CORPUS: dict[str, tuple[str, set[str]]] = {
    "minimal": (GOOD, set()),
    "scaffolded": ('id: my-plugin\nversion: 0.1.0\nname: "My Plugin"\ndescription: ""\ncapabilities:\n  - ui\n'
                   "  - settings\n", set()),
    "every-field": ("id: kubernetes\nversion: 0.2.2\nname: Kubernetes\nicon: SiKubernetes\nicon_url: https://x/i.png\n"
                    "description: Containers.\nrepository: github.com/omniviewdev/x\nwebsite: kubernetes.io\n"
                    "category: cloud\nlicense: Apache-2.0\nauthor:\n  name: Omniview\n  email: info@omniview.dev\n"
                    "  url: https://omniview.dev\nmaintainers:\n  - name: Maintainers\n    email: m@omniview.dev\n"
                    "tags: [kubernetes, cloud]\ndependencies: [other-plugin]\n"
                    "capabilities: [ui, resource, exec, networker, log, metric, settings]\n"
                    "theme:\n  colors:\n    primary: '#326CE5'\n    secondary: '#fff'\n    tertiary: '#000'\n"
                    "components:\n  resource:\n    - name: pods\n      plugin: kubernetes\n      area: EDITOR\n"
                    "      resources: [core::v1::Pod]\n      extension: sidebar\n"
                    "schema_version: 1\nsdk_protocol_version: 1\n", set()),
    "prerelease-and-build": (GOOD.replace("0.1.0", "1.0.0-rc.1+build.5"), set()),
    "optional-nulls": (GOOD + "icon:\nauthor:\ntags:\ncomponents: ~\nschema_version: null\n", set()),
    "unknown-keys-kept": (GOOD + "x-custom: {a: 1}\nreleased: 2024-01-01\n", set()),
    "whole-float-integer": (GOOD + "schema_version: 2.0\n", set()),
    "id-every-character": (GOOD.replace("hello-plugin", "a" + "._-9" * 15 + "xyz"), set()),
    "empty-optional-list": (GOOD + "tags: []\nmaintainers: []\n", set()),
    "author-name-only": (GOOD + "author: {name: Ann}\n", set()),
    "not-a-mapping": ("- id\n- version\n", {""}),
    "id-missing": ("version: 0.1.0\nname: Hello\ncapabilities: [ui]\n", {"id"}),
    "id-with-a-space": (GOOD.replace("hello-plugin", "'Bad Id'"), {"id"}),
    "id-a-number": (GOOD.replace("hello-plugin", "123"), {"id"}),
    "id-trailing-newline": (GOOD.replace("hello-plugin", '"abc\\n"'), {"id"}),
    "id-65-characters": (GOOD.replace("hello-plugin", "a" * 65), {"id"}),
    "id-a-path": (GOOD.replace("hello-plugin", "../x"), {"id"}),
    "version-missing": ("id: p\nname: P\ncapabilities: [ui]\n", {"version"}),
    "version-two-parts": (GOOD.replace("0.1.0", "'1.0'"), {"version"}),
    "version-a-float": (GOOD.replace("0.1.0", "1.0"), {"version"}),
    "version-with-v": (GOOD.replace("0.1.0", "v1.0.0"), {"version"}),
    "version-leading-zero": (GOOD.replace("0.1.0", "01.2.3"), {"version"}),
    "name-missing": ("id: p\nversion: 0.1.0\ncapabilities: [ui]\n", {"name"}),
    "name-empty": (GOOD.replace("Hello", "''"), {"name"}),
    "name-null": (GOOD.replace("Hello", ""), {"name"}),
    "name-a-number": (GOOD.replace("Hello", "2024"), {"name"}),
    "name-a-list": (GOOD.replace("Hello", "[x]"), {"name"}),
    "capabilities-missing": ("id: p\nversion: 0.1.0\nname: P\n", {"capabilities"}),
    "capabilities-empty": (GOOD.replace("[ui]", "[]"), {"capabilities"}),
    "capabilities-a-string": (GOOD.replace("[ui]", "ui"), {"capabilities"}),
    "capability-unknown": (GOOD.replace("[ui]", "[ui, resouce, 5]"), {"capabilities[1]", "capabilities[2]"}),
    "icon-a-list": (GOOD + "icon: [x]\n", {"icon"}),
    "author-a-string": (GOOD + "author: bob\n", {"author"}),
    "author-email-a-list": (GOOD + "author: {name: Ann, email: [a]}\n", {"author.email"}),
    "maintainer-a-string": (GOOD + "maintainers: [alice]\n", {"maintainers[0]"}),
    "tag-a-number": (GOOD + "tags: [web, 1]\n", {"tags[1]"}),
    "colour-a-number": (GOOD + "theme: {colors: {primary: 0x326CE5}}\n", {"theme.colors.primary"}),
    "component-resources-a-string": (GOOD + "components: {resource: [{name: a, resources: pods}]}\n",
                                     {"components.resource[0].resources"}),
    "schema-version-quoted": (GOOD + "schema_version: '2'\n", {"schema_version"}),
    "schema-version-a-fraction": (GOOD + "schema_version: 1.5\n", {"schema_version"}),
    "protocol-version-true": (GOOD + "sdk_protocol_version: true\n", {"sdk_protocol_version"}),
    "three-at-once": ("id: Bad Id\nversion: x\ncapabilities: [ui]\n", {"id", "version", "name"}),
}


def _schema_faults(data: Any) -> set[str]:
    """The fields the JSON Schema finds at fault, named as validate names them (`author.name`, `tags[2]`)."""
    faults: set[str] = set()
    for error in jsonschema.Draft7Validator(json_schema()).iter_errors(data):
        path = list(error.absolute_path)
        if error.validator == "required":
            path.append(next(key for key in error.validator_value if key not in error.instance))
        faults.add("".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip("."))
    return faults


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_the_schema_and_validate_fault_the_same_fields(tmp_path: Path, case: str) -> None:
    text, faults = CORPUS[case]
    (tmp_path / "plugin.yaml").write_text(text)
    _, problems = read_manifest(tmp_path / "plugin.yaml")
    assert {problem.field for problem in problems} == faults
    assert _schema_faults(yaml.safe_load(text)) == faults


def test_the_corpus_meets_every_field() -> None:
    named = " ".join(text for text, _ in CORPUS.values())
    assert [field.key for field in MANIFEST if f"{field.key}:" not in named] == []


def test_the_schema_is_a_json_schema_draft_7() -> None:
    jsonschema.Draft7Validator.check_schema(json_schema())  # what yaml-language-server reads


def test_the_shipped_schema_is_the_generated_one_and_plugindev_schema_prints_it() -> None:
    assert SHIPPED.read_text() == schema_text(), "run `plugindev schema > orchestrator/authoring/plugin.schema.json`"
    printed = plugindev("schema")
    assert printed.returncode == 0 and printed.stdout == schema_text()
    where = plugindev("schema", "--path")
    assert where.returncode == 0 and Path(where.stdout.strip()) == SHIPPED


def test_an_editor_reads_the_patterns_as_validate_does(node: str) -> None:
    """yaml-language-server compiles `pattern` as an ECMA-262 regular expression with the `u` flag."""
    samples = ["hello-plugin", "a", "my.plugin_1", "Bad", "-x", "abc\n", "a" * 64, "a" * 65, "", "1.2.3",
               "0.1.0-rc.1+build.5", "1.0", "01.2.3", "1.2.3\n", "1.2.3-", "1.2.3+"]
    shapes = {"id": PLUGIN_ID, "version": SEMVER}
    schema = json_schema()["properties"]
    script = (f"const patterns = {json.dumps({key: schema[key]['pattern'] for key in shapes})};\n"
              f"const samples = {json.dumps(samples)};\n"
              "console.log(JSON.stringify(Object.fromEntries(Object.entries(patterns).map(([key, pattern]) =>"
              " [key, samples.map((sample) => new RegExp(pattern, 'u').test(sample))]))));")
    ecma = json.loads(subprocess.run([node, "-e", script], capture_output=True, text=True, check=True).stdout)
    for key, shape in shapes.items():
        assert shape.pattern is not None
        assert ecma[key] == [shape.pattern.fullmatch(sample) is not None for sample in samples], key


def test_a_scaffolded_plugin_yaml_names_its_schema_from_its_own_folder(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin"
    scaffold(plugin, ScaffoldOptions("hello-plugin", "Hello", "", "full").checked())
    first = (plugin / "plugin.yaml").read_text().splitlines()[0]
    assert first == MODELINE
    # yaml-language-server resolves a relative $schema from the folder of the YAML file
    assert (plugin / first.split("$schema=", 1)[1]).read_text() == schema_text()


def test_schema_write_brings_a_plugins_copy_up_to_date_and_says_how_to_name_it(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    refused = plugindev("schema", "--write", str(plugin))
    assert refused.returncode == 1
    assert refused.stderr == f"plugindev: error: {plugin} holds no plugin.yaml; give the folder of a plugin\n"
    (plugin / "plugin.yaml").write_text(GOOD)
    written = plugindev("schema", "--write", str(plugin))
    assert written.returncode == 0, written.stderr
    assert written.stdout.splitlines() == [
        f"   create  {plugin / IN_PLUGIN}",
        f"add this line at the top of {plugin / 'plugin.yaml'} so that editors use it: {MODELINE}"]
    assert (plugin / IN_PLUGIN).read_text() == schema_text()
    (plugin / "plugin.yaml").write_text(f"{MODELINE}\n{GOOD}")
    (plugin / IN_PLUGIN).write_text("{}\n")  # an older schema
    assert plugindev("schema", "--write", str(plugin)).stdout.splitlines() == [f"overwrite  {plugin / IN_PLUGIN}"]
    assert plugindev("schema", "--write", str(plugin)).stdout.splitlines() == [f"identical  {plugin / IN_PLUGIN}"]
    assert (plugin / IN_PLUGIN).read_text() == schema_text()
