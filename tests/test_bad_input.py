"""Bad input outside the dev loop: one line naming the file, field or value and what to do, never a traceback,
and nothing half written."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
from conftest import plugindev
from files_support import tree

from orchestrator.authoring import render
from orchestrator.authoring.render import FileSpec, apply, plan
from orchestrator.authoring.validate import validate_plugin
from orchestrator.common.errors import PlugindevError

BASE = ["--id", "hello-plugin", "--name", "Hello", "--description", "d"]


def _one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A full scaffold, rendered once; tests copy what they change."""
    target = tmp_path_factory.mktemp("scaffold") / "plugin"
    result = plugindev("scaffold", str(target), *BASE)
    assert result.returncode == 0, result.stderr
    return target


def _plugin(tmp_path: Path, scaffolded: Path) -> Path:
    import shutil

    return Path(shutil.copytree(scaffolded, tmp_path / "plugin"))


def test_plugin_yaml_that_is_not_utf8_is_one_problem_naming_the_file(tmp_path: Path, scaffolded: Path) -> None:
    plugin = _plugin(tmp_path, scaffolded)
    (plugin / "plugin.yaml").write_bytes(b"id: caf\xe9\nversion: 0.1.0\n")
    result = plugindev("validate", str(plugin))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stdout.strip() == (f"{plugin / 'plugin.yaml'}: is not UTF-8 text (byte 0xe9 at offset 7); "
                                     "save it with UTF-8 encoding")
    run = plugindev("run", str(plugin), "--no-vite", timeout=60)
    assert run.returncode == 1 and "is not UTF-8 text" in _one_line(run.stderr)


def test_gen_shims_manifest_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    manifest = tmp_path / "shared.yaml"
    manifest.write_bytes(b"packages:\n  - r\xffact\n")
    result = plugindev("gen-shims", "--manifest", str(manifest), "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert _one_line(result.stderr) == (f"plugindev: error: manifest {manifest} is not UTF-8 text (byte 0xff at "
                                        "offset 15); save it with UTF-8 encoding")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("body", "message"), [
    ("packages:\n  - react\nhost_versions:\n  react: 2020-13-45\n", "invalid YAML: month must be in 1..12"),
    ("packages: " + "[" * 2000, "invalid YAML"),
])
def test_gen_shims_manifest_with_values_yaml_cannot_build_is_one_line(tmp_path: Path, body: str,
                                                                     message: str) -> None:
    manifest = tmp_path / "shared.yaml"
    manifest.write_text(body)
    result = plugindev("gen-shims", "--manifest", str(manifest), "--out", str(tmp_path / "out"))
    assert result.returncode == 1 and message in _one_line(result.stderr)


def test_host_list_with_a_bad_unicode_escape_is_one_line(tmp_path: Path) -> None:
    ts = tmp_path / "host" / "ui/features/plugins/api/shared_dependencies.ts"
    ts.parent.mkdir(parents=True)
    ts.write_text("const shared = {\n  'react\\u{1F600}': () => import('react'),\n  'x\\uZZ': 1,\n};\n")
    (tmp_path / "host" / "node_modules").mkdir()
    result = plugindev("gen-shims", "--host", str(tmp_path / "host"), "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert _one_line(result.stderr) == (f"plugindev: error: {ts}:3: invalid \\u escape in a string literal; "
                                        "use \\uXXXX or \\u{X...}")


@pytest.mark.parametrize(("line", "message"), [
    ("id: 123", "plugin.yaml: id: must be a string like 'hello-plugin', got 123 (int); quote it in YAML"),
    ("id: [a]", "plugin.yaml: id: must be a string like 'hello-plugin', got ['a'] (list)"),
    ("id:", "plugin.yaml: id: is empty"),
    ("id: hello-plugin\nreleased: 2020-13-45", "plugin.yaml: invalid YAML value: month must be in 1..12"),
])
def test_wrongly_typed_plugin_yaml_values_say_what_they_are(tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / "plugin.yaml").write_text(f"{line}\nversion: 0.1.0\ncapabilities: [settings]\n")
    problems = [str(p) for p in validate_plugin(tmp_path)]
    assert any(p.startswith(message) for p in problems), problems


def test_broken_ui_package_json_is_a_problem_with_its_position(tmp_path: Path, scaffolded: Path) -> None:
    plugin = _plugin(tmp_path, scaffolded)
    (plugin / "ui/package.json").write_text('{\n  "name": "x",\n  "type": "module"\n  "scripts": {}\n}\n')
    assert [str(p) for p in validate_plugin(plugin)] == [
        "ui/package.json: invalid JSON at line 4 column 3: Expecting ',' delimiter; fix it (npm and Vite cannot "
        "read it)"]
    (plugin / "ui/package.json").write_text("[]")
    assert [str(p) for p in validate_plugin(plugin)] == ["ui/package.json: must be a JSON object, got list"]


def test_backend_id_must_equal_plugin_yaml_id(tmp_path: Path, scaffolded: Path) -> None:
    plugin = _plugin(tmp_path, scaffolded)
    main_go = plugin / "pkg/main.go"
    main_go.write_text(main_go.read_text().replace('ID: "hello-plugin"', 'ID: "other-plugin"'))
    result = plugindev("validate", str(plugin))
    assert result.returncode == 1
    assert result.stdout.strip() == (f"{main_go}: ID: sdk.PluginOpts{{ID: 'other-plugin'}} differs from "
                                     "plugin.yaml's id 'hello-plugin'; make them equal (the SDK reads plugin.yaml "
                                     "by this id)")
    main_go.write_text(main_go.read_text().replace('ID: "other-plugin"', "ID: `hello-plugin`"))
    assert validate_plugin(plugin) == []
    main_go.write_text(main_go.read_text().replace("ID: `hello-plugin`", "ID: pluginID"))
    assert validate_plugin(plugin) == []  # a constant: nothing to compare statically


