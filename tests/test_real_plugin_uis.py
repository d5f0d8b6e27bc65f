"""Plugin UIs shaped like the real ones work after `plugindev link`, with no edit to any tracked file.

Shapes (tests/fixtures/uis/): a plugin inside a pnpm workspace listing the host packages as `workspace:*`;
an npm plugin with a package-lock.json and `workspace:*` dependencies (npm refuses the protocol); a
standalone plugin pinning `@omniviewdev/runtime@^0.2.2` (a 404 on the registry) with a pnpm v9 lockfile
holding integrity hashes for it; a plugin importing subpaths of shared packages it never declares; an npm
plugin without a lockfile whose bundled `@mui/icons-material` peers a newer `@mui/material` than the host's
(npm's ERESOLVE before plugindev pinned shared packages: a warning now, the same with every manager). Each is
committed to a git repository in tmp_path, linked, served by the real Vite (its module graph crawled from
/src/entry.ts with every response 200), built (SystemJS, shared ids external), and checked unchanged.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest
from conftest import plugindev
from run_support import RunHandle
from vite_support import ViteProcesses, ViteServer, http_get, run_vite_build, system_register_deps

from orchestrator.common.node import ensure_node_env, install_dir, install_packages
from orchestrator.shimgen.discovery import LEXER_PACKAGE

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "uis"
# fixture -> the plugin folder inside it
SHAPES = {
    "pnpm-workspace": "plugins/ws-plugin",
    "npm-workspace-protocol": ".",
    "pnpm-standalone": ".",
    "undeclared-subpaths": ".",
    "npm-peer-conflict": ".",
}
PEER_CONFLICT = "npm-peer-conflict"
# link's one line about it: `^7.3.0` resolves to the newest 7.x icons, each of which peers its own @mui/material
PEER_WARNING = re.compile(r"plugindev: warning: @mui/icons-material (7\.\d+\.\d+) wants @mui/material \^\1; the host "
                          r"provides 7\.3\.8: it runs against the host's at run time; pin @mui/icons-material to a "
                          r"release that accepts 7\.3\.8 to be safe")
# the vite.config.ts of an existing plugin, the same in every shape
LEGACY_VITE_CONFIG = FIXTURES / "vite.config.ts"
MAX_MODULES = 400
_NAMED_IMPORT = re.compile(r"""import\s+(?!type\b)(?:[\w$]+\s*,\s*)?\{([^}]*)\}\s*from\s*["']([^"']+)["']""")


def committed_copy(shape: str, tmp_path: Path) -> Path:
    """The fixture copied to tmp_path and committed to a fresh git repository there."""
    repo = tmp_path / shape
    shutil.copytree(FIXTURES / shape, repo)
    shutil.copy(LEGACY_VITE_CONFIG, repo / SHAPES[shape] / "ui" / "vite.config.ts")
    git = ["git", "-c", "user.name=plugindev-test", "-c", "user.email=test@invalid", "-c", "init.defaultBranch=main"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "fixture"]):
        subprocess.run([*git, *args], cwd=repo, check=True, capture_output=True)
    return repo


class Linked(NamedTuple):
    repo: Path  # the committed copy
    link: subprocess.CompletedProcess[str]  # `plugindev link` of its plugin


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Linked]:
    """A shape's committed copy, linked once for the module: an install is npm's minutes, and the tests that share
    it change no tracked file (what Vite builds is untracked)."""
    done: dict[str, Linked] = {}

    def link(shape: str) -> Linked:
        if shape not in done:
            repo = committed_copy(shape, tmp_path_factory.mktemp(shape))
            done[shape] = Linked(repo, plugindev("link", str(repo / SHAPES[shape])))
        return done[shape]

    return link


def assert_link_warnings(shape: str, stderr: str) -> None:
    """The peer-conflict shape gets its one warning; the others none."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    if shape != PEER_CONFLICT:
        assert lines == []
        return
    assert len(lines) == 1 and PEER_WARNING.fullmatch(lines[0]), lines


