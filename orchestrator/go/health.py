"""Asking a go-plugin process over gRPC whether it serves: go-plugin's own `grpc.health.v1` status of the
service "plugin", and the Omniview SDK's lifecycle `HealthCheck` (SDK ≥ 0.5 registers it; older plugins have
none). grpc is imported inside the functions: it takes a while to load and most commands never need it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestrator.go.handshake import proto_fields, shorten

if TYPE_CHECKING:
    import grpc.aio

HEALTH_SERVICE = "plugin"  # go-plugin registers its health status under this service name
_HEALTH_CHECK = "/grpc.health.v1.Health/Check"
# omniview.sdk.lifecycle.v1.PluginLifecycle (proto/v1/lifecycle/lifecycle.proto in the SDK): HealthCheck takes
# google.protobuf.Empty and answers HealthCheckResponse {ServingStatus status = 1}, SERVING_STATUS_SERVING = 1.
_LIFECYCLE_HEALTH = "/omniview.sdk.lifecycle.v1.PluginLifecycle/HealthCheck"
_LIFECYCLE_SERVING = 1
_LIFECYCLE_STATUS_NAMES = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING"}


def _identity(data: bytes) -> bytes:
    return data


def _rpc_failure(what: str, error: grpc.aio.AioRpcError) -> str:
    details = (error.details() or "").strip()
    return f"{what}: {error.code().name}" + (f" ({shorten(details, 160)})" if details else "")


async def go_plugin_health(channel: grpc.aio.Channel, timeout: float, *, wait_for_ready: bool = True) -> str:
    """"" when go-plugin's `plugin` service is SERVING, else why not; never raises.

    `wait_for_ready`: a channel in connection backoff waits (up to `timeout`) instead of failing at once.
    """
    import grpc.aio
    from grpc_health.v1 import health_pb2

    check = channel.unary_unary(_HEALTH_CHECK, request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                                response_deserializer=health_pb2.HealthCheckResponse.FromString)
    try:
        response = await check(health_pb2.HealthCheckRequest(service=HEALTH_SERVICE), timeout=timeout,
                               wait_for_ready=wait_for_ready)
    except grpc.aio.AioRpcError as exc:
        return _rpc_failure("gRPC health check", exc)
    if response.status != health_pb2.HealthCheckResponse.SERVING:
        return f"gRPC health check: {health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)}"
    return ""


@dataclass(frozen=True)
class LifecycleHealth:
    present: bool  # the plugin registers the SDK's lifecycle service
    error: str = ""  # why it does not serve ("" = it serves, or the service is absent)


async def lifecycle_health(channel: grpc.aio.Channel, timeout: float) -> LifecycleHealth:
    """The SDK's lifecycle `HealthCheck`; a plugin without that service (UNIMPLEMENTED) is not a failure."""
    import grpc
    import grpc.aio

    check = channel.unary_unary(_LIFECYCLE_HEALTH, request_serializer=_identity, response_deserializer=_identity)
    try:
        response = await check(b"", timeout=timeout)  # google.protobuf.Empty encodes as no bytes
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
            return LifecycleHealth(present=False)
        return LifecycleHealth(present=True, error=_rpc_failure("the SDK's lifecycle HealthCheck", exc))
    try:
        status = proto_fields(response).get(1, 0)
    except ValueError as exc:
        return LifecycleHealth(present=True, error=f"the SDK's lifecycle HealthCheck: unreadable answer ({exc})")
    if status != _LIFECYCLE_SERVING:
        name = _LIFECYCLE_STATUS_NAMES.get(status, str(status)) if isinstance(status, int) else "malformed"
        return LifecycleHealth(present=True, error=f"the SDK's lifecycle HealthCheck: {name}")
    return LifecycleHealth(present=True)
