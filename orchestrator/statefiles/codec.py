"""What the codecs of plugindev's state files share (`.devinfo`, api.json, managed.json, the process records):
the one error their decoders raise, the layout plugindev writes, and reading the fields of a JSON object that
anyone may have written. A field of the wrong type is named in one line, never coerced.
"""

from __future__ import annotations

import json
from typing import Any

from orchestrator.go.handshake import shorten

_SHOWN = 80  # characters of a value quoted in a reason


class Rejected(ValueError):
    """The bytes are not a file of that kind; the message names the field and says why (one line)."""


def encode_json(document: dict[str, Any]) -> bytes:
    """The layout of every state file plugindev writes: JSON indented by two, then a newline."""
    return (json.dumps(document, indent=2) + "\n").encode()


def decode_object(raw: bytes) -> dict[str, Any]:
    """The JSON object `raw` holds, else Rejected."""
    try:
        data = json.loads(raw)
    except ValueError as exc:  # UnicodeDecodeError is one too
        raise Rejected(f"not valid JSON ({exc})") from None
    except RecursionError:
        raise Rejected("not valid JSON (nested too deeply)") from None
    if not isinstance(data, dict):
        raise Rejected(f"not a JSON object but {type(data).__name__}")
    return data


def shown(value: object) -> str:
    """A JSON value for a reason: as JSON, cut to one short line."""
    return shorten(json.dumps(value), _SHOWN)


def integer(data: dict[str, Any], key: str, name: str = "") -> int | None:
    """The integer at `key` (None when missing or null); `name`: the field's name in a reason, if not `key`."""
    value = data.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise Rejected(f"{name or key} must be an integer, got {shown(value)}")
    return value


def positive(data: dict[str, Any], key: str, name: str = "") -> int:
    """The integer above 0 at `key` (a pid)."""
    value = integer(data, key, name)
    if value is None or value <= 0:
        raise Rejected(f"{name or key} must be a positive integer, got {shown(data.get(key))}")
    return value


def text(data: dict[str, Any], key: str, default: str = "", name: str = "") -> str:
    """The string at `key` (`default` when missing or null)."""
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise Rejected(f"{name or key} must be a string, got {shown(value)}")
    return value
