"""Building a plugin's Go side: how to build, how to read `go build`'s errors.

The rebuild loop (common.rebuild) serializes builds; `go_build` makes a cancelled build end with its whole
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from orchestrator.common.errors import PlugindevError
from orchestrator.common.files import write_failure
from orchestrator.common.lines import pump_lines
from orchestrator.common.paths import TEMP_DIR_PREFIX
from orchestrator.common.process import descendants, signal_tree, spawn, stop_group
from orchestrator.go.progress import BuildProgress
from orchestrator.model.events import BuildError

# a cancelled build's time to stop by itself (it then removes its work folder) before it is killed
BUILD_STOP = 2.0
TOOL_POLL = 0.02  # seconds between looks at the tools a stopping go build runs
TOOL_WAIT = 0.2  # seconds without a tool after which a stopping go build is taken to run none (loading packages)
BUILD_TMP_PREFIX = f"{TEMP_DIR_PREFIX}go-"  # a build's own GOTMPDIR, in the temp dir (or the author's GOTMPDIR)
# Development builds leave DWARF out: the linker writes a third less, so a reload is that much faster, and panics
# still print file:line stack traces (those come from the runtime's own tables). `run --debug` builds for Delve
# instead: DWARF kept, optimizations and inlining off, so every line and variable can be inspected.
DEV_BUILD_FLAGS = ("-ldflags=-w",)
DEBUG_BUILD_FLAGS = ("-gcflags=all=-N -l",)

_ERROR_LINE = re.compile(r"^(?P<file>[^\s:#][^:]*\.go):(?P<line>\d+)(?::(?P<column>\d+))?: (?P<message>.+)$")


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
                   on_spawn: Callable[[int, Path | None], None] = lambda _pid, _temp: None,
                   progress: BuildProgress | None = None, debug: bool = False) -> BuildResult:
    """`go build -o BINARY ./pkg` (with DEBUG_BUILD_FLAGS when `debug`, else DEV_BUILD_FLAGS), output streamed;
    cancelling it ends the whole build (go runs compile and link as children) and waits for it, so no two builds
    ever overlap. Each build has a temporary folder of its own (GOTMPDIR, where go makes its `go-build*` work
    folder), removed after it however it ends; `on_spawn(pid, folder)` tells it with the build's pid, so a kill -9 of
    plugindev mid-build leaves the next start a record of it. With `progress`, modules the module cache lacks are
    downloaded first, and a slow build says so as it goes."""
    started = time.monotonic_ns()
    if progress is not None:
        await progress.fetch_modules(plugin_dir, go, on_line=on_line, on_spawn=lambda pid: on_spawn(pid, None))
    parent = os.environ.get("GOTMPDIR") or tempfile.gettempdir()  # the author's GOTMPDIR is kept
    try:
        own_tmp = Path(tempfile.mkdtemp(prefix=BUILD_TMP_PREFIX, dir=parent))
    except OSError as exc:
        raise PlugindevError(f"{write_failure(exc, Path(parent))} (go build's temporary files go there: set "
                             "GOTMPDIR or TMPDIR to another folder)") from None
    try:
        flags = DEBUG_BUILD_FLAGS if debug else DEV_BUILD_FLAGS
        process = await spawn([go, "build", "-buildvcs=false", *flags, "-o", str(binary), "./pkg"],
                              cwd=plugin_dir, env=os.environ | {"GOTMPDIR": str(own_tmp)},
                              on_spawn=lambda pid: on_spawn(pid, own_tmp),
                              merge_stderr=True)
        lines: list[str] = []

        def collect(line: str) -> None:
            lines.append(line)
            on_line(line)

        try:
            assert process.stdout is not None
            async with progress.compiling() if progress is not None else contextlib.nullcontext():
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
            signal_tree([tool for tool in tools if runs_its_own_program(tool, process.pid)], signal.SIGINT)
            idle_until = loop.time() + TOOL_WAIT
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), TOOL_POLL)
    return await stop_group(process, timeout=0.0)


def runs_its_own_program(child: psutil.Process, go_pid: int) -> bool:
    """Whether a child of go runs its tool already. Until its exec, go's child shares go's memory (Linux starts it
    with vfork): a signal then could end go itself (seen as go killed by SIGTRAP), so it is left for the next look."""
    with contextlib.suppress(psutil.Error):
        return child.ppid() != go_pid or child.name() != psutil.Process(go_pid).name()
    return False


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
