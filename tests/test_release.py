"""`plugindev build`, `install` and `package` on a scaffolded plugin on the real SDK (real Go, npm and Vite).

The package is unpacked by an extractor written here the way Omniview's installer (backend/pkg/plugin) works: a
gzipped tar; `plugin.yaml` and an executable `bin/plugin` required; a size limit per file and in all; every name
joined to the destination must stay inside it; only folders and regular files are created.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tarfile
import time
from pathlib import Path

import pytest
import yaml
from conftest import plugindev

from orchestrator.common.errors import PlugindevError
from orchestrator.release.layout import replace_folder

pytestmark = pytest.mark.integration

MAX_PLUGIN_SIZE = 100 * 1024 * 1024  # per file and in all (Omniview has such a limit; this is the test's)
MAGIC = {"linux": b"\x7fELF", "darwin": b"\xcf\xfa\xed\xfe", "windows": b"MZ"}  # ELF, 64-bit Mach-O, PE


class UnsafePackage(Exception):
    pass


def extract_like_omniview(archive: Path, destination: Path) -> None:
    """Unpack a plugin package as Omniview's installer does, refusing anything that could escape `destination`."""
    with tarfile.open(archive, mode="r:gz") as tar:
        members = tar.getmembers()
        names = {m.name.removeprefix("./") for m in members}
        binary = next((m for m in members if m.name.removeprefix("./") == "bin/plugin"), None)
        if "plugin.yaml" not in names:
            raise UnsafePackage("missing required plugin.yaml")
        if binary is None or not binary.mode & 0o111:
            raise UnsafePackage("missing required binary, or bin/plugin is not executable")
        total = 0
        root = destination.resolve()
        for member in members:
            if member.size > MAX_PLUGIN_SIZE or (total := total + member.size) > MAX_PLUGIN_SIZE:
                raise UnsafePackage(f"{member.name}: exceeds the size limit")
            if member.name.startswith("/") or ".." in Path(member.name).parts:
                raise UnsafePackage(f"{member.name}: path escapes the destination")
            path = (root / member.name).resolve()
            if path != root and not path.is_relative_to(root):
                raise UnsafePackage(f"{member.name}: path escapes the destination")
            if member.issym() or member.islnk():
                raise UnsafePackage(f"{member.name}: links are not unpacked")
            if member.isdir():
                path.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                path.parent.mkdir(parents=True, exist_ok=True)
                extracted = tar.extractfile(member)
                assert extracted is not None
                path.write_bytes(extracted.read())
                path.chmod(member.mode)


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("release") / "rel-plugin"
    result = plugindev("scaffold", str(target), "--id", "rel-plugin", "--name", "Release Test")
    assert result.returncode == 0, result.stderr
    return target


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[str, float]:
    started = time.monotonic()
    result = plugindev(*args, env=env, timeout=1200)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout, time.monotonic() - started


def test_build_install_and_package_round_trip_through_omniviews_extractor(plugin: Path, tmp_path: Path) -> None:
    out, seconds = _run("build", str(plugin))
    folder = plugin / "build/release"
    (built,) = folder.iterdir()
    assert {p.name for p in built.iterdir()} == {"plugin.yaml", "bin", "assets"}
    assert (built / "assets/entry.js").read_text().startswith("System.register([")
    assert (built / "plugin.yaml").read_bytes() == (plugin / "plugin.yaml").read_bytes()
    assert os.access(built / "bin/plugin", os.X_OK)
    print(f"build: {seconds:.1f} s ({out.strip()})")

    state = tmp_path / "state"
    env = {**os.environ, "OMNIVIEW_STATE_DIR": str(state)}
    _run("install", str(plugin), env=env)
    installed = state / "plugins/rel-plugin"
    assert {p.name for p in installed.iterdir()} == {"plugin.yaml", "bin", "assets"}
    assert (installed / "bin/plugin").read_bytes() == (built / "bin/plugin").read_bytes()
    assert oct(installed.stat().st_mode & 0o777) == "0o755"
    assert not [p for p in (state / "plugins").iterdir() if p.name.startswith(".")]  # no staging left behind

    out, seconds = _run("package", str(plugin))
    (archive,) = (plugin / "dist").iterdir()
    assert archive.name == f"rel-plugin-0.1.0-{built.name}.tar.gz"
    print(f"package: {seconds:.1f} s, {archive.stat().st_size / 1e6:.1f} MB")
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert {m.name for m in members} >= {"plugin.yaml", "bin", "bin/plugin", "assets", "assets/entry.js"}
    assert all(m.uid == 0 and m.gid == 0 and m.uname == "" and m.gname == "" for m in members)
    assert len({m.mtime for m in members}) == 1
    assert archive.read_bytes()[4:8] == b"\0\0\0\0" and gzip.decompress(archive.read_bytes())  # no time

    unpacked = tmp_path / "unpacked"
    extract_like_omniview(archive, unpacked)
    assert (unpacked / "bin/plugin").read_bytes() == (built / "bin/plugin").read_bytes()
    assert (unpacked / "assets/entry.js").read_bytes() == (built / "assets/entry.js").read_bytes()
    assert yaml.safe_load((unpacked / "plugin.yaml").read_text())["id"] == "rel-plugin"


