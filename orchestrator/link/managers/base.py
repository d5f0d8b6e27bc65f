"""What plugindev needs of a package manager (the `PackageManager` protocol, met by each module of this
package), and the choice of one for a plugin's UI."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from orchestrator.common.install_errors import InstallError
from orchestrator.common.node import NodeEnv, install_packages


class PackageManager(Protocol):
    @property
    def LOCKFILES(self) -> tuple[str, ...]:
        """The lockfiles in ui/ that select it, the one it writes first."""

    @property
    def LOCAL_PROTOCOL(self) -> str:
        """How its manifests depend on a local folder: `file:` or `link:`."""

    def version(self, pinned: str | None, lockfile_head: str) -> str | None:
        """The version plugindev runs: `pinned` (from `packageManager`), else one that writes the lockfile's format
        (from its first 4 KiB); None: the Node environment's own."""

    async def install_command(self, chosen: ChosenManager, env: NodeEnv) -> list[str]:
        """The argv of its install in a plugindev-owned project folder, the tool installed on first use."""

    def environment(self, chosen: ChosenManager, env: NodeEnv) -> dict[str, str]:
        """The environment its install runs in."""

    def fresh_lockfile(self, chosen: ChosenManager) -> bytes | None:
        """What to write as its lockfile when the plugin has none; None: nothing."""

    def pin_shared(self, manifest: dict[str, Any], installed_shared: Mapping[str, str]) -> dict[str, Any]:
        """The derived manifest, made to install the shared packages it lists (name -> spec) at those specs
        even where a dependency peers another release of one."""

    def condense(self, output: str, dependencies: Mapping[str, str]) -> InstallError:
        """The code, package and first message of a failed install's output (stdout and stderr together)."""


@dataclass(frozen=True)
class ChosenManager:
    name: str  # its name in the registry, as `packageManager` spells it
    manager: PackageManager
    version: str | None  # exact version plugindev runs; None: the Node environment's own
    reason: str  # where the choice comes from, for messages
    lockfile: Path | None  # the plugin's lockfile (in ui/ or at the workspace root)
    workspace_root: Path | None  # the folder holding pnpm-workspace.yaml, when ui/ is inside one

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}" if self.version else self.name

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0]) if self.version and self.version[0].isdigit() else 0


def tool_folder(chosen: ChosenManager, env: NodeEnv) -> Path:
    """Where a manager's version is installed (once) inside plugindev's Node environment."""
    return env.root / "package-managers" / chosen.label


async def tool_entry(chosen: ChosenManager, env: NodeEnv, package: str, script: str) -> list[str]:
    """`node <script>` of the npm package that ships the manager, installed on first use with the environment's
    npm and run with its Node."""
    assert chosen.version is not None, "a manager plugindev installs always has a version"
    folder = tool_folder(chosen, env)
    await install_packages(env, folder, {package: chosen.version})
    return [env.which("node"), str(folder / "node_modules" / package / script)]


# What most managers do, for their modules to name (`environment = node_environment`):

def node_environment(chosen: ChosenManager, env: NodeEnv) -> dict[str, str]:
    """The Node environment's, as is."""
    return env.environ()


def no_fresh_lockfile(chosen: ChosenManager) -> None:
    """It installs without a lockfile."""
    return None


def shared_unpinned(manifest: dict[str, Any], installed_shared: Mapping[str, str]) -> dict[str, Any]:
    """Its install takes a peer's other release without failing: nothing to pin."""
    return manifest
