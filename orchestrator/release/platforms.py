"""The platforms a plugin is released for, named as Go names them (GOOS/GOARCH)."""

from __future__ import annotations

import platform as host_platform
import sys
from dataclasses import dataclass

from orchestrator.common.errors import UsageError

OPERATING_SYSTEMS = ("linux", "darwin", "windows")
ARCHITECTURES = ("amd64", "arm64")
_HOST_OS = {"linux": "linux", "darwin": "darwin", "win32": "windows"}
_HOST_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True)
class Platform:
    os: str
    arch: str

    def __str__(self) -> str:
        return f"{self.os}/{self.arch}"

    @property
    def slug(self) -> str:
        """`linux-amd64`: in folder and package names."""
        return f"{self.os}-{self.arch}"


def host() -> Platform:
    os_name = _HOST_OS.get(sys.platform)
    arch = _HOST_ARCH.get(host_platform.machine().lower())
    if os_name is None or arch is None:
        raise UsageError(f"this machine ({sys.platform}/{host_platform.machine()}) is not a platform plugins are "
                         f"released for; pass --platform OS/ARCH ({', '.join(OPERATING_SYSTEMS)} x "
                         f"{', '.join(ARCHITECTURES)})")
    return Platform(os_name, arch)


def parse_platform(value: str | None) -> Platform:
    """`--platform linux/arm64`, or the host's platform when not given."""
    if value is None:
        return host()
    os_name, _, arch = value.partition("/")
    if os_name not in OPERATING_SYSTEMS or arch not in ARCHITECTURES:
        raise UsageError(f"--platform {value!r} is not one of {', '.join(OPERATING_SYSTEMS)} x "
                         f"{', '.join(ARCHITECTURES)} written OS/ARCH (e.g. linux/arm64)")
    return Platform(os_name, arch)
