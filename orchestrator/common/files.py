"""Reading and writing plugindev's files safely.

Reading: `read_bounded` opens a file that something else may have put there (a `.devinfo`, plugin.yaml, a
record in the state root) without blocking on a FIFO, without following a link where plugindev did not make
one, and never holds more than the caller's cap: a bad file is one line naming it, never a freeze or a
MemoryError.

Writing: a reader never sees half of a file, and a failure leaves the old content in place. Temporary files
have unique names and are created only where nothing (not even a link) is, so a link planted at a temporary
name never redirects a write.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from orchestrator.common.errors import PlugindevError

_READ_CHUNK = 1 << 16
# What a file that is not a regular one is, for the message.
_FILE_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
               (stat.S_ISLNK, "a symbolic link"))


class UnreadableFile(PlugindevError):
    """A file `read_bounded` refuses or cannot read: `reason` says why (`missing`: there is no such file)."""

    def __init__(self, path: Path, reason: str, *, missing: bool = False) -> None:
        super().__init__(f"{path} {reason}")
        self.path, self.reason, self.missing = path, reason, missing


def _size_words(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit >= 1 << 20 and not limit % (1 << 20) else f"{limit >> 10} KiB"


def _not_regular(mode: int) -> str:
    kind = next((word for test, word in _FILE_KINDS if test(mode)), "not a regular file")
    return f"is {kind}, not a regular file"


def open_regular(path: Path, flags: int, *, follow_symlinks: bool, mode: int = 0o644) -> int:
    """A descriptor of the regular file at `path` (created when `flags` has O_CREAT), else UnreadableFile.

    A FIFO, a device or a folder is refused before it is opened (opening a device can have effects), and again
    after (it may have been swapped in between); opening never blocks (O_NONBLOCK). `follow_symlinks=False`
    where plugindev did not make the link: a link there is refused, never followed.
    """
    try:
        try:
            before = os.stat(path, follow_symlinks=follow_symlinks)
            if not stat.S_ISREG(before.st_mode):
                raise UnreadableFile(path, _not_regular(before.st_mode))
        except FileNotFoundError:
            if not flags & os.O_CREAT:
                raise
        flags |= os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0) | (0 if follow_symlinks else os.O_NOFOLLOW)
        fd = os.open(path, flags, mode)
    except OSError as exc:
        missing = exc.errno in (errno.ENOENT, errno.ENOTDIR)
        reason = "does not exist" if missing else f"cannot be opened: {exc.strerror or exc}"
        raise UnreadableFile(path, reason, missing=missing) from None
    opened = os.fstat(fd)
    if not stat.S_ISREG(opened.st_mode):
        os.close(fd)
        raise UnreadableFile(path, _not_regular(opened.st_mode))
    return fd


def read_bounded(path: Path, limit: int, *, follow_symlinks: bool) -> bytes:
    """The content of the regular file at `path`, at most `limit` bytes, or UnreadableFile (one line).

    Opened as `open_regular` does; a file larger than `limit` is refused, however it grows while read.
    """
    fd = open_regular(path, os.O_RDONLY, follow_symlinks=follow_symlinks)
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise UnreadableFile(path, f"is {size} bytes, more than the {_size_words(limit)} such a file can be; "
                                       "it is not one plugindev or the SDK wrote")
        chunks: list[bytes] = []
        size = 0
        while size <= limit and (chunk := os.read(fd, min(_READ_CHUNK, limit + 1 - size))):
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise UnreadableFile(path, f"cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if size > limit:
        raise UnreadableFile(path, f"grew past {_size_words(limit)} while it was read; it is not a file "
                                   "plugindev or the SDK wrote")
    return b"".join(chunks)


def _temporary(target: Path, mode: int) -> tuple[int, Path]:
    """A new file beside `target` (same filesystem, so a rename installs it), open for writing: a unique name,
    created only where nothing is (O_EXCL), never through a link (O_NOFOLLOW)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, flags, mode)
        except FileExistsError:
            continue  # taken (by chance, or by a planted file or link): another name
        try:
            os.fchmod(fd, mode)  # exactly `mode`, whatever the umask
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        return fd, tmp


@contextlib.contextmanager
def _synced_temporary(target: Path, mode: int) -> Iterator[tuple[BinaryIO, Path]]:
    """A temporary file beside `target` and its path; flushed to disk when the block ends, removed if it fails."""
    fd, tmp = _temporary(target, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle, tmp
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_writer(target: Path, mode: int = 0o644) -> Iterator[BinaryIO]:
    """A file to stream `target`'s new content into; once the block ends it is synced and renamed over
    `target`. On any failure it is removed and the old content stays."""
    with _synced_temporary(target, mode) as (handle, tmp):
        yield handle
    try:
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(target: Path, content: bytes, mode: int = 0o644) -> None:
    """Write to a temporary file beside the target, then rename over it."""
    with atomic_writer(target, mode) as handle:
        handle.write(content)


def stage_file(target: Path, content: bytes, mode: int) -> str:
    """`content` in a synced temporary file beside `target`, for the caller to rename into place; its path."""
    with _synced_temporary(target, mode) as (handle, tmp):
        handle.write(content)
    return str(tmp)


def not_utf8(exc: UnicodeDecodeError) -> str:
    """What to do about a file that is not UTF-8 text (the message follows the file's name)."""
    return (f"is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
            "save it with UTF-8 encoding")


# What to do about the errors a write meets, by cause; anything else is reported with the system's words only.
_WRITE_ADVICE = {
    errno.ENOSPC: "free some space on that disk and retry",
    errno.EDQUOT: "free some space (disk quota exceeded) and retry",
    errno.EACCES: "check the folder's permissions",
    errno.EPERM: "check the folder's permissions",
    errno.EROFS: "the file system is read-only; choose another location",
    errno.ENOTDIR: "a part of that path is a file, not a folder; choose another location",
    errno.EISDIR: "a folder is in the way of that file; move it aside",
}


def write_failure(exc: OSError, fallback: Path) -> str:
    """`cannot write FILE: <the system's reason>; <what to do for that cause>`, for a failed write."""
    advice = _WRITE_ADVICE.get(exc.errno or 0)
    # a failed rename names its source and target: the target is the file the user knows
    target = exc.filename2 or exc.filename or fallback
    return f"cannot write {target}: {exc.strerror or exc}" + (f"; {advice}" if advice else "")
