"""The Go side of the dev loop: what to watch, how to build, how to read `go build`'s errors.

The rebuild loop (devloop.rebuild) serializes builds; `go_build` makes a cancelled build end with its whole
process group before it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import tempfile
import time
from collections.abc import AsyncGenerator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from orchestrator.common.errors import PlugindevError
from orchestrator.common.files import write_failure
from orchestrator.common.lines import pump_lines
from orchestrator.common.process import descendants, signal_tree, spawn, stop_group
from orchestrator.devloop.context import PartContext
from orchestrator.devloop.events import BuildError, Level, Source
from orchestrator.devloop.rebuild import WATCH_STEP_MS, rearmed_watch, trailing_debounce

WATCHED_NAMES = {"go.mod", "go.sum", "go.work", "go.work.sum"}
MANIFEST = "plugin.yaml"  # watched at the plugin root only: an edit is checked, installed, and restarts the plugin
IGNORED_DIRS = {"ui", "node_modules", "build", "vendor", "testdata"}

# a cancelled build's time to stop by itself (it then removes its work folder) before it is killed
BUILD_STOP = 2.0
TOOL_POLL = 0.02  # seconds between looks at the tools a stopping go build runs
TOOL_WAIT = 0.2  # seconds without a tool after which a stopping go build is taken to run none (loading packages)
BUILD_TMP_PREFIX = "plugindev-go-"  # a build's own GOTMPDIR, in the temp dir (or the author's GOTMPDIR)

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
    from watchfiles import Change, awatch  # the Rust watcher loads on first use

    paths = watch_paths(ctx.plugin_dir)

    def changed(batch: set[tuple[Change, str]]) -> None:
        names = sorted({Path(p).name for _, p in batch})
        ctx.log(Source.GO_WATCH, Level.DEBUG, f"changed: {', '.join(names)}")

    def watch(until: asyncio.Event) -> AsyncGenerator[set[tuple[Change, str]], None]:
        return awatch(*paths, watch_filter=GoFileFilter(paths), step=WATCH_STEP_MS, stop_event=until)

    # a plugin folder removed and made again (a fresh clone, a checkout tool) is watched again once it is back
    batches = rearmed_watch(paths[0], watch, stop, came_back={(Change.added, str(paths[0]))},
                            say=lambda message: ctx.log(Source.GO_WATCH, Level.WARN, message))
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
    as children) and waits for it, so no two builds ever overlap. Each build has a temporary folder of its own
    (GOTMPDIR, where go makes its `go-build*` work folder), removed after it however it ends."""
    started = time.monotonic_ns()
    parent = os.environ.get("GOTMPDIR") or tempfile.gettempdir()  # the author's GOTMPDIR is kept
    try:
        own_tmp = Path(tempfile.mkdtemp(prefix=BUILD_TMP_PREFIX, dir=parent))
    except OSError as exc:
        raise PlugindevError(f"{write_failure(exc, Path(parent))} (go build's temporary files go there: set "
                             "GOTMPDIR or TMPDIR to another folder)") from None
    try:
        process = await spawn([go, "build", "-buildvcs=false", "-o", str(binary), "./pkg"], cwd=plugin_dir,
                              env=os.environ | {"GOTMPDIR": str(own_tmp)}, on_spawn=on_spawn, merge_stderr=True)
        lines: list[str] = []

        def collect(line: str) -> None:
            lines.append(line)
            on_line(line)

        try:
            assert process.stdout is not None
            await pump_lines(process.stdout, collect)
            code = await process.wait()
        except asyncio.CancelledError:
            await stop_build(process)
            raise
    finally:
        shutil.rmtree(own_tmp, ignore_errors=True)
    output = "\n".join(lines)
    return BuildResult(code == 0, time.monotonic_ns() - started, output,
                       [] if code == 0 else parse_build_errors(output, plugin_dir))


async def stop_build(process: asyncio.subprocess.Process) -> int:
    """End a `go build` and all it runs, letting go remove its work folder when it can.

    A signal to go itself ends it at once, work folder left behind; a tool of its (compile, asm, link) that
    fails makes it stop and clean up. So the tools it runs are interrupted until go exits (within BUILD_STOP);
    when it runs none for TOOL_WAIT (it is loading packages), there is nothing to wait for. Then whatever
    still runs is ended.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BUILD_STOP
    idle_until = loop.time() + TOOL_WAIT
    while process.returncode is None and loop.time() < min(deadline, idle_until):
        if tools := descendants(process.pid):  # go starts tools one after another: each is interrupted
            signal_tree(tools, signal.SIGINT)
            idle_until = loop.time() + TOOL_WAIT
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), TOOL_POLL)
    return await stop_group(process, timeout=0.0)


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
