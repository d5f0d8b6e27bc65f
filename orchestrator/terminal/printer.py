"""What an author reads: one line per event (`HH:MM:SS [tag] message`), or NDJSON with `--json` (each event as
the IDE names it)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import datetime
from functools import partial
from typing import TextIO

from orchestrator.common.lines import escape_controls
from orchestrator.common.supervision import keep_running
from orchestrator.common.tasks import ended
from orchestrator.model.events import (
    Event,
    EventBus,
    Level,
    LogAppended,
    Source,
    StatusChanged,
    SystemMessage,
    publish_log,
)

_TAGS = {Source.VITE: "vite", Source.GO_BUILD: "go", Source.GO_WATCH: "go", Source.MANAGER: "system",
         Source.PLUGIN: "plugin", Source.TSC: "tsc"}
_COLOURS = {"system": "36", "vite": "35", "go": "34", "plugin": "32", "tsc": "94", "error": "31", "warn": "33"}


def use_colour(stream: TextIO) -> bool:
    return stream.isatty() and not os.environ.get("NO_COLOR")


class Printer:
    """Consumes the event bus; several plugins share one output, so lines carry the plugin id when > 1."""

    def __init__(self, *, stream: TextIO = sys.stdout, as_json: bool = False, verbose: bool = False,
                 show_plugin: bool = False) -> None:
        self.stream = stream
        self.as_json = as_json
        self.verbose = verbose
        self.show_plugin = show_plugin
        self.colour = use_colour(stream) and not as_json
        self._last_status: dict[str, str] = {}

    def _line(self, tag: str, message: str, plugin_id: str = "") -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        label = f"[{tag}]"
        if self.colour:
            label = f"\x1b[{_COLOURS.get(tag, '0')}m{label}\x1b[0m"
        prefix = f"{plugin_id} " if self.show_plugin and plugin_id else ""
        self._write(f"{stamp} {escape_controls(prefix)}{label} {escape_controls(message)}\n")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (BrokenPipeError, ValueError):
            # the reader is gone (`| tee` ended by the same Ctrl+C, a closed terminal): the run still stops
            # cleanly, only silently
            self.stream = open(os.devnull, "w")  # noqa: SIM115 - kept for the rest of the run

    def handle(self, event: Event) -> None:
        """Log lines, plugindev's own messages and (with -v) status changes; build errors arrive as log lines
        too, so the error events are for --json readers only."""
        if self.as_json:
            self._write(json.dumps(event.to_json()) + "\n")
            return
        payload = event.payload
        if isinstance(payload, LogAppended):
            entry = payload.entry
            if entry.level == Level.DEBUG and not self.verbose:
                return
            tag = "error" if entry.level == Level.ERROR else _TAGS[entry.source]
            self._line(tag, entry.message, event.plugin_id)
        elif isinstance(payload, SystemMessage):
            self._line("system", payload.message)
        elif isinstance(payload, StatusChanged) and self.verbose:
            state = payload.state
            grpc = "up" if state.grpcConnected else "down"
            summary = f"status vite={state.viteStatus} go={state.goStatus} grpc={grpc}"
            if self._last_status.get(event.plugin_id) != summary:  # other fields changed: nothing to say
                self._last_status[event.plugin_id] = summary
                self._line("system", summary, event.plugin_id)

    async def run(self, queue: asyncio.Queue[Event]) -> None:
        while True:
            self.handle(await queue.get())


class Printing:
    """A bus's events printed by `printer` in a task of its own until `close()`, which prints what is left. A
    printer that stops on an unexpected error runs again after the backoff, and prints the line that says so."""

    def __init__(self, printer: Printer, bus: EventBus) -> None:
        self._printer = printer
        self._queue = bus.subscribe(printer.handle)  # a printer that falls behind is caught up, never dropped
        self._task = asyncio.create_task(keep_running("the printer", partial(printer.run, self._queue),
                                                      partial(publish_log, bus, "", Level.ERROR)))

    async def close(self) -> None:
        while not self._queue.empty():
            self._printer.handle(self._queue.get_nowait())
        await ended(self._task)
