"""A failed npm, pnpm or yarn install is condensed to one line: the package, the manager's code, what to do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import plugindev

from orchestrator.link.install_errors import condense, install_failure

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
    error = condense(manager, output, dependencies)
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
    message = str(install_failure(manager, f"{manager} install for /plugin/ui", output,
                                  dependencies={"@omniviewdev/runtime": "workspace:*"}, log=log))
    assert "\n" not in message
    assert hint in message
    assert f"full output: {log}" in message and "-v" in message
    assert "output above" not in message


def test_output_without_any_known_line_still_gives_its_last_line() -> None:
    error = condense("pnpm", "something odd\nKilled\n")
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
