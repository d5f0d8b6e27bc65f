"""Delve, the Go debugger, for `run --debug`: installed once through the Go module proxy into plugindev's cache,
the plugin started under it, and its JSON-RPC API asked what the plugin does.

The plugin is launched by Delve (`dlv exec --headless ... --continue`) rather than attached to later: Delve's child
shares Delve's stdout, so go-plugin's handshake reaches plugindev as usual, the plugin can be debugged from its
first line, and no ptrace permission beyond a parent's is needed (attaching to a process that is not one's child
is refused where Yama's ptrace_scope is 1, Ubuntu's default). Delve starts the plugin in a process group of its
own and stays up for its clients when the plugin exits; `DebuggedPlugin` covers both.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from orchestrator.common.durations import seconds_text
from orchestrator.common.errors import PlugindevError
from orchestrator.common.net import HOST
from orchestrator.common.node import run_captured
from orchestrator.common.paths import cache_dir
from orchestrator.common.process import is_alive, start_time

DELVE_VERSION = "v1.27.2"
DELVE_PACKAGE = "github.com/go-delve/delve/cmd/dlv"
EXIT_POLL = 0.05  # seconds between looks at whether the debugged plugin still runs (Delve does not say)
_RPC_LIMIT = 1 << 22  # bytes of one JSON-RPC answer (a halted process's state lists its threads)
_EXITED = re.compile(r"has exited with status (-?\d+)")
# What Delve itself prints on the output it shares with the plugin, on each start and stop: plugindev says the port
DELVE_NOTICE = re.compile(r"^(?:API server listening at: |Stop reason: )")


def delve_binary() -> Path:
    return cache_dir() / "dlv" / DELVE_VERSION / ("dlv.exe" if os.name == "nt" else "dlv")


# The install under way in this plugindev: the plugins of one `run --debug` wait for the one install, said once.
_installing: dict[Path, asyncio.Task[Path]] = {}


async def ensure_delve(go: str, say: Callable[[str], None],
                       on_spawn: Callable[[int], None] = lambda _pid: None) -> Path:
    """Delve from plugindev's cache, `go install`ed there the first time (said before and after)."""
    installed = delve_binary()
    if installed.is_file():
        return installed
    install = _installing.get(installed)
    if install is None or install.get_loop() is not asyncio.get_running_loop():
        install = asyncio.create_task(_install(go, installed, say, on_spawn))
        _installing[installed] = install
        install.add_done_callback(lambda _done: _installing.pop(installed, None))
    return await asyncio.shield(install)  # one plugin that stops waiting does not end the others' install


async def _install(go: str, installed: Path, say: Callable[[str], None], on_spawn: Callable[[int], None]) -> Path:
    say(f"installing Delve {DELVE_VERSION}, the Go debugger, into {installed.parent} (once)")
    started = time.monotonic()
    try:
        installed.parent.mkdir(parents=True, exist_ok=True)
        # go install writes into GOBIN in place: a folder of its own, renamed from, so no one ever runs half a dlv
        staging = Path(tempfile.mkdtemp(prefix=".install-", dir=installed.parent))
    except OSError as exc:
        raise PlugindevError(f"cannot install Delve into {installed.parent}: {exc.strerror or exc} (set "
                             "PLUGINDEV_CACHE_DIR to a writable folder)") from None
    try:
        code, out, err = await run_captured(go, "install", f"{DELVE_PACKAGE}@{DELVE_VERSION}",
                                            cwd=staging, env=os.environ | {"GOBIN": str(staging)},
                                            on_spawn=on_spawn)
        if code != 0:
            last = [line for line in (out + err).splitlines() if line.strip()][-3:]
            raise PlugindevError(f"`go install {DELVE_PACKAGE}@{DELVE_VERSION}` failed: {' | '.join(last)} "
                                 "(Go fetches it through GOPROXY; check that it is reachable)")
        os.replace(staging / installed.name, installed)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    say(f"installed Delve in {seconds_text(time.monotonic() - started)}")
    return installed


@dataclass(frozen=True)
class DelveServer:
    """A headless Delve serving one plugin process on 127.0.0.1:`port` (JSON-RPC and DAP alike)."""

    dlv: Path
    port: int

    def command(self, binary: Path) -> list[str]:
        """Delve launching `binary` and letting it run at once; IDEs attach and detach as they like."""
        return [str(self.dlv), "exec", "--headless", f"--listen={HOST}:{self.port}", "--api-version=2",
                "--accept-multiclient", "--continue", str(binary)]

    async def call(self, method: str, params: dict[str, Any], timeout: float = 5.0) -> Any:
        """One JSON-RPC call (`RPCServer.<method>`); Delve's error raised as PlugindevError, and so is no answer."""
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(HOST, self.port, limit=_RPC_LIMIT)
                try:
                    request = {"method": f"RPCServer.{method}", "params": [params], "id": 1}
                    writer.write(json.dumps(request).encode() + b"\n")
                    answer = json.loads(await reader.readline() or b"null")
                finally:
                    writer.close()
        except (OSError, TimeoutError, ValueError) as exc:
            raise PlugindevError(f"Delve on port {self.port} did not answer {method}: {exc}") from None
        if not isinstance(answer, dict):
            raise PlugindevError(f"Delve on port {self.port} closed the connection instead of answering {method}")
        if answer.get("error"):
            raise PlugindevError(str(answer["error"]))
        return answer.get("result")

    async def halted(self) -> bool:
        """Whether the plugin is stopped in the debugger (a breakpoint, a pause); False when Delve cannot say."""
        try:
            state = (await self.call("State", {"NonBlocking": True}))["State"]
        except (PlugindevError, KeyError, TypeError):
            return False
        return state.get("Running") is False and not state.get("exited")

    async def exit_status(self) -> int | None:
        """How the plugin exited, as Delve saw it (negative: the signal that ended it); None when Delve cannot say."""
        try:
            await self.call("State", {"NonBlocking": True})
        except PlugindevError as exc:
            if (match := _EXITED.search(str(exc))) is not None:
                return int(match[1])
        return None


@dataclass(frozen=True)
class DebuggedPlugin:
    """The plugin process a Delve launched: its own pid (what the IDE's .devinfo names) and start time."""

    delve: DelveServer
    pid: int
    start_time: int | None

    @classmethod
    def find(cls, delve: DelveServer, delve_pid: int, binary: Path) -> DebuggedPlugin:
        """Delve's child that runs `binary` (its other child is Go's telemetry helper)."""
        wanted = os.path.realpath(binary)
        try:
            children = psutil.Process(delve_pid).children(recursive=True)
        except psutil.Error:
            children = []
        for child in children:
            try:
                if os.path.realpath(child.exe()) == wanted:
                    return cls(delve, child.pid, start_time(child.pid))
            except (psutil.Error, OSError):
                continue
        raise PlugindevError(f"Delve (pid {delve_pid}) runs no process of {binary}")

    def running(self) -> bool:
        return is_alive(self.pid, self.start_time)

    async def gone(self) -> None:
        """Once the plugin no longer runs (Delve reaps it, so it is not ours to wait for)."""
        while self.running():
            await asyncio.sleep(EXIT_POLL)
