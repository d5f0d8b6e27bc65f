"""`plugindev install`: a release folder into `<state root>/plugins/<id>/`, whole or not at all.

The new folder is copied beside the installed one and swapped in with renames (see layout.replace_folder): Omniview
never sees a binary of one build beside assets of another, and a failure (disk full, permissions) leaves the old
install as it was. plugin.yaml is also placed where the SDK reads it (`~/.omniview/plugins/<id>/`) when the state
root is elsewhere, as `plugindev run` does. Links are copied as links, and only those that lead inside the release.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from orchestrator.common.errors import PlugindevError
from orchestrator.common.files import UnreadableFile, write_failure
from orchestrator.release.layout import copy_release_tree, replace_folder, staging_folder


def _running_dev_process(installed: Path) -> int | None:
    """The pid of a dev process advertised in the installed folder's `.devinfo`, while it runs."""
    from orchestrator.statefiles.codec import Rejected
    from orchestrator.statefiles.devinfo import DEVINFO, load_devinfo, process_gone

    try:
        info = load_devinfo(installed / DEVINFO)
    except (UnreadableFile, Rejected):  # none, or not one a running plugin wrote
        return None
    return None if process_gone(info) else info.pid


def install_release(release: Path, plugin_id: str, root: Path) -> Path:
    """Install the release folder as plugin `plugin_id` under the state root; the installed folder."""
    from orchestrator.statefiles.install import plugin_state_dir, sdk_manifest_dir, sync_manifest

    target = plugin_state_dir(plugin_id, root)
    if (pid := _running_dev_process(target)) is not None:
        raise PlugindevError(f"{plugin_id} runs in development from {target} (pid {pid}, see its .devinfo); stop "
                             "`plugindev run` first, then install")
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
