"""Checking one process that an external `.devinfo` advertises: its health over one gRPC connection every
`interval` seconds, at once when that connection drops, until the process is gone. Only ever asks: never
stops anything."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from orchestrator.go.health import go_plugin_health, lifecycle_health
from orchestrator.statefiles.devinfo import DevInfo, process_gone

if TYPE_CHECKING:
    import grpc.aio

CHECK_TIMEOUT = 2.0  # one health check's bound (never more than the interval)

Checked = Callable[[str, bool], None]
"""`on_checked(error, lifecycle)`: error "" when the checks pass; lifecycle: the SDK's service answered."""


async def check_until_gone(info: DevInfo, interval: float, on_checked: Checked,
                           on_gone: Callable[[str], Awaitable[None]]) -> None:
    """Report every check to `on_checked`; once the process is dead (or its PID recycled) call `on_gone(why)`
    and return. Cancel it to stop checking: the connection is closed either way."""
    import grpc.aio

    timeout = min(CHECK_TIMEOUT, interval)
    lifecycle: bool | None = None  # unknown until asked once; a plugin without it is not asked again
    channel: grpc.aio.Channel | None = None
    try:
        while True:
            if channel is None:
                channel = grpc.aio.insecure_channel(info.grpc_target)
            error = await go_plugin_health(channel, timeout, wait_for_ready=False)
            if not error and lifecycle is not False:
                answer = await lifecycle_health(channel, timeout)
                lifecycle, error = answer.present, answer.error
            # Killed meanwhile (or recycled): that, not the failed check, is the news.
            gone = process_gone(info)
            if gone:
                await on_gone(gone)
                return
            if error:
                # a fresh connection next time: a channel in reconnect backoff would fail at once
                await channel.close()
                channel = None
            on_checked(error, bool(lifecycle))
            await _until_next_check(channel, interval)
    finally:
        if channel is not None:
            await channel.close()


async def _until_next_check(channel: grpc.aio.Channel | None, interval: float) -> None:
    """`interval` seconds, or less when a working connection drops (a killed plugin is seen at once)."""
    import grpc

    if channel is None or channel.get_state() is not grpc.ChannelConnectivity.READY:
        await asyncio.sleep(interval)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(channel.wait_for_state_change(grpc.ChannelConnectivity.READY), interval)
