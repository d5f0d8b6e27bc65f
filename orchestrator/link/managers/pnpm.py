"""pnpm: selected by `pnpm-lock.yaml` (or a pnpm workspace around ui/); run at the version `packageManager`
pins, else at the last release that writes the lockfile's format, never "latest" (a newer major may rewrite
the format or refuse build scripts)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from orchestrator.common.install_errors import InstallError, install_error
from orchestrator.common.node import NodeEnv
from orchestrator.link.managers.base import (
    ChosenManager,
    no_fresh_lockfile,
    node_environment,
    shared_unpinned,
    tool_entry,
)

# lockfile format major -> the last pnpm release that writes it
PNPM_FOR_LOCKFILE = {"9": "9.15.9", "6": "8.15.9", "5": "7.33.7"}
DEFAULT_PNPM = PNPM_FOR_LOCKFILE["9"]
LOCKFILES = ("pnpm-lock.yaml",)
LOCAL_PROTOCOL = "link:"

_LOCKFILE_VERSION = re.compile(r"^lockfileVersion:\s*['\"]?(\d+)", re.MULTILINE)
_ERROR_LINE = re.compile(r"\b(ERR_PNPM_[A-Z0-9_]+)\b\s*(.*)")


def version(pinned: str | None, lockfile_head: str) -> str:
    if pinned is not None:
        return pinned
    found = _LOCKFILE_VERSION.search(lockfile_head)
    return PNPM_FOR_LOCKFILE.get(found[1], DEFAULT_PNPM) if found else DEFAULT_PNPM


async def install_command(chosen: ChosenManager, env: NodeEnv) -> list[str]:
    # the folder is not part of any workspace; never prompt; a lockfile that no longer matches is updated
    argv = [*await tool_entry(chosen, env, "pnpm", "bin/pnpm.cjs"), "install", "--ignore-workspace",
            "--no-frozen-lockfile", "--reporter=append-only", "--config.confirm-modules-purge=false"]
    # pnpm 10 runs no dependency build scripts unless allowed; esbuild's and the like must run
    return [*argv, "--config.dangerously-allow-all-builds=true"] if chosen.major >= 10 else argv


environment = node_environment
fresh_lockfile = no_fresh_lockfile
pin_shared = shared_unpinned


def condense(output: str, dependencies: Mapping[str, str]) -> InstallError:
    """` ERR_PNPM_FETCH_404  GET https://...`, on stdout."""
    found = _ERROR_LINE.search(output)
    code, detail = (found[1], found[2].strip()) if found else ("error", "")
    return install_error(output, code, detail, dependencies)
