"""A failed npm, pnpm or yarn install is condensed to one line: the package, the manager's code, what to do.
A peer range on a shared package that leaves out the host's version is no failure: it is found in the installed
tree (npm's ranges read as node-semver reads them) and becomes a warning."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import plugindev

from orchestrator.common.install_errors import install_failure
from orchestrator.link.package_managers import MANAGERS
from orchestrator.link.peers import PeerConflict, peer_conflicts, satisfies

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "uis"

NPM_E404 = (
    "npm error code E404\n"
    "npm error 404 Not Found - GET https://registry.npmjs.org/@omniviewdev%2fruntime - Not found\n"
    "npm error 404\n"
    "npm error 404  The requested resource '@omniviewdev/runtime@^0.2.2' could not be found or you do not have "
    "permission to access it.\n"
    "npm error 404\n"
    "npm error A complete log of this run can be found in: /root/.npm/_logs/2026-01-01T00_00_00_000Z-debug-0.log\n"
)
NPM_PROTOCOL = """\
npm error code EUNSUPPORTEDPROTOCOL
npm error Unsupported URL Type "workspace:": workspace:*
npm error A complete log of this run can be found in: /root/.npm/_logs/2026-01-01T00_00_00_000Z-debug-0.log
"""
NPM_NETWORK = """\
npm error code ECONNREFUSED
npm error syscall connect
npm error errno ECONNREFUSED
npm error FetchError: request to http://127.0.0.1:9/left-pad failed, reason: connect ECONNREFUSED 127.0.0.1:9
"""
PNPM_404 = """\
Progress: resolved 1, reused 0, downloaded 0, added 0
 ERR_PNPM_FETCH_404  GET https://registry.npmjs.org/@omniviewdev%2Fruntime: Not Found - 404

This error happened while installing a direct dependency of /tmp/b

