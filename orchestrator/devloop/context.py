"""What a part of a plugin's session (the Go backend, the UI) is given: its options, and the narrow ways to
tell the coordinator what happens. A part never reaches into another part or into the coordinator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchestrator.devloop.narration import narrate
from orchestrator.devloop.pool import UNBOUNDED, Slots
from orchestrator.model.events import BuildError, Level, Source
from orchestrator.model.state import Change, DevState


@dataclass(frozen=True)
class RunOptions:
    vite: bool = True
    go_backend: bool = True  # False: serve only the UI of a plugin that also has a backend (--no-go)
    ui_mode: str = "dev"  # "dev": Vite dev server with HMR; "build": vite build on change, assets installed
    debounce_ms: int = 25  # the quiet period after a Go change before a build (an editor's multi-write save)
    go: str | None = None
    handshake_timeout: float = 30.0
    vite_timeout: float = 30.0
    health_interval: float = 5.0  # seconds between the gRPC health checks of a running plugin
    overlap: bool = True  # a new plugin process is up and healthy before the old one stops (zero gap)
    verbose: bool = False  # -v: a failed UI install prints the package manager's whole output
    debug: bool = False  # --debug: Go built for a debugger, the plugin run under Delve (no overlap: one port)
    typecheck: bool = True  # with the dev UI: `tsc --watch` beside Vite, its errors reported (--no-typecheck)
    jobs: int | None = None  # Go builds (and UI installs) at once across all plugins; None: one per core


@dataclass(frozen=True)
class PartContext:
    plugin_id: str
    plugin_dir: Path
    state_dir: Path  # <state root>/plugins/<id>
    options: RunOptions
    report: Callable[[Change], None]
    log: Callable[[Source, Level, str], None]
    report_errors: Callable[[str, list[BuildError]], None]  # a source's errors now (BuildError.source)
    record: Callable[[str, int, Path | None], None]  # a process group started: kind, pid, its temporary folder
    forget: Callable[[int], None]  # that group is gone
    state: Callable[[], DevState]
    unexpected: Callable[[str], None]  # one line: something the part left running stopped on an unexpected error
    slots: Slots = UNBOUNDED  # the places in the builds and installs its manager's plugins share

    def tell(self, change: Change) -> None:
        """Report `change` after its line, if it has one: the line says what happened before the state moves (and
        before what the new state leads to, e.g. the plugin announced ready)."""
        if (line := narrate(change)) is not None:
            self.log(line.source, line.level, line.message)
        self.report(change)
