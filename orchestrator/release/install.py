"""`plugindev install`: a release folder into `<state root>/plugins/<id>/`, whole or not at all.

The plugin is locked as `plugindev run` and `serve` lock it (`installing`), before its build: a dev session that
holds it refuses the install at once, naming its command, instead of after a build of a minute, and a session
started meanwhile is refused until the install is done. The new folder is copied beside the installed one and
swapped in with renames (see layout.replace_folder): Omniview never sees a binary of one build beside assets of
another, and a failure (disk full, permissions) leaves the old install as it was. plugin.yaml is also placed where
the SDK reads it (`~/.omniview/plugins/<id>/`) when the state root is elsewhere, as `plugindev run` does. Links are
copied as links, and only those that lead inside the release.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

from orchestrator.common.errors import PlugindevError
from orchestrator.common.files import UnreadableFile, write_failure
from orchestrator.release.layout import copy_release_tree, replace_folder, staging_folder
from orchestrator.statefiles.registry import LockHolder, PluginLock, check_state_root


class InstallLock(PluginLock):
    """The plugin's dev lock, held by `plugindev install`; refused with what stops the session that holds it."""

    def __init__(self, state_root: Path, plugin_id: str) -> None:
        super().__init__(state_root, plugin_id, "install")

    def refusal(self, holder: LockHolder) -> str:
        if holder.command == "install":
            return f"plugin {self.plugin_id!r} is being installed by another {holder}; wait for it to finish"
        stop = {"serve": f"remove it from that serve (`plugindev remove {self.plugin_id}`) or stop the serve",
                "run": "stop that run (Ctrl+C where it runs)"}.get(holder.command, "stop it")
        return f"plugin {self.plugin_id!r} is in development under {holder}; {stop}, then install"


@contextlib.contextmanager
def installing(plugin_id: str, root: Path) -> Iterator[None]:
    """The plugin locked against dev sessions while it is built and installed; refused at once when a session
    holds it, or a plugin run outside plugindev serves from the installed folder."""
    check_state_root(root)
    lock = InstallLock(root, plugin_id)
    lock.acquire()
    try:
        _refuse_running(plugin_id, root)
        yield
    finally:
        lock.release()


def _refuse_running(plugin_id: str, root: Path) -> None:
    """A live process advertised in the installed folder's `.devinfo`, which no plugindev session wrote (those hold
    the lock): one run by hand, or by the SDK itself (OMNIVIEW_DEV=1)."""
    from orchestrator.statefiles.codec import Rejected
    from orchestrator.statefiles.devinfo import DEVINFO, load_devinfo, process_gone
    from orchestrator.statefiles.install import plugin_state_dir

    folder = plugin_state_dir(plugin_id, root)
    try:
        info = load_devinfo(folder / DEVINFO)
    except (UnreadableFile, Rejected):  # none, or not one a running plugin wrote
        return
    if not process_gone(info):
        raise PlugindevError(f"plugin {plugin_id!r} runs in development from {folder} (pid {info.pid}, see its "
                             ".devinfo); stop it first, then install")


def install_release(release: Path, plugin_id: str, root: Path) -> Path:
    """Install the release folder as plugin `plugin_id` under the state root (inside `installing`); the installed
    folder."""
    from orchestrator.statefiles.install import plugin_state_dir, sdk_manifest_dir, sync_manifest

    _refuse_running(plugin_id, root)  # again: one may have started during the build
    target = plugin_state_dir(plugin_id, root)
    staged: Path | None = None
    try:
        staged = staging_folder(target)
        copy_release_tree(release, staged)
        replace_folder(staged, target)
        sync_manifest(target, [sdk_manifest_dir(plugin_id)])
    except OSError as exc:
        raise PlugindevError(write_failure(exc, target)) from None
    finally:
        if staged is not None:
            shutil.rmtree(staged, ignore_errors=True)
    return target