@pytest.mark.parametrize(("code", "advice"), [
    (errno.ENOSPC, "No space left on device; free some space on that disk and retry"),
    (errno.EACCES, "Permission denied; check the folder's permissions"),
    (errno.EROFS, "Read-only file system; the file system is read-only; choose another location"),
    (errno.ENOTDIR, "Not a directory; a part of that path is a file, not a folder; choose another location"),
])
def test_a_failed_write_names_its_real_cause_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                code: int, advice: str) -> None:
    (tmp_path / "kept.txt").write_text("old\n")
    files = {"kept.txt": FileSpec(b"new\n"), "a/new.txt": FileSpec(b"x\n")}
    outcomes = plan(tmp_path, files, force=True)
    real_stage = render.stage_file
    staged: list[str] = []

    def stage_then_fail(target: Path, content: bytes, mode: int) -> str:
        if staged:
            raise OSError(code, __import__("os").strerror(code), str(target))
        staged.append(real_stage(target, content, mode))
        return staged[-1]

    monkeypatch.setattr(render, "stage_file", stage_then_fail)
    with pytest.raises(PlugindevError) as caught:
        apply(tmp_path, files, outcomes)
    assert str(caught.value) == f"cannot write {tmp_path / 'a/new.txt'}: {advice}"
    assert tree(tmp_path) == {"kept.txt": b"old\n"}  # the staged file is gone, the old content kept


def test_scaffold_below_a_file_says_the_file_is_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    result = plugindev("scaffold", str(tmp_path / "afile" / "sub"), *BASE)
    assert result.returncode == 1
    assert _one_line(result.stderr) == (f"plugindev: error: {tmp_path / 'afile'} is a file, not a folder, so "
                                        f"{tmp_path / 'afile' / 'sub'} cannot be created in it; choose a path whose "
                                        "parents are folders")


def test_scaffold_into_another_plugins_folder_writes_nothing(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "plugin.yaml").write_text("id: other-plugin\nversion: 1.0.0\ncapabilities: [ui]\n")
    result = plugindev("scaffold", str(other), *BASE)
    assert result.returncode == 1
    assert _one_line(result.stderr) == (f"plugindev: error: {other / 'plugin.yaml'} belongs to plugin "
                                        "'other-plugin', not 'hello-plugin'; scaffold into a new directory, pass "
                                        "--id other-plugin, or --force to replace it")
    assert tree(other) == {"plugin.yaml": b"id: other-plugin\nversion: 1.0.0\ncapabilities: [ui]\n"}


def test_one_conflict_and_no_file_is_written(tmp_path: Path, scaffolded: Path) -> None:
    plugin = _plugin(tmp_path, scaffolded)
    (plugin / "README.md").write_text("mine\n")
    (plugin / "ui/src/entry.ts").unlink()
    before = tree(plugin)
    result = plugindev("scaffold", str(plugin), *BASE, "--json")
    assert result.returncode == 1
    files = {f["path"]: f["action"] for f in json.loads(result.stdout)["files"]}
    assert files["README.md"] == "conflict" and files["ui/src/entry.ts"] == "create"
    assert "so nothing was written; re-run with --force" in result.stderr
    assert tree(plugin) == before


@pytest.mark.parametrize(("value", "reason"), [
    ("github.com/x/y\nreplace github.com/omniviewdev/plugin-sdk => ../evil", "'\\n' is not allowed"),
    ("github.com/x y", "' ' is not allowed"),
    ("github.com//y", "an empty element"),
    ("/abs/path", "an empty element"),
    ("-flag", "starts with '-'"),
    ("github.com/x/.hidden", "starts or ends with a dot"),
    ("example.com/con", "reserved file name on Windows"),
])
def test_go_module_must_be_a_go_module_path(tmp_path: Path, value: str, reason: str) -> None:
    result = plugindev("scaffold", str(tmp_path / "plugin"), *BASE, "--go-module", value)
    assert result.returncode == 2
    line = _one_line(result.stderr)
    assert line.startswith(f"plugindev: usage error: --go-module {value!r} is not a valid Go module path: ")
    assert reason in line and "use e.g. 'github.com/you/hello-plugin'" in line
    assert not (tmp_path / "plugin").exists()


@pytest.mark.parametrize("value", ["example.com/me/hello", "hello", "gopkg.in/yaml.v3", "github.com/a/b_c~d+e/v2"])
def test_valid_go_module_paths_are_written_into_go_mod(tmp_path: Path, value: str) -> None:
    result = plugindev("scaffold", str(tmp_path / "plugin"), *BASE, "--template", "backend", "--go-module", value)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "plugin/go.mod").read_text().startswith(f"module {value}\n\ngo ")


def test_an_api_identity_that_cannot_be_kept_is_said_and_serve_goes_on(tmp_path: Path) -> None:
    from api_support import ApiClient
    from run_support import run_env, running

    from orchestrator.statefiles.api_identity import identity_file

    state_root = tmp_path / "state"
    identity_file(state_root).mkdir(parents=True)  # a folder where the file goes
    with running([], run_env(state_root), command="serve") as run:
        assert ApiClient.wait_for(state_root).get("/api/plugins") == []
        said = run.wait_for(lambda r: [m for m in r.said() if "api-identity" in m], 30, "the identity line")
    assert said == [f"cannot write {identity_file(state_root)}: Is a directory; a folder is in the way of that file; "
                    "move it aside (the next run gets a new API token)"]
