"""`plugindev status`: one line per plugin in development, from a running plugindev's API, else from the
`.devinfo` files in the state root.

A running `plugindev run`/`serve` advertises its API in `<state root>/plugindev/api.json` (url, token, pid);
its `GET /api/plugins` is the full state of every plugin it runs or watches. Without one, each
`<state root>/plugins/<id>/.devinfo` says which process serves a plugin; status reads them and never deletes
one (a file whose process is dead shows as stopped). `--watch` follows the API's event stream, or polls the
files, and prints again whenever what it shows changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from orchestrator.api.client import ApiClient
from orchestrator.common.durations import seconds_text
from orchestrator.common.errors import PlugindevError
from orchestrator.common.files import UnreadableFile
from orchestrator.common.lines import escape_controls
from orchestrator.common.net import HOST
from orchestrator.common.process import is_alive
from orchestrator.common.tasks import ended
from orchestrator.diagnose.aggregate import COLOURS, aggregate_status, with_aggregate
from orchestrator.model.state import DevState, Status
from orchestrator.statefiles.api_file import ApiEndpoint, running_api
from orchestrator.statefiles.codec import Rejected
from orchestrator.statefiles.devinfo import DEVINFO, load_devinfo

POLL_INTERVAL = 1.0  # seconds between reads of the .devinfo files in --watch without an API
QUIET = 0.1  # a burst of status events (a replay, building -> starting -> ready) is shown once
NO_PLUGIN = ("no plugin in development: start one with `plugindev run PLUGIN_DIR` "
             "(or add one to a running `plugindev serve`)")


@dataclass
class Snapshot:
    """The states shown at one moment, where they come from, and what went wrong reading a better source."""

    states: list[dict[str, Any]]
    source: str
    notes: list[str] = field(default_factory=list)


# -- .devinfo files ----------------------------------------------------------------------------------------


def _build_time(plugin_state_dir: Path) -> str:
    """When the installed binary was built (installing is a rename, so its mtime is the build's end)."""
    try:
        built = (plugin_state_dir / "bin" / "plugin").stat().st_mtime
    except OSError:
        return ""
    return datetime.fromtimestamp(built, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def state_from_devinfo(path: Path) -> dict[str, Any]:
    """The state JSON a `.devinfo` implies."""
    return _devinfo_state(path).to_json()


def _devinfo_state(path: Path) -> DevState:
    """plugindev writes the file only while the plugin's health check passes, so a live process is taken as
    connected only while the plugindev that wrote the file runs."""
    state = DevState(pluginID=path.parent.name, devPath="", mode="external", lastBuildTime=_build_time(path.parent))
    try:
        info = load_devinfo(path)
    except UnreadableFile as exc:
        return replace(state, goStatus=Status.ERROR, lastError=f"{path} is not a valid .devinfo: it {exc.reason}")
    except Rejected as exc:
        return replace(state, goStatus=Status.ERROR,
                       lastError=f"{path} is not a valid .devinfo ({exc}); remove it, `plugindev run` writes it anew")
    port = info.vitePort or 0
    if not is_alive(info.pid, info.processStartTime):
        return replace(state, vitePort=port, viteStatus=Status.STOPPED, goStatus=Status.STOPPED,
                       lastError=f"process {info.pid} of {path} is no longer running")
    checked = info.plugindevPid is not None and is_alive(info.plugindevPid)
    return replace(state, vitePort=port, viteStatus=Status.READY if port else Status.IDLE,
                   viteURL=f"http://{HOST}:{port}" if port else "", goStatus=Status.READY, grpcConnected=checked,
                   lastError="" if checked else f"no running plugindev checks process {info.pid}'s health",
                   process=info.backend_process())


def devinfo_states(root: Path) -> list[dict[str, Any]]:
    return [state_from_devinfo(path) for path in sorted((root / "plugins").glob(f"*/{DEVINFO}"))]


async def _files_snapshot(root: Path, notes: list[str] | None = None) -> Snapshot:
    """The states the .devinfo files imply, read off the event loop."""
    return Snapshot(await asyncio.to_thread(devinfo_states, root), f".devinfo files under {root / 'plugins'}",
                    notes or [])


# -- the current states, once or on every change -----------------------------------------------------------


async def current_snapshot(root: Path) -> Snapshot:
    """From the API when a plugindev runs one, else (and with a note when the API fails) from .devinfo."""
    notes: list[str] = []
    endpoint = await asyncio.to_thread(running_api, root)
    if endpoint is not None:
        try:
            async with ApiClient(endpoint) as client:
                return Snapshot(await client.plugins(), f"the API of plugindev pid {endpoint.pid} ({endpoint.url})")
        except PlugindevError as exc:
            notes.append(f"{exc}; showing the .devinfo files instead")
    return await _files_snapshot(root, notes)


async def watch_status(root: Path, show: Callable[[Snapshot], None], *, poll_interval: float = POLL_INTERVAL,
                       quiet: float = QUIET) -> None:
    """Call `show` now and after every change, until cancelled: through the API's event stream while a
    plugindev serves one, else by reading the .devinfo files every `poll_interval` seconds."""
    # APIs whose failure is not worth a note: one already noted (not once per poll), and one whose stream ended
    # (its plugindev is stopping, and its api.json goes a moment later)
    unnoted: set[ApiEndpoint] = set()
    while True:
        endpoint = await asyncio.to_thread(running_api, root)
        if endpoint is not None:
            try:
                await _follow_api(endpoint, show, quiet)
                unnoted.add(endpoint)
                continue  # look again for what to read
            except PlugindevError as exc:
                notes = [] if endpoint in unnoted else [f"{exc}; reading the .devinfo files until it answers"]
                unnoted.add(endpoint)
                show(await _files_snapshot(root, notes))
        else:
            show(await _files_snapshot(root))
        await asyncio.sleep(poll_interval)


async def _follow_api(endpoint: ApiEndpoint, show: Callable[[Snapshot], None], quiet: float) -> None:
    source = f"the API of plugindev pid {endpoint.pid} ({endpoint.url})"
    ticks: asyncio.Queue[bool] = asyncio.Queue()  # True: a status event; False: the stream ended

    async def read(events: AsyncIterator[None]) -> None:
        try:
            async for _ in events:
                ticks.put_nowait(True)
        finally:
            ticks.put_nowait(False)  # ended or failed: the loop below stops waiting (a failure is raised there)

    async with ApiClient(endpoint) as client, client.status_events() as events:
        # the stream is open before the list is read, so no change falls between the two
        reader = asyncio.create_task(read(events))
        try:
            show(Snapshot(await client.plugins(), source))
            while await ticks.get():
                # the stream replays recent events on connect, and one change often brings several: read
                # the states once the events pause
                with contextlib.suppress(TimeoutError):
                    while True:
                        if not await asyncio.wait_for(ticks.get(), quiet):
                            return
                show(Snapshot(await client.plugins(), source))
        finally:
            await ended(reader)


# -- what an author reads ----------------------------------------------------------------------------------


def _clock(rfc3339: str) -> str:
    """A state's RFC 3339 time in local time: the time of day, with the date when it is not today."""
    try:
        moment = datetime.fromisoformat(rfc3339).astimezone()
    except ValueError:
        return rfc3339
    today = datetime.now().astimezone().date()
    return moment.strftime("%H:%M:%S" if moment.date() == today else "%Y-%m-%d %H:%M:%S")


def _paint(text: str, hex_colour: str) -> str:
    red, green, blue = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"\x1b[38;2;{red};{green};{blue}m{text}\x1b[0m"


def status_line(state: dict[str, Any], id_width: int = 0, colour: bool = False) -> str:
    """`hello-plugin  ready  vite http://127.0.0.1:15173  pid 1234  built 12:01:03 (1.8 s)`."""
    aggregate = aggregate_status(state)
    word = f"{aggregate!s:<10}"
    # ids, URLs and errors can come from any .devinfo: shown, never acted on by the terminal
    parts = [escape_controls(str(state.get("pluginID", "?"))).ljust(id_width),
             _paint(word, COLOURS[aggregate]) if colour else word]
    if state.get("viteURL"):
        parts.append(f"vite {escape_controls(str(state['viteURL']))}")
    elif state.get("vitePort"):  # a UI whose Vite is not ready (a backend-only plugin has no port)
        parts.append(f"vite {state.get('viteStatus')} :{state['vitePort']}")
    parts.append(f"pid {state['pid']}" if state.get("pid") else "no process")
    if state.get("lastBuildTime"):
        duration = state.get("lastBuildDuration") or 0
        parts.append(f"built {_clock(state['lastBuildTime'])}"
                     + (f" ({seconds_text(duration / 1e9)})" if duration else ""))
    if state.get("lastError"):
        parts.append(f"error: {escape_controls(str(state['lastError']).splitlines()[0])}")
    return "  ".join(parts).rstrip()


def status_lines(states: list[dict[str, Any]], colour: bool = False) -> list[str]:
    if not states:
        return [NO_PLUGIN]
    width = max(len(str(s.get("pluginID", ""))) for s in states)
    return [status_line(s, width, colour) for s in sorted(states, key=lambda s: str(s.get("pluginID", "")))]


def render_snapshot(snapshot: Snapshot, *, as_json: bool, colour: bool = False, compact: bool = False) -> str:
    """The lines an author reads, or (`as_json`) the states with their aggregate status and colour."""
    if as_json:
        states = [with_aggregate(s) for s in sorted(snapshot.states, key=lambda s: str(s.get("pluginID", "")))]
        return json.dumps(states, indent=None if compact else 2)
    return "\n".join(status_lines(snapshot.states, colour))


class StatusPrinter:
    """Prints a snapshot when what it shows differs from the last one printed (so `--watch` prints changes
    only); notes go to stderr. Watching on a terminal redraws the screen instead of scrolling."""

    def __init__(self, stream: TextIO, *, as_json: bool, colour: bool, watching: bool = False,
                 verbose: bool = False) -> None:
        self.stream, self.as_json, self.colour, self.watching, self.verbose = stream, as_json, colour, watching, verbose
        self._last: str | None = None

    def __call__(self, snapshot: Snapshot) -> None:
        for note in snapshot.notes:
            sys.stderr.write(f"plugindev: warning: {note}\n")
        text = render_snapshot(snapshot, as_json=self.as_json, colour=self.colour, compact=self.watching)
        if text == self._last:
            return
        self._last = text
        if self.verbose:
            sys.stderr.write(f"plugindev: from {snapshot.source}\n")
        if self.watching and self.colour:
            self.stream.write("\x1b[H\x1b[2J")  # a terminal: redraw in place
        elif self.watching and not self.as_json:
            text += "\n"  # piped: a blank line between one state of the plugins and the next
        self.stream.write(text + "\n")
        self.stream.flush()
