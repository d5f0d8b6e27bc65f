"""One plugin's dev-server state, the typed changes its parts (or, for an external plugin, the monitor) report,
and how each change moves the state (applied by the plugin's record, orchestrator.model.record).

`DevState` is the only state a plugin has: the printer, `--json`, `.devinfo` and the API all derive from it
and from the events that carry it. JSON names and status values are those of the IDE's Go types.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from orchestrator.common.net import HOST

HEALTH_LOST = "the plugin's gRPC health check fails"

Side = Literal["go", "ui"]  # the half of a plugin a part runs, and so the status its failure shows


class Status(enum.StrEnum):
    IDLE = "idle"
    STARTING = "starting"
    BUILDING = "building"
    READY = "ready"
    ERROR = "error"
    STOPPED = "stopped"


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class BackendProcess:
    """The plugin process the IDE attaches to: what `.devinfo` says about it."""

    pid: int
    start_time: int | None  # with the pid, names the process across PID reuse
    network: str  # unix | tcp
    address: str
    protocol: str
    protocol_version: int
    started_at: str  # RFC 3339
    version: str  # the plugin.yaml version it was started with


@dataclass(frozen=True)
class DevState:
    pluginID: str
    devPath: str
    mode: str = "managed"
    vitePort: int = 0
    viteURL: str = ""  # only while Vite is ready
    viteStatus: Status = Status.IDLE
    goStatus: Status = Status.IDLE
    lastBuildDuration: int = 0  # nanoseconds
    lastBuildTime: str = ""
    lastError: str = ""
    grpcConnected: bool = False  # only while the health check passes
    process: BackendProcess | None = None

    def to_json(self) -> dict[str, Any]:
        """The IDE's names, plus the serving process's pid (0 when none)."""
        return {"pluginID": self.pluginID, "mode": self.mode, "devPath": self.devPath, "vitePort": self.vitePort,
                "viteURL": self.viteURL, "viteStatus": str(self.viteStatus), "goStatus": str(self.goStatus),
                "lastBuildDuration": self.lastBuildDuration, "lastBuildTime": self.lastBuildTime,
                "lastError": self.lastError, "grpcConnected": self.grpcConnected,
                "pid": self.process.pid if self.process else 0}


# -- what the parts report: each change knows how it moves the state ------------------------------------


@dataclass(frozen=True)
class ViteStarting:
    """A Vite dev server is being started on `port` (again, after an exit)."""

    port: int
    moved_from: int = 0  # the port it had, when someone else took it meanwhile

    def apply(self, state: DevState) -> DevState:
        return replace(state, viteStatus=Status.STARTING, vitePort=self.port, viteURL="")


@dataclass(frozen=True)
class ViteReady:
    """Vite printed its banner for `port` and serves its client module."""

    port: int
    entry_problem: str = ""  # what the IDE would get instead of the UI's entry ("" when it loads)

    def apply(self, state: DevState) -> DevState:
        return replace(state, viteStatus=Status.READY, vitePort=self.port, viteURL=f"http://{HOST}:{self.port}")


@dataclass(frozen=True)
class UiBuild:
    """`--ui build`: a `vite build` started, or (`done`) the assets of a good one are installed."""

    done: bool
    installed_into: str = ""  # done: the folder of the installed assets

    def apply(self, state: DevState) -> DevState:
        return replace(state, viteStatus=Status.READY if self.done else Status.BUILDING)


@dataclass(frozen=True)
class UiFailed:
    """Vite exited or could not start, or a `vite build` failed."""

    message: str

    def apply(self, state: DevState) -> DevState:
        return replace(state, viteStatus=Status.ERROR, viteURL="", lastError=self.message)


@dataclass(frozen=True)
class GoBusy:
    """The backend is building (the plugin.yaml check, then `go build`) or starting a plugin process."""

    status: Literal[Status.BUILDING, Status.STARTING]

    def apply(self, state: DevState) -> DevState:
        return replace(state, goStatus=self.status)


@dataclass(frozen=True)
class BuildFinished:
    """The build ended; `error` says why when it failed (whatever runs keeps running)."""

    duration_ns: int
    error: str = ""
    serving: bool = False  # a failed build: a plugin process serves on

    def apply(self, state: DevState) -> DevState:
        built = replace(state, lastBuildDuration=self.duration_ns, lastBuildTime=now_rfc3339())
        return replace(built, goStatus=Status.ERROR, lastError=self.error) if self.error else built


@dataclass(frozen=True)
class PluginStarted:
    """A process handshook and passed its first gRPC health check: it serves now (it replaces any older one)."""

    process: BackendProcess

    def apply(self, state: DevState) -> DevState:
        return replace(state, process=self.process, grpcConnected=True, goStatus=Status.READY, lastError="")


@dataclass(frozen=True)
class ReplacementFailed:
    """A new process did not start (or was not healthy); the one that serves keeps serving."""

    message: str

    def apply(self, state: DevState) -> DevState:
        return replace(state, goStatus=Status.ERROR, lastError=self.message)


@dataclass(frozen=True)
class InstallFailed:
    """A good build could not be installed (a full disk, a folder gone): whatever runs keeps running."""

    message: str
    serving: bool  # a plugin process serves on

    def apply(self, state: DevState) -> DevState:
        return replace(state, goStatus=Status.ERROR, lastError=self.message)


@dataclass(frozen=True)
class PluginHealth:
    """A periodic health check of the running process (`pid`) answered differently than the last one."""

    healthy: bool
    pid: int

    def apply(self, state: DevState) -> DevState:
        if not self.healthy:
            return replace(state, grpcConnected=False, goStatus=Status.ERROR, lastError=HEALTH_LOST)
        # recovering clears only the error the lost health put there, not a build's
        recovered = state.goStatus is Status.ERROR and state.lastError == HEALTH_LOST
        return replace(state, grpcConnected=True, goStatus=Status.READY if recovered else state.goStatus,
                       lastError="" if recovered else state.lastError)


@dataclass(frozen=True)
class PluginFailed:
    """The plugin did not start, or exited on its own."""

    message: str

    def apply(self, state: DevState) -> DevState:
        return replace(state, process=None, grpcConnected=False, goStatus=Status.ERROR, lastError=self.message)


@dataclass(frozen=True)
class PluginStopped:
    """plugindev stopped the plugin process `pid`: to end, or (`replaced`) once its successor took over, which
    the state names already."""

    pid: int
    replaced: bool = False

    def apply(self, state: DevState) -> DevState:
        return state if self.replaced else replace(state, process=None, grpcConnected=False)


@dataclass(frozen=True)
class PluginShutDown:
    """A client shut the plugin process `pid` down through go-plugin (as the IDE's client does when it closes):
    no failure; it is started again in `restart_in` seconds."""

    pid: int
    restart_in: float

    def apply(self, state: DevState) -> DevState:
        return replace(state, process=None, grpcConnected=False)


@dataclass(frozen=True)
class PartFailed:
    """A part of the session (or the session itself) stopped on an unexpected error and is restarted after a
    backoff: the line says so; the status of its side, if it has one, is error until it reports again."""

    message: str
    side: Side | None = None

    def apply(self, state: DevState) -> DevState:
        failed = replace(state, lastError=self.message)
        if self.side == "go":
            return replace(failed, goStatus=Status.ERROR)
        if self.side == "ui":
            return replace(failed, viteStatus=Status.ERROR, viteURL="")
        return failed


@dataclass(frozen=True)
class SessionStopped:
    """The session ended: nothing runs any more."""

    def apply(self, state: DevState) -> DevState:
        return replace(state, process=None, grpcConnected=False, goStatus=Status.STOPPED,
                       viteStatus=Status.STOPPED, viteURL="")


# -- an external plugin (`mode: external`): what the monitor finds in its .devinfo and its health checks ----


@dataclass(frozen=True)
class ExternalFound:
    """An external plugin's `.devinfo` names a live process: a new one is shown starting until its first health
    check answers; for the one already followed (`rewritten`: its file was written again) the checks go on."""

    process: BackendProcess
    vite_port: int
    rewritten: bool = False

    def apply(self, state: DevState) -> DevState:
        found = replace(state, process=self.process, vitePort=self.vite_port,
                        viteURL=f"http://{HOST}:{self.vite_port}" if self.vite_port else "")
        if self.rewritten:
            return found
        return replace(found, goStatus=Status.STARTING, grpcConnected=False, lastError="")


@dataclass(frozen=True)
class ExternalHealth:
    """A health check of an external plugin's process answered: `error` "" when it passed, else why it failed."""

    error: str

    def apply(self, state: DevState) -> DevState:
        return replace(state, goStatus=Status.ERROR if self.error else Status.READY, grpcConnected=not self.error,
                       lastError=self.error)


@dataclass(frozen=True)
class ExternalRejected:
    """An external plugin's `.devinfo` is not followed (invalid, unreadable, or naming a gone process that it
    cannot be cleaned of): `reason` says why; nothing of the process it named is shown."""

    reason: str

    def apply(self, state: DevState) -> DevState:
        return replace(state, process=None, grpcConnected=False, vitePort=0, viteURL="", goStatus=Status.ERROR,
                       lastError=self.reason)


Change = (ViteStarting | ViteReady | UiBuild | UiFailed | GoBusy | BuildFinished | PluginStarted
          | ReplacementFailed | InstallFailed | PluginHealth | PluginFailed | PluginStopped | PluginShutDown
          | PartFailed | SessionStopped
          | ExternalFound | ExternalHealth | ExternalRejected)


def apply_change(state: DevState, change: Change) -> DevState:
    """The state after `change`; pure, so every transition can be tested on its own."""
    return change.apply(state)
