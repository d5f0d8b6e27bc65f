"""A plugin process's own output, as an author wants to read it."""

from __future__ import annotations

import json
import re

from orchestrator.devloop.events import Level

_HCLOG_LEVELS = {"trace": Level.DEBUG, "debug": Level.DEBUG, "info": Level.INFO, "warn": Level.WARN,
                 "error": Level.ERROR}
_VOLATILE = re.compile(r"\d{4}[-/]\d\d[-/]\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?"
                       r"|\b(?:duration|timestamp|elapsed)=\S+")


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


class RepeatFolder:
    """Folds a plugin line that repeats the one before it, timestamps and durations aside.

    SDK v0.1.x logs every RPC it serves, so each health check would add a line to the terminal.
    """

    def __init__(self) -> None:
        self._last = ""
        self._repeats = 0

    def seen(self, message: str) -> bool:
        """True when `message` repeats the previous one (and is folded)."""
        key = _VOLATILE.sub("", message).strip()
        if key and key == self._last:
            self._repeats += 1
            return True
        self._last = key
        return False

    def take_repeats(self) -> int:
        repeats, self._repeats = self._repeats, 0
        return repeats
