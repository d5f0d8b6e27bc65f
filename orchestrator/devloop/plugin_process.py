"""One go-plugin process: spawn it with the magic cookie, read its handshake, pass on its output, check its
health and stop it gracefully, all over one gRPC connection kept for the process's life.

go-plugin specifics this module relies on (hashicorp/go-plugin ≥ 1.5, the version Omniview's SDK uses):

* `PLUGIN_UNIX_SOCKET_DIR` chooses where the unix socket goes, so each process gets a private folder we can
  remove afterwards (SIGTERM/SIGKILL leave the socket behind);
* after the handshake the plugin's own stdout/stderr go through unbuffered channels into the
  `GRPCStdio/StreamStdio` server stream: a printing plugin blocks until someone reads it, so one stream is
  opened right after the handshake and kept for the process's lifetime (re-opening it loses data);
* `GRPCController/Shutdown` is go-plugin's graceful stop; the server closes the socket while answering, so
  the call usually fails with UNAVAILABLE, which still means "stopping". SIGINT is ignored by go-plugin.

Under `run --debug` the process plugindev starts is Delve, which launches the plugin (orchestrator.go.delve): the
plugin's pid is then its child's, its exit is watched there, and Delve is told to go once the plugin is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.common.durations import seconds_text
from orchestrator.common.errors import PlugindevError
from orchestrator.common.lines import READ_CHUNK, LineSplitter, pump_lines
from orchestrator.common.paths import TEMP_DIR_PREFIX, socket_parent
from orchestrator.common.process import signal_group, spawn, start_time, stop_group
from orchestrator.common.rebuild import wait_first
from orchestrator.common.tasks import ended, raise_failure
from orchestrator.go.delve import DebuggedPlugin, DelveServer
from orchestrator.go.handshake import (
    Handshake,
    HandshakeError,
    decode_stdio_data,
    looks_like_handshake,
    parse_handshake,
    shorten,
)
from orchestrator.go.health import go_plugin_health

if TYPE_CHECKING:
    import grpc.aio

OutputCallback = Callable[[str, str], None]
"""`on_output(stream, line)`: stream is "stdout" or "stderr", line has no newline. Must not block or raise."""

COOKIE_KEY = "OMNIVIEW"  # the Omniview SDK's go-plugin magic cookie key; the value is the plugin id
_SHUTDOWN = "/plugin.GRPCController/Shutdown"
_STREAM_STDIO = "/plugin.GRPCStdio/StreamStdio"

# Never inherited from the user's shell: variables that would make go-plugin speak something else than plain
# gRPC on its socket (multiplexing, AutoMTLS), and OMNIVIEW_DEV, with which SDK v0.5.0 writes and deletes the
# very .devinfo that plugindev owns, and exits on SIGTERM.
_DROPPED_ENV = ("PLUGIN_MULTIPLEX_GRPC", "PLUGIN_CLIENT_CERT", "OMNIVIEW_DEV")

_STDERR_TAIL = 50
_DRAIN_TIMEOUT = 1.0  # how long the readers may take to pass on the last output once the process is gone


def _identity(data: bytes) -> bytes:
    return data


def _stderr_summary(lines: Iterable[str]) -> str:
    """The line that explains a failure: Go's panic line if there is one, else the last few lines."""
    kept = [line.strip() for line in lines if line.strip()]
    for line in kept:
        if line.startswith(("panic: ", "fatal error: ")):
            return line
    return " | ".join(kept[-3:])


