"""`plugindev doctor`: each check on a machine state it must flag (no Go, a state root that cannot be written,
a proxy that does not serve the SDK, too few inotify watches), a plugin with problems, and the happy path on a
scaffolded plugin after `plugindev link`."""

from __future__ import annotations

import asyncio
import glob
import http.server
import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import plugindev

from orchestrator.authoring.scaffold import GO_VERSION, SDK_VERSION
from orchestrator.diagnose import doctor
from orchestrator.diagnose.checks import CheckResult, PluginFacts
from orchestrator.diagnose.machine import _distinct_folders, check_inotify, watched_folder_count
from orchestrator.diagnose.toolchain import check_go_proxy
from orchestrator.shimgen.generate import generate
from orchestrator.shimgen.shared_list import load_shared_list


def _doctor(*args: str, **env: str | None) -> tuple[int, list[str], str]:
    environ = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
    result = plugindev("doctor", *args, env=environ, timeout=60)
    assert "Traceback" not in result.stderr
    return result.returncode, result.stdout.splitlines(), result.stderr


def _lines_of(lines: list[str], what: str) -> list[str]:
    return [line for line in lines if line[5:].startswith(what + ":")]


def _write_plugin(folder: Path, manifest: str, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True)
    (folder / "plugin.yaml").write_text(manifest)
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(content)
    return folder


# -- the machine -------------------------------------------------------------------------------------------


