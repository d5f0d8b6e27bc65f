"""Every command, on a corpus of bad inputs, ends with one line on stderr and exit 1 or 2; never a traceback.

The inputs are what an author gets wrong: a folder that is not there or is a file, a plugin.yaml that is not
UTF-8, not YAML, a folder, empty or with values of the wrong type, a state root that is relative, a file, or
below a file, an option value of the wrong kind, a command or argument that does not exist.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# the commands that work on a plugin folder; they all meet the broken plugins below
PLUGIN_COMMANDS = (["validate"], ["link"], ["run"], ["doctor"])
BROKEN_PLUGIN_YAML: dict[str, bytes] = {
    "not-utf8": b"id: caf\xe9\nversion: 0.1.0\n",
    "not-yaml": b"id: [unclosed\n",
    "empty": b"",
    "a-list": b"- id\n- version\n",
    "wrong-types": b"id: 123\nversion: [1]\ncapabilities: ui\n",
    "bad-id": b"id: ../escape\nversion: 0.1.0\ncapabilities: [settings]\n",
}


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, **env}
    return subprocess.run([sys.executable, "-m", "orchestrator", *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def _assert_one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (1, 2), (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(("plugindev: error: ", "plugindev: usage error: ")), lines[0]
    return lines[0]


@pytest.fixture
def state(tmp_path: Path) -> dict[str, str]:
    return {"OMNIVIEW_STATE_DIR": str(tmp_path / "state"), "HOME": str(tmp_path / "home")}


@pytest.mark.parametrize("command", PLUGIN_COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("case", sorted(BROKEN_PLUGIN_YAML))
def test_a_broken_plugin_yaml_is_one_line_naming_the_file(tmp_path: Path, state: dict[str, str],
                                                          command: list[str], case: str) -> None:
    plugin = tmp_path / "plugin"
    (plugin / "pkg").mkdir(parents=True)
    (plugin / "plugin.yaml").write_bytes(BROKEN_PLUGIN_YAML[case])
    result = _run([*command, str(plugin)], tmp_path, **state)
    if command == ["doctor"]:  # doctor lists every problem on stdout, then exits 1
        assert "Traceback" not in result.stderr + result.stdout and result.returncode == 1
        assert any(line.startswith("FAIL") and "plugin.yaml" in line for line in result.stdout.splitlines())
        return
    if command == ["validate"]:  # validate lists every problem, each naming the file
        assert "Traceback" not in result.stderr + result.stdout and result.returncode == 1
        assert "plugin.yaml" in result.stdout + result.stderr
        return
    line = _assert_one_line(result)
    assert "plugin.yaml" in line or command == ["link"]  # link reads ui/ only: its own one-line error


@pytest.mark.parametrize("args", [
    ["validate", "{missing}"], ["run", "{missing}"], ["link", "{missing}"], ["doctor", "{missing}"],
    ["validate", "{file}"], ["run", "{file}"], ["link", "{file}"], ["scaffold", "{file}/sub", "--id", "x"],
    ["scaffold", "{dir}", "--id", "Bad Id"], ["scaffold", "{dir}", "--id", "x", "--template", "nope"],
    ["scaffold", "{dir}", "--id", "x", "--go-module", "a\nreplace b => ../c"],
    ["gen-shims", "--manifest", "{missing}"], ["gen-shims", "--manifest", "{file}"], ["gen-shims", "--host", "{file}"],
    ["run", "--debounce", "soon"], ["run", "--api-port", "-1"], ["run", "--no-vite", "--no-go", "{dir}"],
    ["serve", "--ui", "sideways"], ["status", "--nope"], ["nope"], ["watch-external", "extra"],
], ids=lambda a: " ".join(a))
def test_bad_arguments_are_one_line(tmp_path: Path, state: dict[str, str], args: list[str]) -> None:
    (tmp_path / "afile").write_bytes(b"\xff\xfe not a manifest\n")
    (tmp_path / "adir").mkdir()
    values = {"{missing}": str(tmp_path / "missing"), "{file}": str(tmp_path / "afile"),
              "{dir}": str(tmp_path / "adir" / "plugin")}
    resolved = []
    for arg in args:
        for key, value in values.items():
            arg = arg.replace(key, value)
        resolved.append(arg)
    result = _run(resolved, tmp_path, **state)
    if args[0] == "validate":  # validate prints its findings on stdout, each naming the path
        assert "Traceback" not in result.stderr + result.stdout and result.returncode == 1
        assert [line for line in result.stdout.splitlines() if line.strip()] == [
            f"{resolved[1]}: is not a directory"]
        return
    _assert_one_line(result)


@pytest.mark.parametrize("command", [["run", "{plugin}"], ["serve"], ["status"], ["watch-external"]],
                         ids=lambda c: c[0])
@pytest.mark.parametrize("root", ["relative/state", "{file}", "{file}/below"])
def test_a_state_root_that_cannot_be_used_is_one_line(tmp_path: Path, command: list[str], root: str) -> None:
    plugin = tmp_path / "plugin"
    (plugin / "pkg").mkdir(parents=True)
    (plugin / "plugin.yaml").write_text("id: ok\nversion: 0.1.0\nname: OK\ncapabilities: [settings]\n")
    (plugin / "pkg" / "main.go").write_text("package main\n\nfunc main() {}\n")
    (tmp_path / "afile").write_text("a file\n")
    environ = {"OMNIVIEW_STATE_DIR": root.replace("{file}", str(tmp_path / "afile")), "HOME": str(tmp_path / "home")}
    result = _run([arg.replace("{plugin}", str(plugin)) for arg in command], tmp_path, **environ)
    if command == ["status"] and root != "relative/state":
        # status only reads: a state root that does not exist holds no plugin, which it says on stdout
        assert result.returncode == 0 and "Traceback" not in result.stderr
        return
    assert "OMNIVIEW_STATE_DIR" in _assert_one_line(result) or "state root" in result.stderr
