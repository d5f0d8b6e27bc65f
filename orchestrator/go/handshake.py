"""go-plugin's wire facts that plugindev reads without a .proto: the handshake line a plugin prints on stdout
(`CORE|APP|NETWORK|ADDR|PROTOCOL[|CERT[|MUX]]`, 6 fields since go-plugin 1.5, unix socket or TCP) and the
`StdioData` messages of its stdio stream."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.common.errors import PlugindevError
from orchestrator.common.lines import strip_ansi


@dataclass(frozen=True)
class Handshake:
    core_version: int
    app_version: int
    network: str  # "unix" | "tcp"
    address: str
    protocol: str  # "grpc"

    @property
    def grpc_target(self) -> str:
        return f"unix:{self.address}" if self.network == "unix" else self.address


class HandshakeError(PlugindevError):
    """The plugin did not print a usable go-plugin handshake (timeout, early exit, wrong protocol)."""


def shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def parse_handshake(line: str) -> Handshake:
    """Parse go-plugin's handshake line; 5 to 7 fields (go-plugin ≥ 1.5 prints 6), unix or tcp, gRPC only."""
    text = strip_ansi(line).strip()
    shown = repr(shorten(text))
    fields = text.split("|")
    if not 5 <= len(fields) <= 7:
        raise HandshakeError(f"not a go-plugin handshake line (want CORE|APP|NETWORK|ADDR|PROTOCOL): {shown}")
    core, app, network, address, protocol = fields[:5]
    # ASCII digits only: "²" is a digit to str.isdigit(), and int() refuses it
    if not (core.isascii() and core.isdecimal() and app.isascii() and app.isdecimal()):
        raise HandshakeError(f"go-plugin handshake {shown}: protocol versions must be numbers")
    if int(core) != 1:
        raise HandshakeError(f"go-plugin handshake {shown}: core protocol {core}, plugindev speaks 1 "
                             "(update github.com/hashicorp/go-plugin)")
    if network not in ("unix", "tcp"):
        raise HandshakeError(f"go-plugin handshake {shown}: network {network!r} is neither unix nor tcp")
    if not address:
        raise HandshakeError(f"go-plugin handshake {shown}: empty address")
    if protocol != "grpc":
        raise HandshakeError(f"go-plugin handshake {shown}: protocol {protocol!r}, Omniview plugins must serve grpc")
    return Handshake(int(core), int(app), network, address, protocol)


def looks_like_handshake(line: str) -> bool:
    """Lines a plugin prints before serving are output; a `<number>|…` line is its (maybe bad) handshake."""
    first = strip_ansi(line).strip().split("|", 1)
    return len(first) == 2 and first[0].isascii() and first[0].isdecimal()


def proto_records(message: bytes) -> list[tuple[int, int | bytes]]:
    """The varint and length-delimited fields of a protobuf message in wire order, as (number, value): a
    repeated or map field gives one record per element. Raises ValueError on a malformed message."""
    records: list[tuple[int, int | bytes]] = []
    pos = 0

    def varint() -> int:
        nonlocal pos
        value = shift = 0
        while True:
            byte = message[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    try:
        while pos < len(message):
            key = varint()
            field, wire_type = key >> 3, key & 7
            if wire_type == 0:
                records.append((field, varint()))
            elif wire_type == 2:
                size = varint()
                if pos + size > len(message):
                    raise IndexError
                records.append((field, message[pos:pos + size]))
                pos += size
            elif wire_type in (1, 5):  # fixed 64/32-bit fields: none of ours, skipped
                pos += 8 if wire_type == 1 else 4
            else:
                raise ValueError(f"unsupported protobuf wire type {wire_type}")
    except IndexError:
        raise ValueError("truncated protobuf message") from None
    return records


def proto_fields(message: bytes) -> dict[int, int | bytes]:
    """The fields of a protobuf message by number (the last one wins), for the few tiny messages plugindev
    reads without a .proto. Raises ValueError on a malformed message."""
    return dict(proto_records(message))


def decode_stdio_data(message: bytes) -> tuple[int, bytes]:
    """Decode go-plugin's `StdioData {Channel channel = 1; bytes data = 2}` (two fields: not worth a .proto)."""
    fields = proto_fields(message)
    channel, data = fields.get(1, 0), fields.get(2, b"")
    if not isinstance(channel, int) or not isinstance(data, bytes):
        raise ValueError("StdioData fields of the wrong wire type")
    return channel, data