def assert_tracked_files_unchanged(shape: str, repo: Path) -> None:
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo, check=True,
                            capture_output=True, text=True).stdout
    assert status == "", f"tracked files changed:\n{status}"
    for source in (FIXTURES / shape).rglob("*"):
        if source.is_file():
            copy = repo / source.relative_to(FIXTURES / shape)
            assert copy.read_bytes() == source.read_bytes(), copy


# Breadth-first over the served modules, imports found by es-module-lexer (what a browser would load, not
# look-alikes in comments or strings); prints {url: status}.
CRAWLER = r"""
import { init, parse } from 'es-module-lexer';
const [base, start, max] = [process.argv[2], process.argv[3], Number(process.argv[4])];
await init;
const statuses = {};
const queue = [new URL(start, base).href];
while (queue.length && Object.keys(statuses).length < max) {
  const url = queue.shift();
  if (url in statuses) continue;
  const response = await fetch(url);
  statuses[url] = response.status;
  const type = response.headers.get('content-type') || '';
  if (response.status !== 200 || !/javascript/.test(type)) continue;
  const [imports] = parse(await response.text());
  for (const entry of imports) {
    if (entry.n === undefined) continue;  // import(expression)
    if (!/^(\/|\.\.?\/|https?:)/.test(entry.n)) { statuses[`${url} -> ${entry.n}`] = 'bare specifier'; continue; }
    queue.push(new URL(entry.n, url).href);
  }
}
console.log(JSON.stringify(statuses));
"""


