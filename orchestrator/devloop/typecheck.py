"""The TypeScript check beside Vite (`run` and `serve` with the dev UI; `--no-typecheck` turns it off).

Vite only strips types, so a type error shows nowhere until something checks them: `tsc --noEmit --watch` checks ui/
again after every save, incrementally (only what the save touched). It is the UI's own `tsc` when ui/ has
TypeScript, else one plugindev installs into its cache once. Each check's errors become BuildErrors of source "tsc":
said in the terminal once (a check that finds the same ones says nothing), and reported, so the error event, the
dashboard and the preview have them; a check that finds none after some clears them.

tsc runs in a process group of its own, kept running by the one supervisor (restarted with the backoff when it exits).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

from orchestrator.common.durations import seconds_text
from orchestrator.common.errors import PlugindevError
from orchestrator.common.lines import pump_lines, strip_ansi
from orchestrator.common.node import ensure_node_env, install_dir, install_packages
from orchestrator.common.process import spawn, stop_group
from orchestrator.common.supervision import BACKOFF, Backoff
from orchestrator.common.tasks import ended
from orchestrator.devloop.context import PartContext
from orchestrator.devloop.supervisor import Exited, StartFailed, Stopped, Supervisor, SupervisorEvent
from orchestrator.model.events import BuildError, Level, Source

TYPESCRIPT = {"typescript": "5.9.3"}  # what plugindev installs for a UI without TypeScript of its own
TSC_ARGS = ("--noEmit", "--watch", "--preserveWatchOutput", "--pretty", "false")
_READER_DRAIN = 1.0  # seconds an exited tsc's last lines may take to arrive

# `src/a.tsx(10,9): error TS2322: Type 'number' is not assignable to type 'string'.`, or one of no file
_DIAGNOSTIC = re.compile(r"^(?:(?P<file>.+?)\((?P<line>\d+),(?P<column>\d+)\): )?"
                         r"(?P<severity>error|warning|message) (?P<code>TS\d+): (?P<message>.*)$")
# a check is over: `12:00:01 PM - Found 1 error. Watching for file changes.`
_CHECKED = re.compile(r"\bFound \d+ errors?\. Watching for file changes\.$")
_CHAIN = "  "  # tsc indents the next lines of a message (`Type 'x' is missing …`) by this much per level


class CheckOutput:
    """tsc's watch output, a line at a time: each check's errors, handed to `on_check` when tsc says it is over."""

    def __init__(self, ui_dir: Path, on_check: Callable[[tuple[BuildError, ...]], None]) -> None:
        self.ui_dir = ui_dir
        self.on_check = on_check
        self._errors: list[BuildError] = []

    def feed(self, line: str) -> None:
        text = strip_ansi(line).rstrip()
        if _CHECKED.search(text):
            errors, self._errors = tuple(self._errors), []
            self.on_check(errors)
        elif (match := _DIAGNOSTIC.match(text)) is not None:
            file = os.path.normpath(self.ui_dir / match["file"]) if match["file"] else ""
            self._errors.append(BuildError(file, int(match["line"] or 0), int(match["column"] or 0),
                                           f"{match['code']}: {match['message']}", match["severity"], "tsc"))
        elif text.startswith(_CHAIN) and self._errors:
            last = self._errors[-1]
            self._errors[-1] = replace(last, message=f"{last.message}\n{text.removeprefix(_CHAIN)}")


def error_lines(error: BuildError, plugin_dir: Path) -> list[str]:
    """A type error as the terminal shows it: `ui/src/a.tsx:10:9: TS2322: …`, its message's next lines indented."""
    first, *rest = error.message.splitlines() or [""]
    if error.file:
        path = Path(error.file)
        shown = path.relative_to(plugin_dir) if path.is_relative_to(plugin_dir) else path
        first = f"{shown}:{error.line}:{error.column}: {first}"
    return [first, *(_CHAIN + line for line in rest)]


