"""A plugin process's own output, as an author wants to read it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from orchestrator.model.events import Level, Source

_HCLOG_LEVELS = {"trace": Level.DEBUG, "debug": Level.DEBUG, "info": Level.INFO, "warn": Level.WARN,
                 "error": Level.ERROR}
_VOLATILE = re.compile(r"\d{4}[-/]\d\d[-/]\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?"
                       r"|\b(?:duration|timestamp|elapsed)=\S+")
# go-plugin's broker stream, which every go-plugin client (the IDE's) opens, ends Canceled when that client goes
# away; the SDK logs that (v0.5 as "[ERROR] … stream closed with error", v0.1 as "[STREAM] … closed").
_CLIENT_GONE = re.compile(r"GRPCBroker/StartStream\b.*\bCanceled\b")
CLIENT_DISCONNECTED = "an IDE client disconnected from the plugin (go-plugin's broker stream ended)"


@dataclass(frozen=True)
class PluginLine:
    """One line of a plugin's output as shown: its own words, or go-plugin noise told as plugindev's line."""

    level: Level
    message: str
    source: Source = Source.PLUGIN


def hclog_line(line: str) -> tuple[Level, str]:
    """go-plugin and hclog write JSON log lines; show their message and fields, at their level."""
    if line.startswith("{"):
        try:
            record = json.loads(line)
        except ValueError:
            return Level.INFO, line
        if isinstance(record, dict) and "@message" in record:
            fields = " ".join(f"{k}={v}" for k, v in record.items() if not k.startswith("@"))
            level = _HCLOG_LEVELS.get(str(record.get("@level")), Level.INFO)
            return level, f"{record['@message']} {fields}".rstrip()
    return Level.INFO, line


def plugin_line(line: str) -> PluginLine:
    level, message = hclog_line(line)
    if _CLIENT_GONE.search(message):
        return PluginLine(Level.INFO, CLIENT_DISCONNECTED, Source.MANAGER)
    return PluginLine(level, message)


class RepeatFolder:
    """Folds a plugin line that repeats the one before it, timestamps and durations aside.

    SDK v0.1.x logs every RPC it serves, so each health check would add a line to the terminal.
    """

    def __init__(self) -> None:
        self._last = ""
        self._repeats = 0
        self.source = Source.PLUGIN  # of the last line shown: its repeats are told under the same tag

    def seen(self, message: str, source: Source = Source.PLUGIN) -> bool:
        """True when `message` repeats the previous one (and is folded)."""
        key = _VOLATILE.sub("", message).strip()
        if key and key == self._last:
            self._repeats += 1
            return True
        self._last, self.source = key, source
        return False

    def take_repeats(self) -> int:
        repeats, self._repeats = self._repeats, 0
        return repeats