@pytest.fixture
def path_without_go(tmp_path: Path) -> str:
    """A PATH with node and npm but no go."""
    bin_dir = tmp_path / "bin-without-go"
    bin_dir.mkdir()
    for tool in ("node", "npm"):
        found = shutil.which(tool)
        assert found, f"{tool} must be on PATH"
        (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def test_a_missing_go_is_flagged_with_the_version_to_install(path_without_go: str, state_dir: Path) -> None:
    code, lines, _ = _doctor(PATH=path_without_go, PLUGINDEV_GO=None, GOROOT=None)

    assert code == 1
    assert _lines_of(lines, "Go") == [f"FAIL Go: no `go` on PATH or in $GOROOT/bin; install Go {GO_VERSION} or "
                                      "newer (https://go.dev/dl/), or point PLUGINDEV_GO at such a go binary"]
    assert _lines_of(lines, "Go module proxy") == ["skip Go module proxy: not checked without Go (see the Go check)"]
    assert _lines_of(lines, "Node.js")[0].startswith("ok   Node.js: node v")  # the rest still runs
    assert lines[-1] == "1 problem in 1 of 6 checks"


def test_plugindev_go_naming_no_executable_is_flagged(state_dir: Path) -> None:
    code, lines, _ = _doctor(PLUGINDEV_GO="/nonexistent/go")
    assert code == 1
    assert _lines_of(lines, "Go")[0].startswith("FAIL Go: PLUGINDEV_GO=/nonexistent/go is not an executable go; ")


def _read_only_folder(tmp_path: Path) -> Path:
    """An existing folder nobody can write in. Root ignores permission bits, so as root it is /proc/sys/fs
    (procfs refuses new entries to everyone); otherwise a chmod 0555 folder."""
    if os.geteuid() == 0:
        return Path("/proc/sys/fs")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


@pytest.mark.parametrize("kind", ["below a regular file", "in a read-only folder", "a read-only folder"])
def test_a_state_root_that_cannot_be_written_is_flagged(tmp_path: Path, kind: str) -> None:
    # Checked by really writing (a temporary folder made and removed), which holds for root and for read-only
    # mounts alike. A state root below a regular file can never be created, by anyone, on any filesystem.
    if kind == "below a regular file":
        (tmp_path / "a-file").write_text("")
        root, blocker = tmp_path / "a-file" / "state", tmp_path / "a-file"
    else:
        blocker = _read_only_folder(tmp_path)
        root = blocker / "state" if kind == "in a read-only folder" else blocker

    code, lines, _ = _doctor(OMNIVIEW_STATE_DIR=str(root))

    assert code == 1
    [line] = _lines_of(lines, "state root")
    assert line.startswith(f"FAIL state root: {root}: ")
    assert str(blocker) in line
    assert line.endswith("; set OMNIVIEW_STATE_DIR to a writable absolute folder (plugindev installs the plugin "
                         "and its .devinfo there)")
    assert not list(tmp_path.glob("**/.plugindev-doctor-*"))  # the probe leaves nothing behind


def test_where_the_sdk_reads_plugin_yaml_must_be_writable_too(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    home = tmp_path / "a-file" / "home"
    code, lines, _ = _doctor(OMNIVIEW_STATE_DIR=str(tmp_path / "state"), HOME=str(home))

    assert code == 1
    [line] = _lines_of(lines, "state root")
    assert line.startswith(f"FAIL state root: the plugin SDK reads plugin.yaml from {home}/.omniview/plugins/<id> "
                           "whatever the state root, and ")
    assert f"make {home}/.omniview writable" in line


def test_a_relative_state_dir_is_flagged(state_dir: Path) -> None:
    code, lines, _ = _doctor(OMNIVIEW_STATE_DIR="relative/state")
    assert code == 1
    assert _lines_of(lines, "state root") == [
        "FAIL state root: OMNIVIEW_STATE_DIR must be an absolute path, got 'relative/state'; set OMNIVIEW_STATE_DIR "
        "to an absolute folder, or unset it to use ~/.omniview"]


@pytest.fixture
def refusing_proxy() -> Iterator[str]:
    """A Go module proxy on 127.0.0.1 that serves nothing (404, as a proxy without the module answers)."""

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(404)

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_proxy_that_does_not_serve_the_sdk_is_flagged_naming_goproxy(
        tmp_path: Path, refusing_proxy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOPROXY", refusing_proxy)
    monkeypatch.setenv("GOMODCACHE", str(tmp_path / "empty-module-cache"))  # nothing cached to fall back on

    result = asyncio.run(check_go_proxy(None))

    [failure] = result.failures
    assert failure.problem.startswith(f"`go list -m github.com/omniviewdev/plugin-sdk@{SDK_VERSION}`: ")
    assert "404 Not Found" in failure.problem
    assert failure.fix.startswith(f"the SDK comes through GOPROXY (now {refusing_proxy}): set GOPROXY=")
    shutil.rmtree(tmp_path / "empty-module-cache", ignore_errors=True)


def test_the_sdk_version_a_plugin_requires_is_the_one_asked_for(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = _write_plugin(tmp_path / "old-sdk", "id: old-sdk\n", {
        "go.mod": "module example.com/old\n\ngo 1.22\n\nrequire (\n\tgithub.com/omniviewdev/plugin-sdk v0.1.1\n)\n"})
    monkeypatch.setenv("GOPROXY", "off")
    monkeypatch.setenv("GOMODCACHE", str(tmp_path / "empty-module-cache"))

    result = asyncio.run(check_go_proxy(PluginFacts.read(plugin)))

    assert "plugin-sdk@v0.1.1" in result.failures[0].problem
    assert "(now off)" in result.failures[0].fix
    shutil.rmtree(tmp_path / "empty-module-cache", ignore_errors=True)


def test_too_few_inotify_watches_for_the_plugin_are_flagged(tmp_path: Path) -> None:
    plugin = _write_plugin(tmp_path / "p", "id: p\n", {"pkg/main.go": "package main\n", "pkg/sub/x.go": "package sub\n",
                                                       "ui/src/entry.ts": ""})
    limit = tmp_path / "max_user_watches"
    limit.write_text("4\n")

    result = check_inotify(PluginFacts.read(plugin), limit_file=limit)

    # Go watcher: p, pkg, pkg/sub, ui, ui/src; Vite: ui, ui/src
    assert [f.problem for f in result.failures] == [f"a run of {plugin} watches 7 folders, but "
                                                    "fs.inotify.max_user_watches is 4"]
    assert "sudo sysctl fs.inotify.max_user_watches=" in result.failures[0].fix
    limit.write_text("7\n")
    assert check_inotify(PluginFacts.read(plugin), limit_file=limit).ok


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
def test_the_folder_count_is_what_watchfiles_really_watches(tmp_path: Path) -> None:
    """The count rests on how watchfiles (Rust notify) watches: every folder, following symlinks, each real
    folder once. Measured here from the kernel's own list of this process's inotify watches."""
    from watchfiles import awatch

    plugin = tmp_path / "plugin"
    for folder in ("pkg/a/b", "ui/node_modules/.deps/x/y", "ui/src", "build"):
        (plugin / folder).mkdir(parents=True)
    outside = tmp_path / "outside" / "deep"
    outside.mkdir(parents=True)
    (plugin / "ui/node_modules/x").symlink_to(plugin / "ui/node_modules/.deps/x")  # the same folders again
    (plugin / "linked").symlink_to(tmp_path / "outside")  # folders outside the plugin
    (plugin / "loop").symlink_to(plugin)

    def watches() -> int:
        return sum(Path(info).read_text().count("inotify wd:")
                   for info in glob.glob(f"/proc/{os.getpid()}/fdinfo/*") if os.path.exists(info))

    async def measure() -> int:
        before = watches()
        stop = asyncio.Event()
        watcher = asyncio.create_task(anext(awatch(plugin, stop_event=stop, rust_timeout=50), None))
        try:
            async with asyncio.timeout(10):
                while watches() - before < _distinct_folders([plugin]):
                    await asyncio.sleep(0.02)
                await asyncio.sleep(0.2)  # and no more come
                return watches() - before
        finally:
            stop.set()
            await asyncio.gather(watcher, return_exceptions=True)

    assert asyncio.run(measure()) == _distinct_folders([plugin]) == 13
    assert watched_folder_count(plugin) == 13 + 2  # Vite: ui and ui/src, not node_modules


# -- a plugin folder ---------------------------------------------------------------------------------------


def test_every_validate_problem_is_flagged_and_a_never_linked_ui_noted(tmp_path: Path, state_dir: Path) -> None:
    plugin = _write_plugin(tmp_path / "broken", "id: Broken!\nversion: one\nname: B\ncapabilities: [ui, resource]\n", {
        "ui/package.json": "{\"name\": \"broken-ui\"}", "ui/vite.config.ts": "",
        "ui/src/entry.ts": "export default 1\n",
    })

    code, lines, _ = _doctor(str(plugin))

    assert code == 1
    validate = _lines_of(lines, "validate")
    assert [line.split(": ")[1] for line in validate] == [f"{plugin}/plugin.yaml"] * 2 + [
        f"{plugin}/pkg/main.go", f"{plugin}/ui/src/entry.ts"]
    assert "'Broken!' is not a valid plugin id" in validate[0] and "'one' is not a semantic version" in validate[1]
    # never linked (as a fresh scaffold): a note, since the first run links it; not a problem
    assert _lines_of(lines, "generated vite-plugin") == [
        f"note generated vite-plugin: ui/ is not linked yet (no {plugin}/ui/.plugindev/vite-plugin): the first "
        f"`plugindev run` links it, as `plugindev link {plugin}` does"]
    assert _lines_of(lines, "Go") == [f"skip Go: not needed: {plugin} has no go.mod (no Go backend)"]
    assert lines[-1].startswith("4 problems in 1 of ")


def test_a_stale_or_unlinked_vite_plugin_is_flagged(tmp_path: Path) -> None:
    plugin = _write_plugin(tmp_path / "p", "id: p\nversion: 0.1.0\nname: P\ncapabilities: [ui]\n",
                           {"ui/package.json": "{}"})
    package = plugin / "ui/.plugindev/vite-plugin"
    asyncio.run(generate(load_shared_list(None, None), package))  # what `plugindev link` generates (no Node)
    linked = plugin / "ui/node_modules/@omniviewdev/vite-plugin"
    linked.parent.mkdir(parents=True)
    linked.symlink_to(package)
    facts = PluginFacts.read(plugin)
    assert asyncio.run(doctor.check_vite_plugin(facts)).ok

    (package / "shims/react.mjs").write_text("// edited by hand\n")
    [stale] = asyncio.run(doctor.check_vite_plugin(facts)).failures
    assert stale.problem == f"1 file of {package} is missing, stale or edited (shims/react.mjs)"
    assert stale.fix.startswith(f"run `plugindev link {plugin}`")

    asyncio.run(generate(load_shared_list(None, None), package))
    linked.unlink()
    [unlinked] = asyncio.run(doctor.check_vite_plugin(facts)).failures
    assert unlinked.problem == f"{linked} is missing, so vite.config cannot import omniviewExternals()"


def test_a_check_that_breaks_is_one_failed_check_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_plugin: PluginFacts | None) -> CheckResult:
        raise RuntimeError("boom")

    monkeypatch.setattr(doctor, "check_ports", broken)
    results = asyncio.run(doctor.run_doctor(None))
    assert [r.lines() for r in results if r.what == "Vite ports"] == [
        ["FAIL Vite ports: the check itself failed: RuntimeError: boom; please report this to plugindev"]]


# -- the happy path ----------------------------------------------------------------------------------------


@pytest.mark.integration
def test_a_scaffolded_and_linked_plugin_passes_every_check_in_under_5_s(tmp_path: Path, state_dir: Path) -> None:
    plugin = tmp_path / "happy"
    assert plugindev("scaffold", str(plugin), "--id", "happy", "--capability", "resource").returncode == 0
    link = plugindev("link", str(plugin))
    assert link.returncode == 0, link.stderr

    started = time.monotonic()
    code, lines, stderr = _doctor(str(plugin))
    elapsed = time.monotonic() - started

    assert code == 0, "\n".join(lines) + stderr
    assert [line[:5] for line in lines[:-1]] == ["ok   "] * 10
    assert [line[5:].split(":")[0] for line in lines[:-1]] == [
        "Go", "Node.js", "package manager", "nodeenv cache", "state root", "inotify watches", "Vite ports",
        "validate", "generated vite-plugin", "Go module proxy"]
    assert lines[-1] == "all 10 checks passed"
    assert elapsed < 5, f"doctor took {elapsed:.1f} s"

    as_json = plugindev("doctor", str(plugin), "--json")
    report = json.loads(as_json.stdout)
    assert report["ok"] is True and as_json.returncode == 0
    assert {c["check"]: c["status"] for c in report["checks"]}["Go module proxy"] == "ok"


@pytest.mark.integration
def test_a_fresh_scaffold_passes_with_a_note_that_its_ui_is_not_linked_yet(tmp_path: Path, state_dir: Path) -> None:
    plugin = tmp_path / "fresh"
    assert plugindev("scaffold", str(plugin), "--id", "fresh").returncode == 0

    code, lines, stderr = _doctor(str(plugin))

    assert code == 0, "\n".join(lines) + stderr
    assert [line for line in lines if not line.startswith("ok   ")] == [
        f"note generated vite-plugin: ui/ is not linked yet (no {plugin}/ui/.plugindev/vite-plugin): the first "
        f"`plugindev run` links it, as `plugindev link {plugin}` does", "all 10 checks passed (1 note)"]
    report = json.loads(plugindev("doctor", str(plugin), "--json").stdout)
    assert report["ok"] is True
    assert {c["check"]: c["status"] for c in report["checks"]}["generated vite-plugin"] == "note"


def test_json_lists_every_check_with_its_problems(path_without_go: str, state_dir: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if k not in {"PLUGINDEV_GO", "GOROOT"}}
    result = plugindev("doctor", "--json", env={**environ, "PATH": path_without_go})
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["directory"] is None
    checks = {c["check"]: c for c in report["checks"]}
    assert checks["Go"]["status"] == "fail" and checks["Go"]["problems"][0]["fix"].startswith("install Go")
    assert checks["Go module proxy"]["status"] == "skip" and checks["state root"]["status"] == "ok"
