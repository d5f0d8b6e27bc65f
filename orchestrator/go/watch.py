"""What of a plugin's Go side is watched: its Go sources, module files and plugin.yaml, and the other modules of
the go.work it uses; a change is handed on after one quiet period."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncGenerator, Callable, Iterable
from pathlib import Path

from orchestrator.common.rebuild import WATCH_STEP_MS, rearmed_watch, trailing_debounce

WATCHED_NAMES = {"go.mod", "go.sum", "go.work", "go.work.sum"}
MANIFEST = "plugin.yaml"  # watched at the plugin root only: an edit is checked, installed, and restarts the plugin
IGNORED_DIRS = {"ui", "node_modules", "build", "vendor", "testdata"}


def find_go_work(plugin_dir: Path) -> Path | None:
    """The go.work that applies to the plugin, as `go` finds it ($GOWORK, else the nearest upwards)."""
    setting = os.environ.get("GOWORK")
    if setting == "off":
        return None
    if setting:
        return Path(setting)
    for folder in (plugin_dir.resolve(), *plugin_dir.resolve().parents):
        if (folder / "go.work").is_file():
            return folder / "go.work"
    return None


def watch_paths(plugin_dir: Path) -> list[Path]:
    """The plugin itself, plus the go.work file and the `pkg/` of the other modules it uses."""
    paths = [plugin_dir.resolve()]
    work = find_go_work(plugin_dir)
    if work is not None:
        paths.append(work)
        for module in _go_work_uses(work):
            if module != paths[0] and (module / "pkg").is_dir():
                paths.append(module / "pkg")
    return paths


def _go_work_uses(work: Path) -> list[Path]:
    text = re.sub(r"//[^\n]*", "", work.read_text())
    found: list[str] = []
    for block in re.findall(r"\buse\s*\(([^)]*)\)", text):
        found.extend(block.split())
    found.extend(re.findall(r"\buse\s+([^\s(][^\s]*)", text))
    return [(work.parent / entry.strip('"')).resolve() for entry in found]


class GoFileFilter:
    """watchfiles filter: Go sources and module files, and folders (a package renamed away and back brings no
    file event of its own), outside UI, build output, vendor and dot-dirs."""

    def __init__(self, roots: Iterable[Path]) -> None:
        self.roots = [r.resolve() for r in roots]

    def __call__(self, _change: object, path: str) -> bool:
        file = Path(path)
        if file.name == MANIFEST:
            return file.parent == self.roots[0]
        folder = file.is_dir() or (not file.suffix and not file.exists())  # a folder, or one that just went
        if not (folder or file.suffix == ".go" or file.name in WATCHED_NAMES):
            return False
        for root in self.roots:
            if file.is_relative_to(root):
                parts = file.relative_to(root).parts
                return not any(p in IGNORED_DIRS or p.startswith(".") for p in (parts if folder else parts[:-1]))
        return True


async def watch_go_sources(plugin_dir: Path, quiet: float, trigger: asyncio.Event, stop: asyncio.Event, *,
                           changed: Callable[[list[str]], None], warn: Callable[[str], None]) -> None:
    """Set `trigger` after `quiet` seconds without changes to the plugin's Go sources or plugin.yaml; `changed` gets
    the names in each batch, `warn` what the author should know about the watch itself."""
    from watchfiles import Change, awatch  # the Rust watcher loads on first use

    paths = watch_paths(plugin_dir)

    def seen(batch: set[tuple[Change, str]]) -> None:
        changed(sorted({Path(p).name for _, p in batch}))

    def watch(until: asyncio.Event) -> AsyncGenerator[set[tuple[Change, str]], None]:
        return awatch(*paths, watch_filter=GoFileFilter(paths), step=WATCH_STEP_MS, stop_event=until)

    # a plugin folder removed and made again (a fresh clone, a checkout tool) is watched again once it is back
    batches = rearmed_watch(paths[0], watch, stop, came_back={(Change.added, str(paths[0]))},
                            say=warn)
    await trailing_debounce(batches, quiet, trigger, seen)