@omniviewdev/runtime is not in the npm registry, or you have no permission to fetch it.
"""
PNPM_WORKSPACE = (
    ' ERR_PNPM_WORKSPACE_PKG_NOT_FOUND  In : "@omniviewdev/runtime@workspace:*" is in the dependencies but no '
    'package named "@omniviewdev/runtime" is present in the workspace\n'
    "\n"
    "This error happened while installing a direct dependency of /tmp/a\n"
)
YARN_CLASSIC_404 = """\
yarn install v1.22.22
info No lockfile found.
[1/4] Resolving packages...
error An unexpected error occurred: "https://registry.yarnpkg.com/@omniviewdev%2fui: Not found".
info If you think this is a bug, please open a bug report with the information provided in "/tmp/c/yarn-error.log".
"""
NPM_ERESOLVE = """\
npm error code ERESOLVE
npm error ERESOLVE unable to resolve dependency tree
npm error
npm error While resolving: peer-conflict-plugin-ui@0.1.0
npm error Found: vite@3.2.11
npm error node_modules/vite
npm error   dev vite@"3.2.11" from the root project
npm error
npm error Could not resolve dependency:
npm error peer vite@"^4.2.0 || ^5.0.0 || ^6.0.0 || ^7.0.0" from @vitejs/plugin-react@4.7.0
npm error node_modules/@vitejs/plugin-react
npm error   dev @vitejs/plugin-react@"4.7.0" from the root project
npm error
npm error Fix the upstream dependency conflict, or retry this command with --force or --legacy-peer-deps to accept \
an incorrect (and potentially broken) dependency resolution.
"""
YARN_BERRY_404 = """\
➤ YN0000: ┌ Resolution step
➤ YN0035: │ @omniviewdev/ui@npm:^0.1.4: Package not found
➤ YN0035: │   Response Code: 404 (Not Found)
➤ YN0000: └ Completed in 0s 312ms
➤ YN0000: Failed with errors in 0s 318ms
"""


@pytest.mark.parametrize(
    ("manager", "output", "code", "package", "detail"),
    [
        ("npm", NPM_E404, "E404", "@omniviewdev/runtime", "404 Not Found - GET https://registry.npmjs.org/"),
        ("npm", NPM_PROTOCOL, "EUNSUPPORTEDPROTOCOL", "@omniviewdev/runtime, @omniviewdev/vite-plugin",
         'Unsupported URL Type "workspace:"'),
        ("npm", NPM_NETWORK, "ECONNREFUSED", "left-pad", "FetchError: request to http://127.0.0.1:9/left-pad"),
        ("npm", NPM_ERESOLVE, "ERESOLVE", "@vitejs/plugin-react",
         "@vitejs/plugin-react 4.7.0 wants vite ^4.2.0 || ^5.0.0 || ^6.0.0 || ^7.0.0, found 3.2.11"),
        ("pnpm", PNPM_404, "ERR_PNPM_FETCH_404", "@omniviewdev/runtime", "GET https://registry.npmjs.org/"),
        ("pnpm", PNPM_WORKSPACE, "ERR_PNPM_WORKSPACE_PKG_NOT_FOUND", "@omniviewdev/runtime", 'In : "@omniviewdev'),
        ("yarn", YARN_CLASSIC_404, "error", "@omniviewdev/ui", "An unexpected error occurred"),
        ("yarn", YARN_BERRY_404, "YN0035", "@omniviewdev/ui", "@omniviewdev/ui@npm:^0.1.4: Package not found"),
    ],
)
def test_condense_finds_code_package_and_first_message(manager: str, output: str, code: str, package: str,
                                                       detail: str) -> None:
    dependencies = {"@omniviewdev/runtime": "workspace:*", "@omniviewdev/vite-plugin": "workspace:*",
                    "react": "19.2.4"}
    error = MANAGERS[manager].condense(output, dependencies)
    assert (error.code, error.package) == (code, package)
    assert error.detail.startswith(detail), error.detail


@pytest.mark.parametrize(
    ("manager", "output", "hint"),
    [
        ("npm", NPM_E404, "check the package name and version"),
        ("npm", NPM_PROTOCOL, "give that dependency a version range"),
        ("npm", NPM_NETWORK, "cannot reach the npm registry"),
        ("pnpm", PNPM_404, "check the package name and version"),
        ("pnpm", PNPM_WORKSPACE, "give that dependency a version range"),
        ("yarn", YARN_BERRY_404, "check the package name and version"),
    ],
)
def test_install_failure_is_one_line_with_what_to_do_and_where_the_output_is(manager: str, output: str,
                                                                            hint: str) -> None:
    log = Path("/plugin/ui/.plugindev/install.log")
    error = MANAGERS[manager].condense(output, {"@omniviewdev/runtime": "workspace:*"})
    message = str(install_failure(error, f"{manager} install for /plugin/ui", log=log))
    assert "\n" not in message
    assert hint in message
    assert f"full output: {log}" in message and "-v" in message
    assert "output above" not in message


def test_output_without_any_known_line_still_gives_its_last_line() -> None:
    error = MANAGERS["pnpm"].condense("something odd\nKilled\n", {})
    assert (error.code, error.detail) == ("error", "Killed")


@pytest.mark.integration
@pytest.mark.parametrize("lockfile", ["pnpm-lock.yaml", None])
def test_a_real_failing_install_is_one_line_and_v_shows_the_full_output(tmp_path: Path, lockfile: str | None) -> None:
    ui = tmp_path / "plugin" / "ui"
    ui.mkdir(parents=True)
    missing = "plugindev-test-no-such-package-7f3a9"
    (ui / "package.json").write_text(json.dumps({"name": "broken-ui", "private": True,
                                                 "dependencies": {missing: "^1.0.0"}}))
    if lockfile:
        (ui / lockfile).write_text("lockfileVersion: '9.0'\n")
    code = "ERR_PNPM_FETCH_404" if lockfile else "E404"
    quiet = plugindev("link", str(ui.parent))
    assert quiet.returncode == 1
    assert len(quiet.stderr.strip().splitlines()) == 1, quiet.stderr
    assert code in quiet.stderr and missing in quiet.stderr and "install.log" in quiet.stderr
    assert "output above" not in quiet.stderr
    assert code in (ui / ".plugindev/install.log").read_text()
    verbose = plugindev("link", "-v", str(ui.parent))
    assert verbose.returncode == 1 and len(verbose.stderr.strip().splitlines()) > 1


@pytest.mark.integration
def test_a_peer_conflict_on_a_package_the_host_does_not_share_still_fails_link(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin"
    shutil.copytree(FIXTURES / "npm-peer-conflict", plugin)
    manifest = json.loads((plugin / "ui/package.json").read_text())
    manifest["devDependencies"]["vite"] = "3.2.11"  # @vitejs/plugin-react 4.7.0 peers vite ^4.2.0 || ... || ^7
    (plugin / "ui/package.json").write_text(json.dumps(manifest))
    link = plugindev("link", str(plugin))
    assert link.returncode == 1
    (line,) = link.stderr.strip().splitlines()
    assert ("ERESOLVE for @vitejs/plugin-react: @vitejs/plugin-react 4.7.0 wants vite ^4.2.0 || ^5.0.0 || ^6.0.0 || "
            "^7.0.0, found 3.2.11; the dependencies' peer versions conflict") in line
    assert "warning" not in link.stderr  # the shared @mui/material conflict of the same tree says nothing here


# Checked against node-semver 7 (npm's own): `semver.satisfies(version, range)`.
@pytest.mark.parametrize(
    ("version", "wanted", "expected"),
    [
        ("7.3.8", "^7.3.11", False), ("7.3.11", "^7.3.11", True), ("8.0.0", "^7.3.0", False),
        ("19.2.4", "^17.0.0 || ^18.0.0 || ^19.0.0", True), ("18.3.1", "^19", False), ("19.2.4", ">= 16.8.0", True),
        ("0.2.9", "^0.2.3", True), ("0.3.0", "^0.2.3", False), ("0.0.4", "^0.0.3", False), ("0.1.0", "^0.0", False),
        ("1.2.9", "~1.2", True), ("1.3.0", "~1.2.3", False), ("1.3.0", ">1.2", True), ("1.2.9", ">1.2", False),
        ("1.2.9", "<=1.2", True), ("1.2.0", "<1.2", False), ("2.3.9", "1.2 - 2.3.4", False),
        ("2.9.0", "1.2.3 - 2", True), ("1.2.3", "*", True), ("1.2.3", "", True), ("1.9.0", "1.x", True),
        ("1.3.0-beta.1", "^1.2.0", False), ("1.2.3-beta", ">=1.2.3-alpha.3", True),
        ("1.2.3-alpha.2", "^1.2.3-alpha.3", False), ("1.2.3-alpha.10", "^1.2.3-alpha.3", True),
        ("1.2.3", "v1.2.3", True), ("1.2.4", "~> 1.2", True), ("1.0.0", "<*", False),
        ("7.3.8", "workspace:*", None), ("7.3.8", "latest", None), ("latest", "^7", None),
    ],
)
def test_npm_ranges_are_read_as_npm_reads_them(version: str, wanted: str, expected: bool | None) -> None:
    assert satisfies(version, wanted) is expected


def _package(folder: Path, name: str, version: str, peers: dict[str, str] | None = None) -> None:
    folder.mkdir(parents=True)
    (folder / "package.json").write_text(json.dumps({"name": name, "version": version,
                                                     "peerDependencies": peers or {}}))


def test_peer_conflicts_come_from_every_layout_once_each(tmp_path: Path) -> None:
    host = {"@mui/material": "7.3.8", "react": "19.2.4"}
    wants = {"@mui/material": "^7.3.11", "react": "^18 || ^19", "vite": "^9"}  # vite is not shared: not judged
    npm = tmp_path / "npm" / "node_modules"
    _package(npm / "@mui/icons-material", "@mui/icons-material", "7.3.11", wants)
    for name, version in (("x", "7.3.11"), ("y", "7.3.10")):  # nested copies, one the same as the top one
        _package(npm / name, name, "1.0.0")
        _package(npm / name / "node_modules/@mui/icons-material", "@mui/icons-material", version,
                 {**wants, "@mui/material": f"^{version}"})
    _package(tmp_path / "local", "@mui/icons-material", "9.0.0", {"@mui/material": "^9"})
    (npm / "local").symlink_to(tmp_path / "local")  # a link to a local folder: not an installed package
    assert peer_conflicts(npm, host) == [
        PeerConflict("@mui/icons-material", "7.3.10", "@mui/material", "^7.3.10", "7.3.8"),
        PeerConflict("@mui/icons-material", "7.3.11", "@mui/material", "^7.3.11", "7.3.8"),
    ]
    pnpm = tmp_path / "pnpm" / "node_modules"
    for peer_hash in ("a1", "b2"):  # one package per peer combination in pnpm's store
        _package(pnpm / f".pnpm/@mui+icons-material@7.3.11_{peer_hash}/node_modules/@mui/icons-material",
                 "@mui/icons-material", "7.3.11", wants)
    (pnpm / "@mui").mkdir()
    (pnpm / "@mui/icons-material").symlink_to(pnpm / ".pnpm/@mui+icons-material@7.3.11_a1/node_modules/@mui/"
                                                      "icons-material")
    (conflict,) = peer_conflicts(pnpm, host)
    assert conflict.message == ("@mui/icons-material 7.3.11 wants @mui/material ^7.3.11; the host provides 7.3.8: it "
                                "runs against the host's at run time; pin @mui/icons-material to a release that "
                                "accepts 7.3.8 to be safe")
    assert peer_conflicts(tmp_path / "missing", host) == []
