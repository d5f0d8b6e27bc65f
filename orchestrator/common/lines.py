"""Turning the byte streams of child processes into text lines an author can read."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

# CSI sequences (colours, cursor moves), OSC sequences (hyperlinks, titles) and two-byte escapes
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
READ_CHUNK = 64 * 1024
MAX_LINE = 1024 * 1024  # an endless line is passed on in pieces instead of growing in memory


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


class LineSplitter:
    """Cuts a byte stream into text lines, keeping an unfinished last line for the next chunk."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[str]:
        *lines, self._pending = (self._pending + data).split(b"\n")
        if len(self._pending) > MAX_LINE:
            lines.append(self._pending)
            self._pending = b""
        return [_decode(line) for line in lines]

    def flush(self) -> list[str]:
        rest, self._pending = self._pending, b""
        return [_decode(rest)] if rest else []


def _decode(line: bytes) -> str:
    return line.decode("utf-8", "replace").rstrip("\r")


async def pump_lines(stream: asyncio.StreamReader, on_line: Callable[[str], None],
                     splitter: LineSplitter | None = None) -> None:
    """Pass on every line of `stream` until its end. Chunks, not readline(): a line longer than the stream's
    limit must not end the reader, or the pipe would fill up and block the process writing it."""
    splitter = splitter or LineSplitter()
    while chunk := await stream.read(READ_CHUNK):
        for line in splitter.feed(chunk):
            on_line(line)
    for line in splitter.flush():
        on_line(line)
