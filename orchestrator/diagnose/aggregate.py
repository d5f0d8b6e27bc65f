"""One word (and its colour) for a plugin's dev-server state, as the IDE's dev-server view shows it (SPEC §6).

Used by `plugindev status` and the dashboard, over the state JSON (`DevState.to_json()`), so it works the same on
a state read from the API, from an event stream or derived from a `.devinfo` file.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any


class Aggregate(enum.StrEnum):
    READY = "ready"
    BUILDING = "building"
    ERROR = "error"
    STOPPED = "stopped"
    CONNECTING = "connecting"


COLOURS = {
    Aggregate.READY: "#3fb950",
    Aggregate.BUILDING: "#d29922",
    Aggregate.ERROR: "#f85149",
    Aggregate.STOPPED: "#8b949e",
    Aggregate.CONNECTING: "#58a6ff",
}


def aggregate_status(state: Mapping[str, Any]) -> Aggregate:
    """The rule of the IDE's view, in its order: the first that applies wins."""
    vite, go, connected = state.get("viteStatus"), state.get("goStatus"), bool(state.get("grpcConnected"))
    if "error" in (vite, go):
        return Aggregate.ERROR
    if go == "building" or vite == "starting":
        return Aggregate.BUILDING
    if vite == "stopped" and not connected:
        return Aggregate.STOPPED
    if not connected:
        return Aggregate.CONNECTING
    return Aggregate.READY


def with_aggregate(state: Mapping[str, Any]) -> dict[str, Any]:
    """The state plus `aggregate` and `aggregateColor`, as `status --json` prints it."""
    status = aggregate_status(state)
    return {**state, "aggregate": str(status), "aggregateColor": COLOURS[status]}
