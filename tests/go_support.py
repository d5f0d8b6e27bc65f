"""Helpers for tests that run a real go-plugin binary: the `testplugin` fixture, built once per source hash.

Typical use::

    binary = build_fixture()                       # cached: $PLUGINDEV_CACHE_DIR/go-fixtures/<hash>/plugin
    plugin_dir = copy_fixture(tmp_path / "testplugin")   # an editable copy (no build/ folder)
    binary = build_fixture(plugin_dir)             # a copy is cached by its own content hash

A cold build (empty GOCACHE) takes ~40 s, a warm one about a second, so the binary is cached by the hash of the
sources and of the Go toolchain, and built under a file lock so parallel test sessions build it only once.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from orchestrator.go.toolchain import find_go

TESTS = Path(__file__).resolve().parent
FIXTURE = TESTS / "fixtures" / "testplugin"
PLUGIN_ID = "testplugin"

_SOURCE_NAMES = {"go.mod", "go.sum", "go.work", "go.work.sum"}


def use_sdk_proxy() -> None:
    """Put `shared/goproxy` (beside the checkout) in front of the usual Go module proxy, as scripts/test.sh does.

    The proxy that the test machines reach does not serve the Omniview plugin SDK; that folder serves its
    releases with their public checksums. A plugin author's machine gets the SDK from the public proxy.
    """
    proxy = TESTS.parent.parent / "shared" / "goproxy"  # shared/ lies beside the checkout
    if proxy.is_dir() and f"file://{proxy}" not in os.environ.get("GOPROXY", ""):
        usual = os.environ.get("GOPROXY") or subprocess.run(
            [find_go(), "env", "GOPROXY"], capture_output=True, text=True, check=False).stdout.strip()
        os.environ["GOPROXY"] = f"file://{proxy},{usual or 'https://proxy.golang.org,direct'}"
        os.environ["GONOSUMDB"] = "github.com/omniviewdev/plugin-sdk"


def _source_files(plugin_dir: Path) -> list[Path]:
    ignored = {"build", "ui", "node_modules", "vendor"}
    found = []
    for path in sorted(plugin_dir.rglob("*")):
        parts = path.relative_to(plugin_dir).parts
        if any(part in ignored or part.startswith(".") for part in parts[:-1]):
            continue
        if path.is_file() and (path.suffix == ".go" or path.name in _SOURCE_NAMES):
            found.append(path)
    return found


def source_hash(plugin_dir: Path, go: str) -> str:
    """Hash of every Go source, go.mod/go.sum and the toolchain version: equal hash, same binary."""
    digest = hashlib.sha256()
    version = subprocess.run([go, "version"], capture_output=True, text=True, check=True).stdout
    digest.update(version.encode())
    for path in _source_files(plugin_dir):
        digest.update(str(path.relative_to(plugin_dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build_fixture(plugin_dir: Path = FIXTURE, package: str = "./pkg") -> Path:
    """Build `package` of `plugin_dir` once per source hash and return the cached binary (never edit it)."""
    go = find_go()
    cache = Path(os.environ["PLUGINDEV_CACHE_DIR"]) / "go-fixtures"
    cache.mkdir(parents=True, exist_ok=True)
    binary = cache / source_hash(plugin_dir, go) / "plugin"
    if binary.is_file():
        return binary
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary.is_file():  # another session built it while we waited
            return binary
        binary.parent.mkdir(parents=True, exist_ok=True)
        # Build to a temporary name, then rename: a half-written binary must never look cached.
        fd, tmp = tempfile.mkstemp(dir=binary.parent, prefix=".plugin-")
        os.close(fd)
        result = subprocess.run(
            [go, "build", "-buildvcs=false", "-o", tmp, package], cwd=plugin_dir, capture_output=True,
            text=True, timeout=600,
        )
        if result.returncode != 0:
            os.unlink(tmp)
            raise RuntimeError(f"go build of {plugin_dir} failed:\n{result.stdout}{result.stderr}")
        os.chmod(tmp, 0o755)
        os.replace(tmp, binary)
    return binary


@pytest.fixture(scope="session")
def attach_client() -> Path:
    """The IDE's external-mode attach path as a Go program (go-plugin v1.7 reattach + the SDK's lifecycle and v1
    resource clients)."""
    return build_fixture(TESTS / "fixtures" / "attachclient", package=".")


def copy_fixture(dest: Path, source: Path = FIXTURE) -> Path:
    """Copy the fixture plugin (sources, plugin.yaml; no build output) to `dest` for tests that edit it."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("build", ".*"))
    return dest


def checks_answered(checks_file: Path) -> int:
    """How many gRPC health checks a testplugin started with TESTPLUGIN_CHECKS_FILE=checks_file has answered."""
    return len(checks_file.read_text().splitlines()) if checks_file.exists() else 0


def set_marker(plugin_dir: Path, marker: str) -> None:
    """Change a copy's BUILD_MARKER (a save that builds and gives a new process)."""
    main_go = plugin_dir / "pkg" / "main.go"
    text = main_go.read_text()
    start = text.index('const BUILD_MARKER = "') + len('const BUILD_MARKER = "')
    main_go.write_text(text[:start] + marker + text[text.index('"', start):])