class PluginProcess:
    """A running go-plugin process in its own process group. Always finish with `stop()`, even after it exited:
    that also stops the output readers, closes the gRPC channel and removes the socket folder."""

    handshake: Handshake

    def __init__(self, proc: asyncio.subprocess.Process, *, plugin_id: str, socket_dir: Path,
                 on_output: OutputCallback) -> None:
        self._proc = proc
        self.plugin_id = plugin_id
        self.group = proc.pid  # the process group plugindev started (and records): the plugin's, or its Delve's
        self.pid = proc.pid  # the plugin itself, as .devinfo names it
        self.start_time = start_time(proc.pid)
        self._debugged: DebuggedPlugin | None = None  # run --debug: the plugin Delve launched
        self.socket_dir = socket_dir
        self._on_output = on_output
        self._stderr_tail: deque[str] = deque(maxlen=_STDERR_TAIL)
        self._stdout_lines = LineSplitter()
        self._tasks: list[asyncio.Task[None]] = []
        self._channel: grpc.aio.Channel | None = None
        self._stop_lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def start(cls, binary: Path, *, plugin_id: str, cwd: Path, env: Mapping[str, str] | None = None,
                    extra_env: Mapping[str, str] | None = None, on_output: OutputCallback,
                    on_spawn: Callable[[int, Path], None] = lambda _pid, _dir: None,
                    handshake_timeout: float = 30.0, delve: DelveServer | None = None) -> PluginProcess:
        """Spawn `binary` (under `delve` when given), wait for its handshake and start passing on its output.

        `on_spawn(pid, socket_dir)` runs as soon as the process exists, before the handshake. Raises
        HandshakeError (the process group killed, nothing left behind) when no valid handshake comes.
        """
        socket_dir = Path(tempfile.mkdtemp(prefix=TEMP_DIR_PREFIX, dir=socket_parent()))  # 0700: ours alone
        full_env = {k: v for k, v in (os.environ if env is None else env).items() if k not in _DROPPED_ENV}
        full_env |= {COOKIE_KEY: plugin_id, "PLUGIN_UNIX_SOCKET_DIR": str(socket_dir), **(extra_env or {})}
        try:
            proc = await spawn(delve.command(binary) if delve else [str(binary)], cwd=cwd, env=full_env,
                               on_spawn=lambda pid: on_spawn(pid, socket_dir))
        except PlugindevError as exc:
            shutil.rmtree(socket_dir, ignore_errors=True)
            raise PlugindevError(f"cannot start plugin {plugin_id!r}: {exc}") from None
        plugin = cls(proc, plugin_id=plugin_id, socket_dir=socket_dir, on_output=on_output)
        assert proc.stdout is not None and proc.stderr is not None
        plugin._tasks.append(asyncio.create_task(pump_lines(proc.stderr, lambda line: plugin._emit("stderr", line))))
        try:
            plugin.handshake = await plugin._read_handshake(handshake_timeout)
            if delve is not None:
                plugin._debugged = DebuggedPlugin.find(delve, proc.pid, binary)
                plugin.pid, plugin.start_time = plugin._debugged.pid, plugin._debugged.start_time
        except BaseException:
            await plugin._close()  # kills the group and reaps it, also when start() itself is cancelled
            raise

        import grpc.aio  # imported here: grpc takes a while to load and most commands never need it

        plugin._channel = grpc.aio.insecure_channel(plugin.handshake.grpc_target)
        # The stdio stream is opened at once: until someone reads it, a plugin that prints blocks.
        plugin._tasks.append(asyncio.create_task(plugin._stream_stdio()))
        plugin._tasks.append(asyncio.create_task(
            pump_lines(proc.stdout, lambda line: plugin._emit("stdout", line), plugin._stdout_lines)))
        return plugin

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    async def wait(self) -> int:
        """The exit code once the plugin exits (negative: killed by that signal)."""
        if self._debugged is None:
            return await self._proc.wait()
        await self._debugged.gone()
        status = await self._debugged.delve.exit_status()
        return status if status is not None else await self._proc.wait()  # Delve went with it: its code

    async def check_health(self, timeout: float = 5.0) -> bool:
        """gRPC health of go-plugin's `plugin` service; False on any failure, never raises."""
        if self._channel is None or self._closed or self.returncode is not None:
            return False
        if self._debugged is not None and await self._debugged.delve.halted():
            return True  # paused in the debugger: it cannot answer until continued, and is not failing for that
        # wait_for_ready: a channel still connecting is not "unhealthy"; the timeout bounds the wait, and so does
        # an exit (a plugin that exits right after its handshake fails at once, not at the deadline)
        check = asyncio.ensure_future(go_plugin_health(self._channel, timeout, wait_for_ready=True))
        try:
            await wait_first(check, self.wait())
        finally:
            if not check.done():
                await ended(check)
        return not check.cancelled() and check.result() == ""

    async def stop(self, timeout: float = 5.0) -> int:
        """go-plugin's Shutdown, then SIGTERM, then SIGKILL to the group, all within `timeout`; idempotent.

        Returns the exit code (negative: the signal that ended it).
        """
        async with self._stop_lock:
            if not self._closed:
                try:
                    await stop_group(self._proc, timeout=timeout, graceful=self._request_shutdown)
                finally:
                    await self._close()
        assert self.returncode is not None
        return self.returncode

    async def _request_shutdown(self, timeout: float) -> None:
        """go-plugin's graceful stop. Any answer, even an error, is only a hint: the exit is what counts.

        Under Delve, which stays up for its clients when the plugin exits, Delve is then told to go (SIGTERM; it
        ends the plugin too if that still runs, as one paused at a breakpoint does, which cannot answer)."""
        debugged = self._debugged
        if debugged is None:
            await self._shutdown_rpc(timeout)
            return
        if not await debugged.delve.halted():
            await self._shutdown_rpc(timeout)
            await debugged.gone()
        signal_group(self.group, signal.SIGTERM)

    async def _shutdown_rpc(self, timeout: float) -> None:
        if self._channel is None:
            return
        import grpc.aio

        shutdown = self._channel.unary_unary(_SHUTDOWN, request_serializer=_identity,
                                             response_deserializer=_identity)
        # The server usually drops the connection while answering: UNAVAILABLE "Socket closed" is normal.
        with contextlib.suppress(grpc.aio.AioRpcError):
            await shutdown(b"", timeout=max(timeout, 0.01))

    async def _close(self) -> None:
        """Release everything: group members left behind, output readers, gRPC channel, socket folder; then raise
        what a reader failed on (its owner's supervisor restarts it), if one did."""
        if self._closed:
            return
        self._closed = True
        # Whatever still runs in the group once we are done with the plugin is a leftover (a child it spawned,
        # or the plugin itself when the handshake failed).
        await stop_group(self._proc, timeout=0.0)
        # The readers end on their own at EOF (pipes) or when the server goes away (stdio stream): let them
        # pass on the last lines, but not forever (a process outside the group may hold a pipe open).
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=_DRAIN_TIMEOUT)
            for task in pending:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._channel is not None:
            await self._channel.close()
        shutil.rmtree(self.socket_dir, ignore_errors=True)
        raise_failure(self._tasks)

    async def _read_handshake(self, timeout: float) -> Handshake:
        stdout = self._proc.stdout
        assert stdout is not None
        reason = f"no handshake line on stdout within {seconds_text(timeout)}"
        try:
            async with asyncio.timeout(timeout):
                while True:
                    chunk = await stdout.read(READ_CHUNK)
                    lines = self._stdout_lines.feed(chunk) if chunk else self._stdout_lines.flush()
                    for index, line in enumerate(lines):
                        if looks_like_handshake(line):
                            handshake = parse_handshake(line)
                            for later in lines[index + 1:]:
                                self._on_output("stdout", later)
                            return handshake
                        self._on_output("stdout", line)
                    if not chunk:
                        break
                # stdout closed without a handshake: the plugin is exiting; give it a moment to say why.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_DRAIN_TIMEOUT):
                        await self._proc.wait()
                reason = "stdout closed without a handshake"
        except TimeoutError:
            pass
        except HandshakeError as exc:
            reason = str(exc)
        await self._close()
        if self.returncode is not None and self.returncode >= 0:
            reason += f"; exited with code {self.returncode}"
        stderr = _stderr_summary(self._stderr_tail)
        if stderr:
            reason += f"; stderr: {shorten(stderr, 400)}"
        raise HandshakeError(f"plugin {self.plugin_id!r} did not start: {reason}")

    def _emit(self, stream: str, line: str) -> None:
        if stream == "stderr":
            self._stderr_tail.append(line)
        self._on_output(stream, line)

    async def _stream_stdio(self) -> None:
        """Read go-plugin's stdio stream (the plugin's own stdout/stderr since the handshake) until it ends."""
        assert self._channel is not None
        import grpc.aio

        call = self._channel.unary_stream(_STREAM_STDIO, request_serializer=_identity,
                                          response_deserializer=_identity)(b"")
        buffers = {"stdout": LineSplitter(), "stderr": LineSplitter()}
        try:
            async for message in call:
                try:
                    channel, data = decode_stdio_data(message)
                except ValueError:
                    continue  # a malformed message is not worth stopping the plugin's output for
                stream = "stderr" if channel == 2 else "stdout"
                for line in buffers[stream].feed(data):
                    self._emit(stream, line)
        except grpc.aio.AioRpcError:
            pass  # the server went away with the process; its exit is reported by wait()/stop()
        finally:
            call.cancel()
            for stream, buffer in buffers.items():
                for line in buffer.flush():
                    self._emit(stream, line)
