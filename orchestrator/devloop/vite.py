"""The plugin UI's Vite dev server process: a free port, launch, readiness, a clean stop, and whether it serves
the entry the IDE imports.

Vite runs as `ui/node_modules/.bin/vite --port N --strictPort --host 127.0.0.1` in its own process group, so
stopping it (SIGTERM, then SIGKILL, always to the whole group) never leaves its node children behind. It is
ready once a stdout line, ANSI escapes stripped, contains `Local:` and the port, and `GET /@vite/client`
answers 200: the banner alone can precede the server accepting requests, and colour codes split the URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
from collections import deque
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from orchestrator.authoring.validate import ENTRY
from orchestrator.common.durations import seconds_text
from orchestrator.common.errors import PlugindevError
from orchestrator.common.lines import pump_lines, strip_ansi
from orchestrator.common.net import HOST
from orchestrator.common.process import spawn, stop_group
from orchestrator.common.tasks import ended, raise_failure

PORT_RANGE = range(15173, 15273)
ENTRY_PATH = "/" + ENTRY.removeprefix("ui/")  # what the IDE imports from every plugin's Vite: /src/entry.ts
IDE_IMPORT_TIMEOUT = 30.0  # seconds after which the IDE abandons the import (its importTimeoutMs)
_SEE_VITE = "see Vite's output above"
# what to do when the entry does not answer 200, by status
_ENTRY_FIXES = {
    404: f"Vite serves no {ENTRY}; add it (the IDE requests only that file) and keep ui/ as Vite's root",
    500: "Vite cannot compile it or a module it imports (its error is above); fix that and save",
}
_TAIL_LINES = 8  # output lines quoted in an error message
_POLL = 0.05  # seconds between checks of the HTTP endpoint


# Vite stamps some messages with its own clock and tag ("1:02:48 PM [vite] ..."): the printer has both.
_OWN_PREFIX = re.compile(r"^\s*\d{1,2}:\d\d:\d\d(?:\s?[AP]M)?\s+\[vite\]\s")
# Lines plugindev reads for itself (the banner) or that only a debugger wants (a Node stack frame).
_DETAIL = re.compile(r"^\s*(?:VITE v\S+\s+ready in|➜\s+(?:Local|Network|press)\b|at\s+\S+.*\(?(?:file|node):)")


def vite_line(line: str) -> tuple[bool, str]:
    """Vite's output line as shown: (is detail, text). The banner and stack frames are detail (-v)."""
    text = _OWN_PREFIX.sub("", strip_ansi(line).rstrip())
    return bool(_DETAIL.match(text)), text


