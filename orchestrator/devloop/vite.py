"""The plugin UI's Vite dev server: a free port, launch, readiness, clean stop, and restart after a crash.

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
import time
from collections import deque
from collections.abc import Callable, Collection, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from orchestrator.common.errors import PlugindevError

HOST = "127.0.0.1"  # never localhost: the IDE's webview resolves it badly, and it may mean ::1
PORT_RANGE = range(15173, 15273)
_TAIL_LINES = 8  # output lines quoted in an error message
_POLL = 0.05  # seconds between checks of the HTTP endpoint / a dying process group

# CSI sequences (colours, cursor moves), OSC sequences (hyperlinks, titles) and the two-byte escapes.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")

T = TypeVar("T")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


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


def allocate_port(taken: Collection[int] = (), ports: range = PORT_RANGE) -> int:
    """The first port of `ports` not in `taken` (assigned here already) and bindable on 127.0.0.1."""
    for port in ports:
        if port not in taken and port_is_free(port):
            return port
    raise PlugindevError(f"no free port for Vite in {ports.start}-{ports.stop - 1} on {HOST}; "
                         "stop whatever listens there (or other plugindev sessions) and retry")


async def http_status(port: int, path: str, timeout: float) -> int:
    """The status code of a plain HTTP/1.1 GET on 127.0.0.1:port, 0 when the answer is not HTTP."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), timeout)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    parts = status_line.split()
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
        return int(parts[1])
    return 0


