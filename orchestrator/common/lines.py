"""Turning the byte streams of child processes into text lines an author can read."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

# CSI sequences (colours, cursor moves), OSC sequences (hyperlinks, titles) and two-byte escapes
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
READ_CHUNK = 64 * 1024
MAX_LINE = 16 * 1024  # bytes of a line kept: a log line is for reading, and an endless one must not grow in memory


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


class LineSplitter:
    """Cuts a byte stream into text lines, keeping an unfinished last line for the next chunk.

    A line longer than `max_line` bytes keeps its first `max_line` and a marker giving its length; the rest is only
    counted, so a line arriving in many pieces costs time in proportion to its length and memory up to the cut.
    """

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._max_line = max_line
        self._head = bytearray()  # the unfinished line's start, at most max_line bytes
        self._length = 0  # the unfinished line's length so far

    def feed(self, data: bytes) -> list[str]:
        *ended, rest = data.split(b"\n")
        lines = []
        for piece in ended:
            if self._length == 0 and len(piece) <= self._max_line:
                lines.append(_decode(piece))  # the usual case: a whole line within one chunk
            else:
                self._take(piece)
                lines.append(self._finish())
        self._take(rest)
        return lines

    def flush(self) -> list[str]:
        return [self._finish()] if self._length else []

    def _take(self, piece: bytes) -> None:
        room = self._max_line - len(self._head)
        if room > 0:
            self._head += piece[:room]
        self._length += len(piece)

    def _finish(self) -> str:
        text = _decode(bytes(self._head))
        if self._length > self._max_line:
            text += f"… [cut: line of {self._length} bytes]"
        self._head.clear()
        self._length = 0
        return text


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


# What a terminal acts on instead of showing: C0 controls (ESC, CR, BEL, backspace, newline…) but tab, DEL, and
# the C1 controls (U+009B is a CSI to some terminals). A plugin's output or a `.devinfo` holding them could
# retitle, clear or rewrite the author's terminal, or forge a line; they are shown as `\x1b` instead.
_CONTROLS = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0)) if code != ord("\t")}


def escape_controls(text: str) -> str:
    return text.translate(_CONTROLS)