def test_a_package_built_twice_is_byte_identical(plugin: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "first.tar.gz", tmp_path / "second.tar.gz"
    _run("package", str(plugin), "-o", str(first))
    shutil.rmtree(plugin / "build/release")
    (plugin / "ui/dist").rename(tmp_path / "old-dist")  # the UI is built again too
    _run("package", str(plugin), "-o", str(second))
    assert hashlib.sha256(first.read_bytes()).hexdigest() == hashlib.sha256(second.read_bytes()).hexdigest()


@pytest.mark.parametrize("platform", ["linux/arm64", "darwin/amd64"])
def test_cross_platform_packages_hold_that_platforms_binary(plugin: Path, tmp_path: Path, platform: str) -> None:
    out = tmp_path / "plugin.tar.gz"
    _, seconds = _run("package", str(plugin), "--platform", platform, "-o", str(out))
    print(f"package {platform}: {seconds:.1f} s, {out.stat().st_size / 1e6:.1f} MB")
    unpacked = tmp_path / "unpacked"
    extract_like_omniview(out, unpacked)
    header = (unpacked / "bin/plugin").read_bytes()[:4]
    assert header == MAGIC[platform.split("/")[0]]
    if platform == "linux/arm64":
        assert (unpacked / "bin/plugin").read_bytes()[18] == 0xB7  # e_machine EM_AARCH64
    assert (plugin / "build/release" / platform.replace("/", "-") / "bin/plugin").is_file()


@pytest.mark.parametrize(("name", "content"), [
    ("../evil", b"x"), ("/etc/evil", b"x"), ("assets/../../evil", b"x")])
def test_the_extractor_refuses_paths_that_escape(tmp_path: Path, name: str, content: bytes) -> None:
    archive = tmp_path / "bad.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for entry, data, mode in (("plugin.yaml", b"id: x\n", 0o644), ("bin/plugin", b"\x7fELF", 0o755),
                                  (name, content, 0o644)):
            info = tarfile.TarInfo(entry)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(UnsafePackage, match="escapes"):
        extract_like_omniview(archive, tmp_path / "out")
    assert not (tmp_path / "evil").exists()


def test_the_extractor_refuses_links(tmp_path: Path) -> None:
    archive = tmp_path / "link.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for entry, data, mode in (("plugin.yaml", b"id: x\n", 0o644), ("bin/plugin", b"\x7fELF", 0o755)):
            info = tarfile.TarInfo(entry)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("assets/passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(UnsafePackage, match="links"):
        extract_like_omniview(archive, tmp_path / "out")


def test_a_failed_swap_leaves_the_old_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target, staged = tmp_path / "plugin", tmp_path / "staged"
    (target / "bin").mkdir(parents=True)
    (target / "bin/plugin").write_bytes(b"old")
    (staged / "bin").mkdir(parents=True)
    (staged / "bin/plugin").write_bytes(b"new")
    real_replace = os.replace

    def fail_on_the_new_folder(src: str | Path, dst: str | Path) -> None:
        if Path(src) == staged:
            raise OSError(28, "No space left on device", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", fail_on_the_new_folder)
    with pytest.raises(OSError):
        replace_folder(staged, target)
    assert (target / "bin/plugin").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plugin", "staged"]


def test_bad_platform_and_an_invalid_plugin_are_one_line(plugin: Path, tmp_path: Path) -> None:
    result = plugindev("package", str(plugin), "--platform", "plan9/mips")
    assert result.returncode == 2 and "--platform 'plan9/mips' is not one of" in result.stderr
    broken = tmp_path / "broken"
    shutil.copytree(plugin, broken, ignore=shutil.ignore_patterns("node_modules", ".plugindev", "build", "dist"))
    (broken / "plugin.yaml").write_text("id: rel-plugin\nversion: one\ncapabilities: [ui, settings]\n")
    result = plugindev("build", str(broken))
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "plugin.yaml: version: 'one' is not a semantic version" in result.stderr
    assert not (broken / "build").exists()


def test_platform_names_are_checked() -> None:
    from orchestrator.release.platforms import Platform, parse_platform

    assert parse_platform("windows/arm64") == Platform("windows", "arm64")
    with pytest.raises(PlugindevError):
        parse_platform("linux")