def port_is_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:port now (bind, then close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        if os.name == "posix":
            # Node binds with SO_REUSEADDR, so a port whose old connections linger in TIME_WAIT is usable
            # by Vite; without it a restart would needlessly move to another port.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


class PortAllocator:
    """The Vite ports (or `server`'s) of every plugin of one plugindev: a plugin that has to move never takes
    another's port, even while that one's server is down for a restart."""

    def __init__(self, ports: range = PORT_RANGE, server: str = "Vite") -> None:
        self.ports = ports
        self.server = server
        self.assigned: set[int] = set()

    def allocate(self) -> int:
        port = allocate_port(self.assigned, self.ports, self.server)
        self.assigned.add(port)
        return port

    def release(self, port: int) -> None:
        self.assigned.discard(port)

    def move(self, old: int) -> int:
        """A new port for the plugin that had `old` (taken by someone else meanwhile)."""
        port = allocate_port(self.assigned | {old}, self.ports, self.server)
        self.assigned.discard(old)
        self.assigned.add(port)
        return port


def allocate_port(taken: Collection[int] = (), ports: range = PORT_RANGE, server: str = "Vite") -> int:
    """The first port of `ports` not in `taken` (assigned here already) and bindable on 127.0.0.1."""
    for port in ports:
        if port not in taken and port_is_free(port):
            return port
    raise PlugindevError(f"no free port for {server} in {ports.start}-{ports.stop - 1} on {HOST}; "
                         "stop whatever listens there (or other plugindev sessions) and retry")


async def http_status(port: int, path: str, timeout: float) -> int:
    """The status code of a GET on 127.0.0.1:port, 0 when the answer is not HTTP."""
    import aiohttp  # loaded when a Vite starts, not for `plugindev --help`

    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session, \
                session.get(f"http://{HOST}:{port}{path}", allow_redirects=False) as response:
            return response.status
    except aiohttp.ClientConnectionError as exc:
        if isinstance(exc, OSError):  # nothing listens (yet): the caller retries
            raise
        return 0  # something listens but does not speak HTTP
    except aiohttp.ClientResponseError:
        return 0


def entry_url(port: int) -> str:
    """The URL the IDE imports the UI from, the same for every plugin (the dev server serves no page at `/`)."""
    return f"http://{HOST}:{port}{ENTRY_PATH}"


async def entry_problem(port: int, timeout: float = IDE_IMPORT_TIMEOUT) -> str | None:
    """None when GET /src/entry.ts answers 200, as the IDE's import needs; else what the IDE would get and the fix."""
    try:
        status = await http_status(port, ENTRY_PATH, timeout)
    except TimeoutError:
        return (f"the IDE would abandon its import of {ENTRY_PATH}: no answer within {seconds_text(timeout)}; "
                f"{_SEE_VITE}")
    except OSError as exc:
        return f"the IDE would get no answer for {ENTRY_PATH} ({exc}); {_SEE_VITE}"
    if status == 200:
        return None
    if status == 0:
        return f"the IDE would get no HTTP answer for {ENTRY_PATH}: something else listens on port {port}"
    return f"the IDE would get HTTP {status} for {ENTRY_PATH}: {_ENTRY_FIXES.get(status, _SEE_VITE)}"


def describe_exit(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"Vite exited with code {code} ({signal.Signals(-code).name})"
    return f"Vite exited with code {code}"


class ViteServer:
    """One Vite process: `start()` returns once it serves, `wait()` until it exits, `stop()` ends its group."""

    def __init__(self, ui_dir: Path, port: int, *, env: Mapping[str, str], on_output: Callable[[str], None],
                 ready_timeout: float = 30.0, on_spawn: Callable[[int], None] = lambda _pid: None) -> None:
        self.ui_dir = ui_dir
        self.port = port
        self.env = dict(env)
        self.on_output = on_output  # called from the reader tasks for every line: must not block
        self.ready_timeout = ready_timeout
        self.on_spawn = on_spawn  # gets the pid (= pgid) at once, to record the group for leftover cleanup
        self.pid: int | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._readers: list[asyncio.Task[None]] = []
        self._tail: deque[str] = deque(maxlen=_TAIL_LINES)
        self._errors: list[str] = []
        self._banner = asyncio.Event()
        self._banner_pattern = re.compile(rf"Local:.*:{port}(?!\d)")
        self._stop_lock = asyncio.Lock()
        self._stopped = False

    async def start(self) -> None:
        binary = self.ui_dir / "node_modules" / ".bin" / "vite"
        if not binary.exists():
            raise PlugindevError(f"{binary} is missing; install the UI's dependencies (plugindev link "
                                 f"{self.ui_dir.parent})")
        self._process = await spawn([str(binary), "--port", str(self.port), "--strictPort", "--host", HOST],
                                    cwd=self.ui_dir, env=self.env, on_spawn=self.on_spawn)
        self.pid = self._process.pid
        assert self._process.stdout is not None and self._process.stderr is not None
        self._readers = [asyncio.create_task(pump_lines(stream, self._line))
                         for stream in (self._process.stdout, self._process.stderr)]
        try:
            await asyncio.wait_for(self._until_ready(), self.ready_timeout)
        except TimeoutError:
            await self.stop()
            raise PlugindevError(f"Vite did not report ready on port {self.port} within "
                                 f"{seconds_text(self.ready_timeout)}; last output: {self._last_output()}") from None
        except BaseException:
            await self.stop()  # also on cancellation: nothing may outlive a start that did not finish
            raise

    async def _until_ready(self) -> None:
        assert self._process is not None
        exited = asyncio.create_task(self._process.wait())
        banner = asyncio.create_task(self._banner.wait())
        try:
            await asyncio.wait({exited, banner}, return_when=asyncio.FIRST_COMPLETED)
            if exited.done():
                await self._drain_readers(1.0)  # the last lines usually say why (e.g. port already in use)
                raise PlugindevError(f"{describe_exit(exited.result())} before it was ready on port {self.port}; "
                                     f"last output: {self._last_output()}")
            # The banner can come before the server answers; a 200 for Vite's own client module proves it serves.
            while not exited.done():
                with contextlib.suppress(OSError, TimeoutError):
                    if await http_status(self.port, "/@vite/client", 2.0) == 200:
                        return
                await asyncio.sleep(_POLL)
        finally:
            await ended(banner)
            await ended(exited)
        raise PlugindevError(f"{describe_exit(self._process.returncode or 0)} right after its banner on port "
                             f"{self.port}; last output: {self._last_output()}")

    def _line(self, line: str) -> None:
        plain = strip_ansi(line)
        if plain.strip():
            self._tail.append(plain.strip())
            # Vite says what went wrong before a long stack trace: keep those lines for the message
            if "error" in plain.lower() and not plain.strip().startswith("at ") and len(self._errors) < 3:
                self._errors.append(plain.strip())
        if self._banner_pattern.search(plain):
            self._banner.set()
        self.on_output(line)

    def _last_output(self) -> str:
        return " | ".join(self._errors or self._tail) or "(none)"

    async def _drain_readers(self, timeout: float) -> None:
        """Let the readers reach end of output, then cancel what is left (a grandchild may hold a pipe); what one
        failed on is raised (the supervisor's owner restarts Vite)."""
        if self._readers:
            await asyncio.wait(self._readers, timeout=timeout)
        for reader in self._readers:
            reader.cancel()
        raise_failure(self._readers)

    async def wait(self) -> int:
        """Wait until Vite exits on its own (crash, killed) and return its exit code (negative: signal)."""
        if self._process is None:
            raise RuntimeError("ViteServer.wait() before start()")
        return await self._process.wait()

    async def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM to the process group, SIGKILL after `timeout`; returns when the whole group is gone (Vite's
        children, esbuild and workers, may outlive it)."""
        async with self._stop_lock:  # a second caller waits for the first, then finds nothing to do
            if self._process is None or self._stopped:
                return
            await stop_group(self._process, timeout=timeout)
            await self._drain_readers(0.5)
            self._stopped = True  # the group id may be reused once empty: never signal it again