def describe_exit(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"Vite exited with code {code} ({signal.Signals(-code).name})"
    return f"Vite exited with code {code}"


class ViteServer:
    """One Vite process: `start()` returns once it serves, `wait()` until it exits, `stop()` ends its group."""

    def __init__(self, ui_dir: Path, port: int, *, env: Mapping[str, str], on_output: Callable[[str], None],
                 ready_timeout: float = 30.0, on_spawn: Callable[[int], None] | None = None) -> None:
        self.ui_dir = ui_dir
        self.port = port
        self.env = dict(env)
        self.on_output = on_output  # called from the reader tasks for every line: must not block
        self.ready_timeout = ready_timeout
        self.on_spawn = on_spawn  # gets the pid (= pgid) at once, e.g. to record the group for leftover cleanup
        self.pid: int | None = None
        self.pgid: int | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._readers: list[asyncio.Task[None]] = []
        self._tail: deque[str] = deque(maxlen=_TAIL_LINES)
        self._errors: list[str] = []
        self._banner = asyncio.Event()
        self._banner_pattern = re.compile(rf"Local:.*:{port}(?!\d)")
        self._stop_lock = asyncio.Lock()
        self._stopped = False

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    async def start(self) -> None:
        binary = self.ui_dir / "node_modules" / ".bin" / "vite"
        if not binary.exists():
            raise PlugindevError(f"{binary} is missing; install the UI's dependencies (npm install in {self.ui_dir})")
        try:
            self._process = await asyncio.create_subprocess_exec(
                str(binary), "--port", str(self.port), "--strictPort", "--host", HOST,
                cwd=self.ui_dir, env=self.env, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # its own process group: stop() signals Vite and every child at once
            )
        except OSError as exc:
            raise PlugindevError(f"cannot run {binary}: {exc.strerror}") from None
        self.pid = self.pgid = self._process.pid  # a new session's leader leads its own group
        if self.on_spawn is not None:
            self.on_spawn(self.pid)
        assert self._process.stdout is not None and self._process.stderr is not None
        self._readers = [asyncio.create_task(self._read(stream))
                         for stream in (self._process.stdout, self._process.stderr)]
        try:
            await asyncio.wait_for(self._until_ready(), self.ready_timeout)
        except TimeoutError:
            await self.stop()
            raise PlugindevError(f"Vite did not report ready on port {self.port} within {self.ready_timeout:g} s; "
                                 f"last output: {self._last_output()}") from None
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
            banner.cancel()
            exited.cancel()
        raise PlugindevError(f"{describe_exit(self._process.returncode or 0)} right after its banner on port "
                             f"{self.port}; last output: {self._last_output()}")

    async def _read(self, stream: asyncio.StreamReader) -> None:
        # Chunks, not readline(): one line longer than the stream limit must not kill the reader, or the
        # pipe would fill up and block Vite.
        pending = b""
        while chunk := await stream.read(65536):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                self._line(line)
        if pending:
            self._line(pending)

    def _line(self, raw: bytes) -> None:
        line = raw.decode(errors="replace").rstrip("\r")
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
        """Let the readers reach end of output, then cancel what is left (a grandchild may hold a pipe)."""
        if self._readers:
            await asyncio.wait(self._readers, timeout=timeout)
        for reader in self._readers:
            reader.cancel()

    async def wait(self) -> int:
        """Wait until Vite exits on its own (crash, killed) and return its exit code (negative: signal)."""
        if self._process is None:
            raise RuntimeError("ViteServer.wait() before start()")
        return await self._process.wait()

    async def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM to the process group, SIGKILL to it after `timeout`; returns when the group is gone."""
        async with self._stop_lock:  # a second caller waits for the first, then finds nothing to do
            process, pgid = self._process, self.pgid
            if process is None or pgid is None or self._stopped:
                return
            deadline = time.monotonic() + timeout
            _signal_group(pgid, signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), timeout)
            # Vite's children (esbuild, workers) may outlive it: wait for the whole group, not just the leader.
            while _group_alive(pgid) and time.monotonic() < deadline:
                await asyncio.sleep(_POLL)
            if _group_alive(pgid):
                _signal_group(pgid, signal.SIGKILL)
            await process.wait()
            # SIGKILL cannot be ignored; the bound only guards against processes stuck in the kernel (state D).
            deadline = time.monotonic() + 2.0
            while _group_alive(pgid) and time.monotonic() < deadline:
                await asyncio.sleep(_POLL / 5)
            await self._drain_readers(0.5)
            self._stopped = True  # the group id may be reused once empty: never signal it again


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs; zombies do not count (see _has_live_member)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _has_live_member(pgid)


def _has_live_member(pgid: int) -> bool:
    # Children orphaned by Vite's exit are reparented to init and stay zombies (still group members) until
    # init reaps them, which some container inits do late or never: on Linux, ask /proc for a live one.
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, _ppid, pgrp = stat[stat.rfind(")") + 2:].split()[:3]  # the command name may contain spaces
        if int(pgrp) == pgid and state not in ("Z", "X"):
            return True
    return False


async def _race(coro: Coroutine[Any, Any, T], stop_event: asyncio.Event) -> asyncio.Task[T] | None:
    """Run `coro` until it finishes or `stop_event` is set: its finished task, or None when stopping won."""
    task = asyncio.ensure_future(coro)
    stopper = asyncio.ensure_future(stop_event.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait({task})  # start() cleans up its process group when cancelled
    return None if task.cancelled() else task


async def supervise(server_factory: Callable[[int], ViteServer], port: int, *, on_status: Callable[[str, str], None],
                    stop_event: asyncio.Event, backoff: Sequence[float] = (0.2, 0.5, 1.0, 2.0)) -> None:
    """Keep a Vite server running on `port` until `stop_event` is set, restarting it when it exits.

    Status goes to `on_status(state, detail)`: starting, ready, error, stopped (always last). A failure of
    the first start is reported as error and raised (the user has to fix something); after Vite has been
    ready once, every exit or failed restart is reported and retried after the next `backoff` delay, on the
    same port when it is still free, else on a newly allocated one (the factory receives it).
    """
    server: ViteServer | None = None
    ever_ready = False
    failures = 0
    note = ""
    try:
        while not stop_event.is_set():
            server = server_factory(port)
            on_status("starting", note)
            note = ""
            started = await _race(server.start(), stop_event)
            if started is None:
                break
            try:
                started.result()
            except PlugindevError as exc:
                on_status("error", str(exc))
                if not ever_ready:
                    raise
            else:
                ever_ready, failures = True, 0
                on_status("ready", "")
                exited = await _race(server.wait(), stop_event)
                if exited is None:
                    break
                on_status("error", describe_exit(exited.result()))
            await server.stop()  # children of a crashed Vite may still hold the port
            delay = backoff[min(failures, len(backoff) - 1)] if backoff else 0.0
            failures += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_event.wait(), delay)
            if not stop_event.is_set() and not port_is_free(port):
                try:
                    old, port = port, allocate_port(taken=(port,))
                except PlugindevError as exc:
                    on_status("error", str(exc))
                    raise
                note = f"port {old} is taken; moving to {port}"
    finally:
        if server is not None:
            await server.stop()
        on_status("stopped", "")
