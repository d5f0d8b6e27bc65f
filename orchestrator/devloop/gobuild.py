"""The Go side of the dev loop: what to watch, how to build, how to read `go build`'s errors.

The rebuild loop (devloop.rebuild) serializes builds; `go_build` makes a cancelled build end with its whole
process group before it returns.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from orchestrator.common.errors import PlugindevError
from orchestrator.common.lines import pump_lines
from orchestrator.common.process import spawn, stop_group
from orchestrator.devloop.context import PartContext
from orchestrator.devloop.events import BuildError, Level, Source
from orchestrator.devloop.rebuild import WATCH_STEP_MS, trailing_debounce

WATCHED_NAMES = {"go.mod", "go.sum", "go.work", "go.work.sum"}
MANIFEST = "plugin.yaml"  # watched at the plugin root only: an edit is checked, installed, and restarts the plugin
IGNORED_DIRS = {"ui", "node_modules", "build", "vendor", "testdata"}

_ERROR_LINE = re.compile(r"^(?P<file>[^\s:#][^:]*\.go):(?P<line>\d+)(?::(?P<column>\d+))?: (?P<message>.+)$")


def find_go(explicit: str | None = None) -> str:
    """`--go`, then `$PLUGINDEV_GO`, then PATH, then `$GOROOT/bin`."""
    for candidate in (explicit, os.environ.get("PLUGINDEV_GO")):
        if candidate:
            found = shutil.which(candidate)
            if found is None:
                raise PlugindevError(f"Go toolchain {candidate!r} not found or not executable")
            return found
    found = shutil.which("go")
    goroot = os.environ.get("GOROOT")
    if found is None and goroot and (Path(goroot) / "bin" / "go").is_file():
        found = str(Path(goroot) / "bin" / "go")
    if found is None:
        raise PlugindevError("no Go toolchain: install Go, or pass --go PATH / set PLUGINDEV_GO")
    return found


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


async def watch_go_sources(ctx: PartContext, trigger: asyncio.Event, stop: asyncio.Event) -> None:
    """Set `trigger` after one quiet period following changes to the plugin's Go sources or plugin.yaml."""
    from watchfiles import awatch  # the Rust watcher loads on first use

    paths = watch_paths(ctx.plugin_dir)

    def changed(batch: set[tuple[object, str]]) -> None:
        names = sorted({Path(p).name for _, p in batch})
        ctx.log(Source.GO_WATCH, Level.DEBUG, f"changed: {', '.join(names)}")

    batches = awatch(*paths, watch_filter=GoFileFilter(paths), step=WATCH_STEP_MS, stop_event=stop)
    await trailing_debounce(batches, ctx.options.debounce_ms / 1000, trigger, changed)


def parse_build_errors(output: str, plugin_dir: Path) -> list[BuildError]:
    """`file:line[:col]: message` lines of `go build`/`go vet`, with paths made absolute."""
    errors: list[BuildError] = []
    for line in output.splitlines():
        match = _ERROR_LINE.match(line.strip())
        if match is None:
            continue
        file = Path(match["file"])
        absolute = file if file.is_absolute() else (plugin_dir / file).resolve()
        errors.append(BuildError(str(absolute), int(match["line"]), int(match["column"] or 0), match["message"]))
    return errors


@dataclass(frozen=True)
class BuildResult:
    ok: bool
    duration_ns: int
    output: str
    errors: list[BuildError]


async def go_build(plugin_dir: Path, go: str, binary: Path, *, on_line: Callable[[str], None],
                   on_spawn: Callable[[int], None] = lambda _pid: None) -> BuildResult:
    """`go build -o BINARY ./pkg`, output streamed; cancelling it ends the whole build (go runs compile and link
    as children) and waits for it, so no two builds ever overlap."""
    started = time.monotonic_ns()
    process = await spawn([go, "build", "-buildvcs=false", "-o", str(binary), "./pkg"], cwd=plugin_dir,
                          on_spawn=on_spawn, merge_stderr=True)
    lines: list[str] = []

    def collect(line: str) -> None:
        lines.append(line)
        on_line(line)

    try:
        assert process.stdout is not None
        await pump_lines(process.stdout, collect)
        code = await process.wait()
    except asyncio.CancelledError:
        await stop_group(process, timeout=0.0)
        raise
    output = "\n".join(lines)
    return BuildResult(code == 0, time.monotonic_ns() - started, output,
                       [] if code == 0 else parse_build_errors(output, plugin_dir))


# What `go build` says when go.mod/go.sum do not match the imports: `go mod tidy` is the fix.
_NEEDS_TIDY = ("missing go.sum entry", "no required module provides package", "updates to go.mod needed",
               "go: updates to go.sum needed")


def build_failure_lines(result: BuildResult, plugin_dir: Path) -> list[str]:
    """Go's output as an author reads it: each error once, its path relative to the plugin, Go's hint lines
    kept, and what to do when the fix is a known command."""
    root = plugin_dir.resolve()
    lines: list[str] = []
    for line in result.output.splitlines():
        if not line.strip() or line.startswith("# "):  # `# package` headers repeat what the paths say
            continue
        match = _ERROR_LINE.match(line.strip())
        if match is not None:
            file = (root / match["file"]).resolve()
            shown = file.relative_to(root) if file.is_relative_to(root) else file
            column = f":{match['column']}" if match["column"] else ""
            line = f"{shown}:{match['line']}{column}: {match['message']}"
        lines.append(line.rstrip())
    if not lines:
        lines.append("go build failed without saying why")
    if any(marker in result.output for marker in _NEEDS_TIDY):
        lines.append(f"go.mod or go.sum does not match the imports: run `go mod tidy` in {root}")
    return lines
