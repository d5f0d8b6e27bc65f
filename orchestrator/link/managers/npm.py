"""npm, the Node environment's own: selected by `package-lock.json` (or `npm-shrinkwrap.json`), and when
nothing selects another."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.common.install_errors import npm_error
from orchestrator.common.node import NodeEnv
from orchestrator.link.managers.base import ChosenManager, no_fresh_lockfile, node_environment

LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json")
LOCAL_PROTOCOL = "file:"


def version(pinned: str | None, lockfile_head: str) -> None:
    """The environment's npm whatever `packageManager` says: every npm since 7 reads and writes the same
    lockfile format."""
    return None


async def install_command(chosen: ChosenManager, env: NodeEnv) -> list[str]:
    return [env.which("npm"), "install", "--no-audit", "--no-fund", "--loglevel=error"]


environment = node_environment
fresh_lockfile = no_fresh_lockfile


def pin_shared(manifest: dict[str, Any], installed_shared: Mapping[str, str]) -> dict[str, Any]:
    """Each one an override at the manifest's own spec: a dependency that peers another release of it (a
    bundled `@mui/icons-material` wanting a newer `@mui/material` than the host's) then takes the plugin's
    instead of failing with ERESOLVE."""
    own = manifest.get("overrides")
    if not installed_shared or not (own is None or isinstance(own, dict)):
        return manifest
    return {**manifest, "overrides": {**installed_shared, **(own or {})}}  # the plugin's own overrides win


condense = npm_error
