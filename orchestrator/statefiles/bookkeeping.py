"""plugindev's bookkeeping files (the process registry, a plugin's `.devinfo`, the saved set of `serve`): each
follows something that runs, and a write of one that fails must never stop what it records.

A failed write is said once per failure episode, with its cause, and tried again with the one backoff policy
until it works or newer content replaces it; a write that works again is said too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from orchestrator.common.files import write_atomic, write_failure
from orchestrator.common.supervision import BACKOFF, Backoff
from orchestrator.model.events import Level

SayLevel = Callable[[Level, str], None]


class KeptFile:
    """A file that holds what `keep()` was given last (None: no file). Without `say` a failed write raises, as
    for a writer that has no one to tell (a test writing a `.devinfo`)."""

    def __init__(self, path: Path, say: SayLevel | None = None, policy: Backoff = BACKOFF) -> None:
        self.path = path
        self._say = say
        self._policy = policy
        self._content: bytes | None = None
        self._failing = False  # the last attempt failed, and that was said
        self._attempts = 0  # failed attempts at the current content: the backoff's count
        self._retry: asyncio.TimerHandle | None = None

    @property
    def failing(self) -> bool:
        return self._failing

    def keep(self, content: bytes | None) -> bool:
        """Make the file hold `content` (None: remove it), now or at a retry; True when it does now."""
        self._content = content
        self._attempts = 0
        self.close()
        return self._attempt()

    def close(self) -> None:
        """No retry any more (the run ends)."""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None

    def _attempt(self) -> bool:
        self._retry = None
        try:
            if self._content is None:
                self.path.unlink(missing_ok=True)
            else:
                write_atomic(self.path, self._content)
        except OSError as exc:
            if self._say is None:
                raise
            if not self._failing:
                failure = (write_failure(exc, self.path) if self._content is not None else
                           f"cannot remove {self.path}: {exc.strerror or exc}")
                self._say(Level.ERROR, f"{failure} (plugindev tries again)")
                self._failing = True
            self._retry = asyncio.get_running_loop().call_later(self._policy.delay(self._attempts), self._attempt)
            self._attempts += 1
            return False
        if self._failing and self._say is not None:
            self._failing = False
            self._say(Level.INFO, f"{'wrote' if self._content is not None else 'removed'} {self.path} now")
        return True
