"""Doctor checks of the machine itself: the state root, inotify watches, free Vite ports."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from orchestrator.common.errors import PlugindevError
from orchestrator.common.paths import state_root
from orchestrator.diagnose.checks import CheckResult, Failure, PluginFacts, failed

INOTIFY_LIMIT = Path("/proc/sys/fs/inotify/max_user_watches")


def unwritable_reason(folder: Path) -> str | None:
    """Why plugindev could not write in `folder` (creating it if needed), or None when it can.

    Tried for real (a temporary folder made and removed in it, or in the nearest existing parent) rather than
    read from permission bits, which root ignores and which say nothing of read-only mounts.
    """
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    created = "" if existing == folder else f", so {folder} cannot be created"
    if not existing.is_dir():
        return f"{existing} is not a folder{created}"
    try:
        probe = tempfile.mkdtemp(dir=existing, prefix=".plugindev-doctor-")
    except OSError as exc:
        return f"cannot write in {existing} ({exc.strerror}){created}"
    os.rmdir(probe)
    return None


def check_state_root(plugin: PluginFacts | None) -> CheckResult:
    from orchestrator.statefiles.install import sdk_manifest_dir

    what = "state root"
    try:
        root = state_root()
    except PlugindevError as exc:
        return failed(what, str(exc), "set OMNIVIEW_STATE_DIR to an absolute folder, or unset it to use ~/.omniview")
    failures: list[Failure] = []
    if (reason := unwritable_reason(root)) is not None:
        failures.append(Failure(f"{root}: {reason}", "set OMNIVIEW_STATE_DIR to a writable absolute folder "
                                                     "(plugindev installs the plugin and its .devinfo there)"))
    sdk_dir = sdk_manifest_dir(plugin.plugin_id if plugin and plugin.plugin_id else "<id>")
    elsewhere = sdk_dir.parent.parent.resolve() != root.resolve()
    if elsewhere and (reason := unwritable_reason(sdk_dir)) is not None:
        failures.append(Failure(f"the plugin SDK reads plugin.yaml from {sdk_dir} whatever the state root, "
                                f"and {reason}", f"make {sdk_dir.parent.parent} writable (plugindev puts "
                                "plugin.yaml there before the plugin starts)"))
    if failures:
        return CheckResult(what, failures=tuple(failures))
    sdk_note = f"; plugin.yaml also goes to {sdk_dir}, where the SDK reads it" if elsewhere else ""
    return CheckResult(what, f"{root} is writable{sdk_note}")


def _distinct_folders(roots: Iterable[Path], skip: frozenset[str] = frozenset()) -> int:
    """Folders under `roots` (and the roots), following symlinks, each real folder once."""
    seen: set[tuple[int, int]] = set()
    pending = [str(root) for root in roots]
    while pending:
        path = pending.pop()
        try:
            info = os.stat(path)
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            with os.scandir(path) as entries:
                pending.extend(e.path for e in entries if e.name not in skip and e.is_dir())
        except NotADirectoryError:
            continue  # a watched file (go.work) takes one watch, counted above
        except OSError:
            continue  # vanished or unreadable: not watched either
    return len(seen)


def watched_folder_count(plugin_dir: Path) -> int:
    """inotify watches a run of this plugin takes: watchfiles (Rust notify) puts one on every folder under the
    Go watch paths, following symlinks, including ui/ and its node_modules (measured on Linux); Vite's watcher
    one on each folder of ui/ outside node_modules and .git."""
    from orchestrator.go.watch import watch_paths

    ui = plugin_dir / "ui"
    vite = _distinct_folders([ui], frozenset({"node_modules", ".git"})) if ui.is_dir() else 0
    return _distinct_folders(watch_paths(plugin_dir)) + vite


def check_inotify(plugin: PluginFacts | None, limit_file: Path = INOTIFY_LIMIT) -> CheckResult:
    what = "inotify watches"
    if not sys.platform.startswith("linux"):
        return CheckResult(what, f"not applicable on {'macOS' if sys.platform == 'darwin' else sys.platform}",
                           skipped=True)
    try:
        limit = int(limit_file.read_text().strip())
    except (OSError, ValueError) as exc:
        return CheckResult(what, f"the limit cannot be read from {limit_file} ({exc})", skipped=True)
    if plugin is None:
        return CheckResult(what, f"the limit is {limit} (give a plugin DIR to count the folders it needs)")
    needed = watched_folder_count(plugin.dir)
    if needed > limit:
        return failed(what, f"a run of {plugin.dir} watches {needed} folders, but fs.inotify.max_user_watches is "
                            f"{limit}", "raise it: `sudo sysctl fs.inotify.max_user_watches=524288`, and add "
                                        "`fs.inotify.max_user_watches=524288` to /etc/sysctl.conf to keep it")
    return CheckResult(what, f"{needed} folders to watch for {plugin.dir}, the limit is {limit}")


def check_ports(plugin: PluginFacts | None) -> CheckResult:
    from orchestrator.common.net import HOST
    from orchestrator.devloop.vite import PORT_RANGE, port_is_free

    what = "Vite ports"
    span = f"{PORT_RANGE.start}-{PORT_RANGE.stop - 1}"
    if plugin is not None and not plugin.has_ui:
        return CheckResult(what, "not needed without a UI", skipped=True)
    free = next((port for port in PORT_RANGE if port_is_free(port)), None)
    if free is None:
        return failed(what, f"every port of {span} on {HOST} is taken",
                      f"stop what listens there (`ss -ltnp 'sport >= :{PORT_RANGE.start} and sport <= "
                      f":{PORT_RANGE.stop - 1}'` lists it; other plugindev runs use these ports too)")
    return CheckResult(what, f"{free} is free on {HOST} (the first of {span})")
