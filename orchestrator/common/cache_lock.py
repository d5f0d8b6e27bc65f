"""One writer at a time for a folder of plugindev's shared cache.

Two plugindev processes (two terminals, a serve and a build, two test sessions), or two plugins of one serve,
may want the same Node environment or npm install at once; without a lock both would write into one folder.
The lock is a file beside the folder, held with flock: the system drops it when its holder dies, so a killed
plugindev never leaves the cache locked.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from orchestrator.common.errors import PlugindevError
from orchestrator.common.files import UnreadableFile, open_regular

_POLL = 0.1  # seconds between tries while another holds the lock: installs take seconds, a poll is cheap


@asynccontextmanager
async def cache_lock(folder: Path) -> AsyncIterator[None]:
    """Held while the body fills `folder`; waits (without blocking the event loop) while another fills it."""
    lock = folder.with_name(folder.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:  # never through a link, never a pipe that would block
        fd = open_regular(lock, os.O_RDWR | os.O_CREAT, follow_symlinks=False)
    except UnreadableFile as exc:
        raise PlugindevError(f"the cache's lock file {exc}; remove it (plugindev makes it anew)") from None
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await asyncio.sleep(_POLL)
        yield
    finally:
        os.close(fd)  # closing drops the lock; the file stays (removing it would race the next holder)
