"""The line the author reads for each change a part reports, made from the change alone, in this one place: a part
tells a change (PartContext.tell) and never writes its line beside it."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.common.durations import seconds_text
from orchestrator.devloop.vite import entry_url
from orchestrator.model.events import Level, Source
from orchestrator.model.state import (
    BuildFinished,
    Change,
    InstallFailed,
    PluginFailed,
    PluginHealth,
    PluginShutDown,
    PluginStarted,
    PluginStopped,
    ReplacementFailed,
    UiBuild,
    UiFailed,
    ViteReady,
    ViteStarting,
)

KEEPS_SERVING = "the running plugin keeps serving"


@dataclass(frozen=True)
class Line:
    source: Source
    level: Level
    message: str


def narrate(change: Change) -> Line | None:
    """The line that says `change`; None for a change its status says well enough (or that is said elsewhere)."""
    match change:
        case ViteStarting(port=port, moved_from=old) if old:
            return Line(Source.VITE, Level.WARN, f"port {old} is taken; moving to {port}")
        case ViteReady(port=port, entry_problem=""):
            return Line(Source.VITE, Level.INFO, f"ready: the IDE loads {entry_url(port)}")
        case ViteReady(entry_problem=problem):
            return Line(Source.VITE, Level.ERROR, problem)
        case UiBuild(done=False):
            return Line(Source.VITE, Level.INFO, "vite build")
        case UiBuild(installed_into=folder):
            return Line(Source.VITE, Level.INFO, f"installed UI assets into {folder}")
        case UiFailed(message=message):
            return Line(Source.VITE, Level.ERROR, message)
        case BuildFinished(duration_ns=duration, error=""):
            return Line(Source.GO_BUILD, Level.INFO, f"built in {seconds_text(duration / 1e9)}")
        case BuildFinished(serving=True):
            return Line(Source.GO_BUILD, Level.WARN, f"build failed: {KEEPS_SERVING}")
        case BuildFinished():
            return Line(Source.MANAGER, Level.ERROR,
                        "the backend is not running: fix the errors above and save, plugindev builds again")
        case InstallFailed(message=message, serving=serving):
            return Line(Source.MANAGER, Level.ERROR,
                        f"{message} ({KEEPS_SERVING if serving else 'the backend is not running'})")
        case PluginStarted(process=process):
            return Line(Source.MANAGER, Level.INFO,
                        f"plugin running: pid {process.pid}, {process.network} {process.address}")
        case ReplacementFailed(message=message):
            return Line(Source.MANAGER, Level.ERROR, f"{message}; {KEEPS_SERVING}")
        case PluginFailed(message=message):
            return Line(Source.MANAGER, Level.ERROR, message)
        case PluginHealth(healthy=True, pid=pid):
            return Line(Source.MANAGER, Level.INFO, f"plugin pid {pid} is healthy again")
        case PluginHealth(pid=pid):
            return Line(Source.MANAGER, Level.ERROR, f"plugin pid {pid} is failing its health check")
        case PluginShutDown(pid=pid, restart_in=delay):
            return Line(Source.MANAGER, Level.INFO, f"plugin pid {pid} was shut down by a client (go-plugin's "
                                                    "Shutdown, as the IDE sends on closing); restarting it in "
                                                    f"{seconds_text(delay)}")
        case PluginStopped(pid=pid, replaced=replaced):
            return Line(Source.MANAGER, Level.DEBUG, f"stopped plugin pid {pid}{' (replaced)' if replaced else ''}")
    return None
