"""Writing files so that a reader never sees half of one, and a failure leaves the old content in place."""

from __future__ import annotations

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