def crawl(server: ViteServer, start: str) -> dict[str, object]:
    """Follow every import URL of the served JS from `start`; URL -> status of every module reached."""
    lexer = asyncio.run(_lexer_folder())
    script = lexer / "crawl.mjs"  # beside its node_modules, so `es-module-lexer` resolves
    script.write_text(CRAWLER)
    result = subprocess.run(["node", str(script), server.base_url, start, str(MAX_MODULES)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    statuses: dict[str, object] = json.loads(result.stdout)
    return {url.removeprefix(server.base_url): status for url, status in statuses.items()}


async def _lexer_folder() -> Path:
    env = await ensure_node_env()
    return await install_packages(env, install_dir("tools", LEXER_PACKAGE), LEXER_PACKAGE)


def shared_named_imports(src: Path, shared: set[str]) -> dict[str, set[str]]:
    """Shared specifier -> the names the sources import from it by name."""
    found: dict[str, set[str]] = {}
    for path in src.rglob("*.ts*"):
        for names, spec in _NAMED_IMPORT.findall(path.read_text()):
            if spec in shared:
                wanted = {n.strip().removeprefix("type ").split(" as ")[0].strip() for n in names.split(",")}
                found.setdefault(spec, set()).update(n for n in wanted if n)
    return found


@pytest.mark.parametrize("shape", list(SHAPES))
def test_link_serve_build_and_no_tracked_file_changes(shape: str, linked: Callable[[str], Linked],
                                                      vite_processes: ViteProcesses) -> None:
    repo, link = linked(shape)
    ui = repo / SHAPES[shape] / "ui"
    assert link.returncode == 0, link.stderr
    assert_link_warnings(shape, link.stderr)
    assert_tracked_files_unchanged(shape, repo)

    lock = json.loads((ui / ".plugindev/vite-plugin/shims/shims.lock.json").read_text())["shims"]
    server = vite_processes.start(ui)
    statuses = crawl(server, "/src/entry.ts")
    failed = {url: status for url, status in statuses.items() if status != 200}
    assert failed == {}, f"{failed}\n{server.log()}"
    assert any("/.plugindev/vite-plugin/shims/" in url for url in statuses), sorted(statuses)
    assert len(statuses) < MAX_MODULES, "the crawl stopped before the end of the module graph"
    imported = shared_named_imports(ui / "src", set(lock))
    assert imported, "the fixture imports shared packages by name"
    for spec, names in imported.items():
        shim = server.get(f"/.plugindev/vite-plugin/shims/{lock[spec]['file']}")
        missing = sorted(n for n in names if f"export const {n} = " not in shim.text)
        assert missing == [], f"{spec}'s shim lacks {missing}"

    build = run_vite_build(ui)
    assert build.returncode == 0, build.output
    bundle = (ui / "dist/assets/entry.js").read_text()
    assert bundle.startswith("System.register([")
    assert set(imported) <= set(system_register_deps(bundle) or []), bundle[:400]
    assert "__OMNIVIEW_SHARED__" not in bundle
    assert_tracked_files_unchanged(shape, repo)


@pytest.mark.parametrize("manager", ["pnpm@9.15.9", "yarn@1.22.22", "yarn@4.9.2"])
def test_pnpm_and_yarn_install_a_host_pinned_peer_conflict_with_the_same_one_warning(manager: str,
                                                                                     tmp_path: Path) -> None:
    repo = committed_copy(PEER_CONFLICT, tmp_path)
    manifest = json.loads((repo / "ui/package.json").read_text())
    (repo / "ui/package.json").write_text(json.dumps({**manifest, "packageManager": manager}))
    link = plugindev("link", str(repo))
    assert link.returncode == 0, link.stderr
    assert f"dependencies installed with {manager}" in link.stdout
    assert_link_warnings(PEER_CONFLICT, link.stderr)


def test_tsc_accepts_code_importing_the_host_packages(linked: Callable[[str], Linked]) -> None:
    repo, link = linked("pnpm-workspace")
    ui = repo / SHAPES["pnpm-workspace"] / "ui"
    assert link.returncode == 0, link.stderr
    tsc = subprocess.run([str(ui / "node_modules/.bin/tsc"), "--noEmit", "-p", "."], cwd=ui, capture_output=True,
                         text=True, timeout=300)
    assert tsc.returncode == 0, tsc.stdout + tsc.stderr


def test_pnpm_is_pinned_and_the_lockfile_versions_are_kept(linked: Callable[[str], Linked]) -> None:
    repo, link = linked("pnpm-standalone")
    assert link.returncode == 0, link.stderr
    assert "pnpm@9.15.9" in link.stdout  # lockfileVersion '9.0' -> pnpm 9, not the registry's latest
    query = json.loads((repo / "ui/node_modules/@tanstack/react-query/package.json").read_text())
    assert query["version"] == "5.108.4"  # what the plugin's lockfile pins, though ^5.76.1 allows newer
    runtime = repo / "ui/node_modules/@omniviewdev/runtime"
    assert runtime.resolve() == (repo / "ui/.plugindev/host-packages/runtime").resolve()
    assert_tracked_files_unchanged("pnpm-standalone", repo)


def test_undeclared_shared_subpaths_come_at_the_host_version(linked: Callable[[str], Linked]) -> None:
    repo, link = linked("undeclared-subpaths")
    assert link.returncode == 0, link.stderr
    manifest = json.loads((repo / "ui/.plugindev/deps/package.json").read_text())
    assert manifest["dependencies"]["@mui/material"] == "7.3.8"
    assert manifest["dependencies"]["@mui/icons-material"] == "7.3.8"
    version = json.loads((repo / "ui/node_modules/@mui/material/package.json").read_text())["version"]
    assert version == "7.3.8"


def test_run_reaches_ready_on_a_workspace_plugin(tmp_path: Path, state_dir: Path) -> None:
    repo = committed_copy("pnpm-workspace", tmp_path)
    run = RunHandle([str(repo / SHAPES["pnpm-workspace"])], env=dict(os.environ))
    try:
        status = run.wait_status(lambda s: s["viteStatus"] == "ready", 300, "Vite ready")
        assert http_get(status["viteURL"].rstrip("/") + "/src/entry.ts").status == 200
        assert run.interrupt() == 0
    finally:
        run.kill_group()
    assert_tracked_files_unchanged("pnpm-workspace", repo)
