"""What the API reads from a request, checked before a handler uses it: anything a client can send that is no
answerable request (a body nested past what the parser takes, a path no file can have, an event id that is no
number) is a `PlugindevError` naming the value and what to send, which the API answers with 400."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from orchestrator.common.errors import PlugindevError, shown

# event ids are microseconds since the epoch, counting up (16 digits today); 19 digits hold any 64-bit id and keep
# int() far from Python's 4300-digit limit
EVENT_ID_DIGITS = 19
PLUGIN_BODY = '{"path": "<plugin folder>"}'


async def json_body(request: web.Request, expected: str) -> Any:
    """The body as JSON; `expected` shows what to send instead."""
    try:
        return await request.json()
    except RecursionError:  # json's parser recurses once per level: a few thousand `[` exhaust the stack
        raise PlugindevError(f"the body nests too deeply to be read: send {expected}") from None
    except ValueError:
        raise PlugindevError(f"the body must be JSON: {expected}") from None


def plugin_folder(body: Any) -> Path:
    """The folder a `{"path": ...}` body names, as a path this machine can look up (validation then says
    whether it is a plugin)."""
    path = body.get("path") if isinstance(body, dict) else None
    if not isinstance(path, str) or not path:
        raise PlugindevError(f"give the plugin folder: {PLUGIN_BODY}")
    if "\0" in path:
        raise PlugindevError(f"the path {shown(path)} holds a NUL character, which no file name can: "
                             "give the plugin folder's path")
    try:
        folder = Path(path).expanduser()
    except RuntimeError:  # `~name/…` of a user this machine does not know
        user = path.split("/", 1)[0]
        raise PlugindevError(f"the path {shown(path)} starts with {shown(user)}, a user this machine does not "
                             "know: give the plugin folder's full path") from None
    try:
        folder.stat()
    except (FileNotFoundError, NotADirectoryError):
        pass  # validation says what is missing, in the words it uses for every command
    except OSError as exc:  # a name too long, a loop of links: nothing there can be read
        raise PlugindevError(f"the path {shown(path)} cannot be looked up ({exc.strerror}): give the plugin "
                             "folder's path") from None
    return folder


def resume_after(request: web.Request) -> int:
    """The event id a stream resumes after: `Last-Event-ID` (or `?lastEventId=`), 0 for none."""
    raw = request.headers.get("Last-Event-ID") or request.query.get("lastEventId") or "0"
    if not (raw.isascii() and raw.isdigit() and len(raw) <= EVENT_ID_DIGITS):
        raise PlugindevError(f"Last-Event-ID {shown(raw)} is no event id: send the id of the last event received "
                             f"(a whole number of at most {EVENT_ID_DIGITS} digits), or none to start afresh")
    return int(raw)
