"""`plugindev scaffold`: variants, idempotent and safe rendering, and refusals of bad input."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import plugindev
from files_support import tree

from orchestrator.authoring.validate import validate_plugin

BASE = ["--id", "hello-plugin", "--name", "Hello Plugin", "--description", "A test plugin"]


def _scaffold(target: Path, *extra: str) -> tuple[int, dict[str, str], str]:
    result = plugindev("scaffold", str(target), *BASE, "--json", *extra)
    files = {f["path"]: f["action"] for f in json.loads(result.stdout)["files"]} if result.stdout else {}
    return result.returncode, files, result.stderr


@pytest.mark.parametrize(
    ("template", "present", "absent"),
    [
        ("full", ["pkg/main.go", "go.mod", "go.sum", "ui/src/entry.ts", "ui/vite.config.ts"], []),
        ("ui", ["ui/src/entry.ts", "ui/package.json"], ["pkg/main.go", "go.mod", "go.sum"]),
        ("backend", ["pkg/main.go", "go.mod", "go.sum"], ["ui/package.json"]),
    ],
)
def test_each_variant_renders_and_validates_clean(tmp_path: Path, template: str, present: list[str],
                                                  absent: list[str]) -> None:
    target = tmp_path / "plugin"
    code, files, stderr = _scaffold(target, "--template", template)
    assert code == 0, stderr
    assert set(files.values()) == {"create"}
    for rel in [*present, "plugin.yaml", ".gitignore", "README.md"]:
        assert (target / rel).is_file(), rel
    for rel in absent:
        assert not (target / rel).exists(), rel
    assert validate_plugin(target) == []
    result = plugindev("validate", str(target))
    assert result.returncode == 0 and "ok" in result.stdout


def test_resource_capability_renders_its_registration_and_keeps_the_templates_own(tmp_path: Path) -> None:
    target = tmp_path / "plugin"
    assert _scaffold(target, "--capability", "resource", "--capability", "exec")[0] == 0
    assert yaml.safe_load((target / "plugin.yaml").read_text())["capabilities"] == ["ui", "settings", "resource",
                                                                                     "exec"]
    assert "registerResources(plugin)" in (target / "pkg/main.go").read_text()
    registration = (target / "pkg/resource.go").read_text()
    # the SDK's v1 resource API, the service the IDE calls (the older sdk.RegisterResourcePlugin it does not)
    assert "resource.BuildResourceController(context.Background(), resource.ResourcePluginConfig[Client]{" \
        in registration
    assert 'plugin.RegisterCapability("resource", &rpv1.GRPCPlugin{Impl: controller' in registration
    assert "RegisterResourcePlugin" not in registration
    readme = (target / "README.md").read_text()
    assert "`resource` is registered in `pkg/resource.go`" in readme
    assert "Declared in `plugin.yaml` but not registered by the scaffold: exec." in readme


def test_full_scaffold_content(tmp_path: Path) -> None:
    target = tmp_path / "plugin"
    assert _scaffold(target)[0] == 0
    assert 'sdk.NewPlugin(sdk.PluginOpts{ID: "hello-plugin"})' in (target / "pkg/main.go").read_text()
    assert "require github.com/omniviewdev/plugin-sdk v0.5.0" in (target / "go.mod").read_text()  # the host's pin
    assert "github.com/omniviewdev/plugin-sdk v0.5.0 h1:" in (target / "go.sum").read_text()
    assert yaml.safe_load((target / "plugin.yaml").read_text())["capabilities"] == ["ui", "settings"]
    assert not (target / "pkg/resource.go").exists()
    package = json.loads((target / "ui/package.json").read_text())
    assert package["type"] == "module" and package["scripts"] == {"dev": "vite", "build": "vite build"}
    assert package["dependencies"]["react"].startswith("19.")
    assert package["devDependencies"]["vite"].startswith("8.")
    assert package["devDependencies"]["@omniviewdev/vite-plugin"] == "file:.plugindev/vite-plugin"
    config = (target / "ui/vite.config.ts").read_text()
    for fragment in ("plugins: [react(), omniviewExternals()]", "host: '127.0.0.1'", "cors: {",
                     "hmr: { protocol: 'ws', host: '127.0.0.1' }", "cssCodeSplit: false", "sourcemap: true",
                     "input: 'src/entry.ts'", "entryFileNames: 'assets/entry.js'",
                     "chunkFileNames: 'assets/[name].js'", "assetFileNames: 'assets/[name].[ext]'",
                     "format: 'system'", "preserveEntrySignatures: 'exports-only'"):
        assert fragment in config, fragment
    assert "'localhost'" not in config and "port:" not in config
    # the IDE registers routes only (withRoutes), and hands the page plugin.yaml as usePluginContext().meta
    entry = (target / "ui/src/entry.ts").read_text()
    assert "export const plugin = new PluginWindow().withRoutes([" in entry and ".setRootPage(" not in entry
    page = (target / "ui/src/pages/HomePage.tsx").read_text()
    assert "useState" in page and 'data-testid="counter"' in page and "usePluginContext()" in page
    assert "{meta.name}" in page and 'name: "Hello Plugin"' in (target / "plugin.yaml").read_text()


def test_second_scaffold_reports_identical_then_conflict_then_force(tmp_path: Path) -> None:
    target = tmp_path / "plugin"
    assert _scaffold(target)[0] == 0
    code, files, _ = _scaffold(target)
    assert code == 0 and set(files.values()) == {"identical"}

    main_go = target / "pkg/main.go"
    main_go.write_text(main_go.read_text() + "// mine\n")
    code, files, stderr = _scaffold(target)
    assert code == 1 and files["pkg/main.go"] == "conflict" and "--force" in stderr
    assert {a for p, a in files.items() if p != "pkg/main.go"} == {"identical"}
    assert main_go.read_text().endswith("// mine\n")

    code, files, _ = _scaffold(target, "--force")
    assert code == 0 and files["pkg/main.go"] == "overwrite"
    assert not main_go.read_text().endswith("// mine\n")


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "plugin"
    code, files, _ = _scaffold(target, "--dry-run")
    assert code == 0 and files and set(files.values()) == {"create"}
    assert not target.exists()
    assert _scaffold(target)[0] == 0
    (target / "README.md").write_text("changed\n")
    code, files, _ = _scaffold(target, "--dry-run", "--force")
    assert files["README.md"] == "overwrite"
    assert (target / "README.md").read_text() == "changed\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--id", "../x"], "'../x' is not a valid plugin id"),
        (["--id", "My Plugin"], "'My Plugin' is not a valid plugin id"),
        (["--id", ""], "--id is empty"),
        (["--id", "ok", "--template", "fancy"], "'fancy' is not one of 'full', 'ui', 'backend'"),
        (["--id", "ok", "--capability", "resouce"], "unknown; did you mean 'resource'?"),
        (["--id", "ok", "--template", "ui", "--capability", "exec"], "needs the Go backend"),
    ],
)
def test_bad_values_are_refused_and_nothing_is_written(tmp_path: Path, args: list[str], message: str) -> None:
    target = tmp_path / "plugin"
    result = plugindev("scaffold", str(target), *args)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not target.exists()


def test_missing_id_without_a_terminal_is_a_usage_error(tmp_path: Path) -> None:
    result = plugindev("scaffold", str(tmp_path / "plugin"))
    assert result.returncode == 2 and "--id is required" in result.stderr
    assert not (tmp_path / "plugin").exists()


def test_non_empty_directory_that_is_not_a_plugin_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "project"
    target.mkdir()
    (target / "notes.txt").write_text("keep me\n")
    code, _, stderr = _scaffold(target)
    assert code == 1 and "is not empty and holds no plugin.yaml" in stderr
    assert tree(target) == {"notes.txt": b"keep me\n"}


def test_unwritable_target_is_refused(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        target = Path("/proc/plugindev-scaffold-test/plugin")  # root writes through modes, not into /proc
    else:
        (tmp_path / "locked").mkdir(mode=0o555)
        target = tmp_path / "locked" / "plugin"
    code, _, stderr = _scaffold(target)
    assert code == 1 and ("is not writable" in stderr or "cannot write" in stderr), stderr
    assert len(stderr.strip().splitlines()) == 1
    assert not target.exists()


def test_missing_values_are_asked_for_on_a_terminal(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    target = tmp_path / "asked"
    process = subprocess.Popen([sys.executable, "-m", "orchestrator", "scaffold", str(target), "--template", "ui"],
                               stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    answers = [("Plugin id", b"tty-plugin\n"), ("Display name", b"\n"), ("Description", b"Asked for\n")]
    seen = b""
    try:
        for prompt, answer in answers:
            while prompt.encode() not in seen:
                ready, _, _ = select.select([master], [], [], 20)
                assert ready, f"no prompt {prompt!r}; got {seen!r}"
                seen += os.read(master, 4096)
            seen = b""
            os.write(master, answer)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    manifest = (target / "plugin.yaml").read_text()
    assert "id: tty-plugin" in manifest and 'name: "tty-plugin"' in manifest and '"Asked for"' in manifest


def test_text_output_lists_each_file_and_says_how_to_start(tmp_path: Path) -> None:
    target = tmp_path / "plugin"
    result = plugindev("scaffold", str(target), *BASE)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"   create  {target / 'plugin.yaml'}" in lines
    steps = [
        "plugindev run      # hot reload of ui/, rebuild and restart of pkg/; open the preview URL it prints",
        "plugindev build    # a production build in build/release/<os>-<arch>/",
        "plugindev package  # dist/hello-plugin-<version>-<os>-<arch>.tar.gz, the file Omniview installs",
        "plugindev install  # build, then install into ~/.omniview/plugins/hello-plugin/ for Omniview"]
    assert lines[-6:] == ["plugin 'hello-plugin' is ready; next (its README.md says more):", f"  cd {target}",
                          *(f"  {step}" for step in steps)]
    # the plugin's README says the same (and nothing of `cd ui && npm run build`)
    readme = (target / "README.md").read_text()
    assert "```sh\n" + "".join(f"{step}\n" for step in steps) + "```" in readme and "npm run build" not in readme
    again = plugindev("scaffold", str(target), *BASE, cwd=target).stdout.splitlines()  # in the folder: no `cd`
    assert all(line.startswith("identical") for line in again[:-5]) and again[-5:] == lines[-6:-5] + lines[-4:]


def test_gitignore_keeps_builds_packages_and_generated_ui_files_out(tmp_path: Path) -> None:
    target = tmp_path / "plugin"
    assert plugindev("scaffold", str(target), *BASE).returncode == 0
    generated = ["build/release/linux-amd64/bin/plugin", "dist/hello-plugin-0.1.0-linux-amd64.tar.gz",
                 "ui/dist/assets/entry.js", "ui/node_modules/react/index.js", "ui/.plugindev/deps/package.json"]
    for rel in generated:
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        (target / rel).write_text("generated\n")
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)
    untracked = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=target,
                               capture_output=True, text=True, check=True).stdout.splitlines()
    assert not [line for line in untracked if line[3:].startswith(("build/", "dist/", "ui/dist/", "ui/node_modules/",
                                                                    "ui/.plugindev/"))]
    assert "?? plugin.yaml" in untracked and "?? ui/src/entry.ts" in untracked
