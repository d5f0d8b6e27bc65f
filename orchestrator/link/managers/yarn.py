"""yarn: selected by `yarn.lock`; run at the version `packageManager` pins, else yarn 1 (classic) or, for a
lockfile yarn 2+ wrote, yarn 4 (berry), always with a node_modules folder."""

from __future__ import annotations

import re
from collections.abc import Mapping

from orchestrator.common.install_errors import InstallError, install_error
from orchestrator.common.node import NodeEnv
from orchestrator.link.managers.base import ChosenManager, shared_unpinned, tool_entry

DEFAULT_YARN_CLASSIC = "1.22.22"
DEFAULT_YARN_BERRY = "4.9.2"
LOCKFILES = ("yarn.lock",)
LOCAL_PROTOCOL = "file:"

_BERRY_LINE = re.compile(r"\b(YN(?!0000)\d{4})\b:?\s*(?:[│|]\s*)?(.*)")
_CLASSIC_LINE = re.compile(r"^error (.+)", re.MULTILINE)


def version(pinned: str | None, lockfile_head: str) -> str:
    if pinned is not None:
        return pinned
    return DEFAULT_YARN_BERRY if "__metadata:" in lockfile_head else DEFAULT_YARN_CLASSIC


async def install_command(chosen: ChosenManager, env: NodeEnv) -> list[str]:
    if chosen.major < 2:
        return [*await tool_entry(chosen, env, "yarn", "bin/yarn.js"), "install", "--non-interactive",
                "--no-progress"]
    return [*await tool_entry(chosen, env, "@yarnpkg/cli-dist", "bin/yarn.js"), "install"]


def environment(chosen: ChosenManager, env: NodeEnv) -> dict[str, str]:
    environ = env.environ()
    if chosen.major >= 2:
        # a node_modules folder (not Plug'n'Play), and a lockfile that may be updated in plugindev's copy
        environ.update(YARN_NODE_LINKER="node-modules", YARN_ENABLE_IMMUTABLE_INSTALLS="false")
    return environ


def fresh_lockfile(chosen: ChosenManager) -> bytes | None:
    # yarn 2+ takes a folder without a yarn.lock for a part of the project above it (ui/) and refuses it
    return b"" if chosen.major >= 2 else None


pin_shared = shared_unpinned


def condense(output: str, dependencies: Mapping[str, str]) -> InstallError:
    """yarn 2+: `YN0035: │ name@npm:range: Package not found`; yarn 1: `error An unexpected error occurred`."""
    berry = _BERRY_LINE.search(output)
    classic = _CLASSIC_LINE.search(output)
    code, detail = (berry[1], berry[2].strip()) if berry else ("error", classic[1].strip() if classic else "")
    return install_error(output, code, detail, dependencies)
