"""Writing files so that a reader never sees half of one, and a failure leaves the old content in place."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path


def write_atomic(target: Path, content: bytes, mode: int = 0o644) -> None:
    """Write to a temporary file beside the target, then rename over it."""
    os.replace(stage_file(target, content, mode), target)


def stage_file(target: Path, content: bytes, mode: int) -> str:
    """`content` in a temporary file beside `target` (same filesystem, so a rename installs it); its path."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.chmod(tmp, mode)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


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
