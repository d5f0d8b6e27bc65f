"""One line out of a failed package install: the package, the manager's error code, what to do.

Package managers print pages (pnpm on stdout, npm on stderr, yarn on both); a user needs the code
(`E404`, `EUNSUPPORTEDPROTOCOL`, `ERR_PNPM_FETCH_404`, `YN0035`), the package it concerns, the manager's
own first sentence, and the next step. The full output goes to a log file (and to the terminal with -v).
Each package manager reads its own output (see link.managers); npm's reading is here, because plugindev
runs npm itself for its own tools (common.node).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from orchestrator.common.errors import PlugindevError


@dataclass(frozen=True)
class InstallError:
    code: str  # the manager's error code, or "error" when it prints none (yarn 1)
    package: str | None  # the package the failure is about, when the output names one
    detail: str  # the manager's first line about it


_NPM_CODE = re.compile(r"npm (?:ERR!|error) code (\S+)")
_NPM_LINE = re.compile(r"npm (?:ERR!|error) (?!code\b)(.*)")
_NPM_NOISE = re.compile(r"(?:syscall|errno|A complete log)\b")
# ERESOLVE: `Found: vite@3.2.11`, then `Could not resolve dependency:` and on the next line
# `peer vite@"^4.2.0" from @vitejs/plugin-react@4.7.0`
_NPM_FOUND = re.compile(r"Found: (@?[^\s@]+)@(\S+)")
_NPM_PEER_CONFLICT = re.compile(r"Could not resolve dependency:\s*\n\s*npm (?:ERR!|error) (?:peer(?:Optional)? )?"
                                r"(@?[^\s@\"]+)@\"([^\"]*)\" from (@?[^\s@]+)@(\S+)")

# A registry URL's first path segment is the package (`@scope%2fname` or `name`).
_REGISTRY_URL = re.compile(r"https?://[^/\s]+/(@[^/\s%]+(?:%2[fF]|/)[^/\s:\"']+|[^@/\s:\"'][^/\s:\"']*)")
# `"name@range"`, `'name@range'`, `for name@range`
_QUOTED_SPEC = re.compile(r"[\"'](@?[^\"'\s@]+)@[^\"'\s]*[\"']")
_FOR_SPEC = re.compile(r"\bfor (@?[^\s@\"']+)@\S+")
_NPM_PROTOCOL_SPEC = re.compile(r"(?:^|\s)(@?[a-z0-9][^\s@\"']*)@npm:")  # yarn 2+: `name@npm:range`
_UNSUPPORTED = re.compile(r"Unsupported URL Type \"([^\"]+)\"")

NETWORK_CODES = frozenset({"ECONNREFUSED", "ENOTFOUND", "ETIMEDOUT", "EAI_AGAIN", "ECONNRESET", "ENETUNREACH",
                           "ERR_PNPM_META_FETCH_FAIL", "YN0001"})
NOT_FOUND_CODES = frozenset({"E404", "ETARGET", "ERR_PNPM_FETCH_404", "ERR_PNPM_NO_MATCHING_VERSION", "YN0035",
                             "YN0082"})
PROTOCOL_CODES = frozenset({"EUNSUPPORTEDPROTOCOL", "ERR_PNPM_WORKSPACE_PKG_NOT_FOUND",
                            "ERR_PNPM_LINKED_PKG_DIR_NOT_FOUND", "ERR_PNPM_SPEC_NOT_SUPPORTED_BY_ANY_RESOLVER"})


def install_error(output: str, code: str, detail: str, dependencies: Mapping[str, str]) -> InstallError:
    """The error a manager's code and first message make, with the package the output names; the output's last
    line when the manager printed no message of its own.

    `dependencies` (name -> spec, as the install was asked for) names the package when the manager only
    quotes the spec, as npm does for `workspace:*`.
    """
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return InstallError(code, _package_in(output, dependencies), detail or (lines[-1] if lines else "no output"))


def _package_in(output: str, dependencies: Mapping[str, str]) -> str | None:
    unsupported = _UNSUPPORTED.search(output)
    if unsupported:  # npm quotes only the protocol: find the dependencies that use it
        names = sorted(name for name, spec in dependencies.items() if spec.startswith(unsupported[1]))
        return ", ".join(names) if names else None
    for pattern in (_QUOTED_SPEC, _FOR_SPEC, _NPM_PROTOCOL_SPEC, _REGISTRY_URL):
        found = pattern.search(output)
        if found:
            return unquote(found[1])
    return next((name for name in dependencies if name in output), None)


def npm_error(output: str, dependencies: Mapping[str, str]) -> InstallError:
    """What a failed `npm install` printed: `npm error code E404` and the lines after it."""
    found = _NPM_CODE.search(output)
    code = found[1] if found else "error"
    messages = [m.strip() for m in _NPM_LINE.findall(output)
                if m.strip() and m.strip() not in {"404", "403"} and not _NPM_NOISE.match(m.strip())]
    conflict = _NPM_PEER_CONFLICT.search(output) if code == "ERESOLVE" else None
    if conflict:  # the one line that says what conflicts
        peer, wanted, dependent, version = conflict.groups()
        installed = _NPM_FOUND.search(output)
        found_version = f", found {installed[2]}" if installed and installed[1] == peer else ""
        return InstallError(code, dependent, f"{dependent} {version} wants {peer} {wanted}{found_version}")
    return install_error(output, code, messages[0] if messages else "", dependencies)


def hint(error: InstallError) -> str:
    """What the user can do about it."""
    if error.code in NETWORK_CODES or "network" in error.detail.lower():
        return "cannot reach the npm registry; check the network or the 'registry' setting in .npmrc"
    if error.code in NOT_FOUND_CODES or "404" in error.detail or "not found" in error.detail.lower():
        return "check the package name and version, or the registry that should serve it"
    if error.code in PROTOCOL_CODES or "workspace:" in error.detail:
        return "give that dependency a version range, or a path that exists"
    if error.code == "ERESOLVE":
        return "the dependencies' peer versions conflict; align them or set legacy-peer-deps=true in ui/.npmrc"
    if "LIFECYCLE" in error.code or "script" in error.detail.lower():
        return "a dependency's install script failed"
    return "read the full output for the cause"


def install_failure(error: InstallError, what: str, *, log: Path | None = None) -> PlugindevError:
    """The one-line error for a failed install, pointing at the full output when it was kept."""
    about = f" for {error.package}" if error.package else ""
    where = f" (full output: {log}; -v prints it)" if log is not None else ""
    return PlugindevError(f"{what} failed: {error.code}{about}: {error.detail}; {hint(error)}{where}")