class TscWatch:
    """One `tsc --watch` process, its output read as it comes."""

    def __init__(self, process: asyncio.subprocess.Process, on_line: Callable[[str], None]) -> None:
        assert process.stdout is not None
        self.process = process
        self.pid = process.pid
        self._reader = asyncio.create_task(pump_lines(process.stdout, on_line))

    async def wait(self) -> int:
        code = await self.process.wait()
        await asyncio.wait([self._reader], timeout=_READER_DRAIN)
        return code

    async def stop(self) -> None:
        await stop_group(self.process, timeout=2.0)
        await ended(self._reader)


class TypeCheck:
    """`tsc --watch` over ui/ while the dev UI runs: kept running, each check's errors said once and reported."""

    name = "the TypeScript check"

    def __init__(self, ctx: PartContext, env: dict[str, str], *, backoff: Backoff = BACKOFF) -> None:
        self.ctx = ctx
        self.ui_dir = ctx.plugin_dir / "ui"
        self.env = env
        self.backoff = backoff
        self._said: tuple[BuildError, ...] | None = None  # the errors of the last check said; None: none yet

    async def run(self, stop: asyncio.Event) -> None:
        if not (self.ui_dir / "tsconfig.json").is_file():
            self._log(Level.DEBUG, "ui/ has no tsconfig.json: no type check")
            return
        try:
            tsc = await self._compiler()
        except PlugindevError as exc:  # the UI runs on without its types checked
            self._log(Level.WARN, f"no type check: {exc}")
            return
        checker: Supervisor[TscWatch] = Supervisor(partial(self._start, tsc), self._on_event, name="tsc",
                                                   policy=self.backoff)
        checker.restart()
        await checker.run(stop)

    async def _compiler(self) -> Path:
        """The UI's own tsc, else plugindev's (installed into its cache on first use)."""
        own = self.ui_dir / "node_modules" / ".bin" / "tsc"
        if own.exists():
            return own
        folder = install_dir("typescript", TYPESCRIPT)
        tsc = folder / "node_modules" / ".bin" / "tsc"
        if not tsc.exists():
            self._log(Level.INFO, f"ui/ has no TypeScript of its own: installing TypeScript {TYPESCRIPT['typescript']} "
                                  "into plugindev's cache for the type check (once)")
        await install_packages(await ensure_node_env(), folder, TYPESCRIPT)
        return tsc

    async def _start(self, tsc: Path) -> TscWatch:
        process = await spawn([str(tsc), *TSC_ARGS], cwd=self.ui_dir, env=self.env, merge_stderr=True,
                              on_spawn=lambda pid: self.ctx.record("tsc", pid, None))
        output = CheckOutput(self.ui_dir, self._checked)

        def line(text: str) -> None:
            self._log(Level.DEBUG, text)
            output.feed(text)

        self._log(Level.DEBUG, f"{tsc} {' '.join(TSC_ARGS)} (pid {process.pid})")
        return TscWatch(process, line)

    def _on_event(self, event: SupervisorEvent[TscWatch]) -> None:
        match event:
            case StartFailed(error):
                self._log(Level.WARN, f"no type check: {error}")
            case Exited(watch, code, restart_in):
                self.ctx.forget(watch.pid)
                self._log(Level.WARN, f"tsc exited with code {code}; restarting it in {seconds_text(restart_in)}")
            case Stopped(watch):
                self.ctx.forget(watch.pid)

    def _checked(self, errors: tuple[BuildError, ...]) -> None:
        """A check is over: its errors said and reported, unless they are the ones the check before found."""
        if errors == self._said:
            return
        first, self._said = self._said is None, errors
        for error in errors:
            level = Level.WARN if error.severity == "warning" else Level.ERROR
            for text in error_lines(error, self.ctx.plugin_dir):
                self._log(level, text)
        if errors:
            count = f"{len(errors)} type error{'s' if len(errors) > 1 else ''}"
            self._log(Level.INFO, f"{count} (the UI still runs: Vite does not check types)")
        else:
            self._log(Level.INFO, "no type errors (tsc checks ui/ after every save)" if first else "type errors fixed")
        self.ctx.report_errors("tsc", list(errors))

    def _log(self, level: Level, message: str) -> None:
        self.ctx.log(Source.TSC, level, message)
