"""Installed packages whose peer range on a shared package leaves out the version the host provides.

A bundled dependency may peer a newer release of a shared package than the host pins: `@mui/icons-material`
`^7.3.0` resolves to 7.3.11, which wants `@mui/material ^7.3.11`, and the host provides 7.3.8. At run time the
plugin gets the host's instance whatever is installed, so such a conflict never stops the install (npm is
told so by the derived manifest's overrides, pnpm and yarn only warn), and plugindev says it itself, once per
conflict and in the same words whichever manager installed: it reads the installed tree's `peerDependencies`
and checks each range on a shared package against the host's version.

The ranges are npm's (node-semver): `||`, hyphen ranges, `^`, `~`, comparators and x-ranges. A range it
cannot read (`workspace:*`, a URL) is not judged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

# a version key: (major, minor, patch, prerelease key); a release sorts after its prereleases
Version = tuple[int, int, int, tuple[object, ...]]
_RELEASE: tuple[object, ...] = (1,)
_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
# an operator and a partial version: `>=1.2`, `^7.3.11`, `~1`, `1.x`, `*`
_COMPARATOR = re.compile(r"^(<=|>=|<|>|=|\^|~>?)?v?(?:([0-9]+|[xX*])(?:\.([0-9]+|[xX*])(?:\.([0-9]+|[xX*])"
                         r"(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?)?)?)?$")
_SPACED_OPERATOR = re.compile(r"(<=|>=|<|>|=|\^|~>?)\s+")
_HYPHEN = re.compile(r"^(\S+)\s+-\s+(\S+)$")


def _prerelease(text: str | None) -> tuple[object, ...]:
    if not text:
        return _RELEASE
    return (0, *((0, int(part)) if part.isdigit() else (1, part) for part in text.split(".")))


def parse_version(text: str) -> Version | None:
    found = _VERSION.match(text.strip())
    if found is None:
        return None
    return int(found[1]), int(found[2]), int(found[3]), _prerelease(found[4])


@dataclass(frozen=True)
class _Bound:
    operator: str  # <, <=, >, >=, =
    version: Version

    def admits(self, version: Version) -> bool:
        if self.operator == "<":
            return version < self.version
        if self.operator == "<=":
            return version <= self.version
        if self.operator == ">":
            return version > self.version
        if self.operator == ">=":
            return version >= self.version
        return version == self.version


def _lowest(major: int, minor: int, patch: int = 0) -> Version:
    """`major.minor.patch-0`: below every release and prerelease of it (an exclusive upper bound)."""
    return major, minor, patch, _prerelease("0")


def _number(part: str | None) -> int | None:
    return None if part is None or part in {"x", "X", "*"} else int(part)


def _comparator(text: str) -> list[_Bound] | None:
    """The bounds one comparator stands for, as node-semver desugars it; [] is any version, None unreadable."""
    found = _COMPARATOR.match(text)
    if found is None:
        return None
    operator = found[1] or "="
    operator = "~" if operator == "~>" else operator
    major, minor, patch = _number(found[2]), _number(found[3]), _number(found[4])
    if major is None:  # `*`, `x`, ``: anything, except `<*` and `>*`: nothing
        return [_Bound("<", _lowest(0, 0))] if operator in {"<", ">"} else []
    if minor is not None and patch is not None:
        exact: Version = (major, minor, patch, _prerelease(found[5]))
        if operator == "^":
            upper = _lowest(major + 1, 0) if major else _lowest(0, minor + 1) if minor else _lowest(0, 0, patch + 1)
            return [_Bound(">=", exact), _Bound("<", upper)]
        if operator == "~":
            return [_Bound(">=", exact), _Bound("<", _lowest(major, minor + 1))]
        return [_Bound(operator, exact)]
    floor: Version = (major, minor or 0, 0, _RELEASE)
    above = _lowest(major + 1, 0) if minor is None or (operator == "^" and major) else _lowest(major, minor + 1)
    if operator == ">":
        return [_Bound(">=", (*above[:3], _RELEASE))]
    if operator == "<=":
        return [_Bound("<", above)]
    if operator == "<":
        return [_Bound("<", _lowest(major, minor or 0))]
    if operator == ">=":
        return [_Bound(">=", floor)]
    return [_Bound(">=", floor), _Bound("<", above)]  # =, ^, ~ of a partial version: all of it


def _set_bounds(text: str) -> list[_Bound] | None:
    """The bounds of one `||` alternative (space-separated comparators, or a hyphen range)."""
    text = _SPACED_OPERATOR.sub(r"\1", text.strip())
    hyphen = _HYPHEN.match(text)
    if hyphen:
        low, high = _comparator(">=" + hyphen[1]), _comparator("<=" + hyphen[2])
        return None if low is None or high is None else low + high
    bounds: list[_Bound] = []
    for token in text.split():
        found = _comparator(token)
        if found is None:
            return None
        bounds += found
    return bounds


def satisfies(version: str, wanted: str) -> bool | None:
    """Whether `version` is in the npm range `wanted`; None when either cannot be read."""
    parsed = parse_version(version)
    if parsed is None:
        return None
    alternatives = [_set_bounds(part) for part in wanted.split("||")]
    if any(bounds is None for bounds in alternatives):
        return None
    for bounds in alternatives:
        assert bounds is not None
        if not all(bound.admits(parsed) for bound in bounds):
            continue
        # a prerelease is only in a range that names a prerelease of the same major.minor.patch
        if parsed[3] == _RELEASE or any(b.version[:3] == parsed[:3] and b.version[3] != _RELEASE for b in bounds):
            return True
    return False


@dataclass(frozen=True, order=True)
class PeerConflict:
    package: str
    version: str
    peer: str
    wanted: str
    host: str

    @property
    def message(self) -> str:
        return (f"{self.package} {self.version} wants {self.peer} {self.wanted}; the host provides {self.host}: it "
                f"runs against the host's at run time; pin {self.package} to a release that accepts {self.host} "
                "to be safe")


def installed_manifests(node_modules: Path) -> Iterator[dict[str, object]]:
    """The package.json of every package installed under `node_modules`: npm's and yarn's nested folders and
    pnpm's `.pnpm` store. Symlinked entries are skipped: links to local folders, pnpm's views of its store."""
    if not node_modules.is_dir():
        return
    for entry in node_modules.iterdir():
        if entry.name == ".pnpm":
            for stored in entry.iterdir():
                yield from installed_manifests(stored / "node_modules")
            continue
        if entry.name.startswith("."):
            continue
        for folder in (entry.iterdir() if entry.name.startswith("@") and entry.is_dir() else [entry]):
            if folder.is_symlink() or not (folder / "package.json").is_file():
                continue
            try:
                manifest = json.loads((folder / "package.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # not ours to judge: the manager installed it
            if isinstance(manifest, dict):
                yield manifest
            yield from installed_manifests(folder / "node_modules")


def peer_conflicts(node_modules: Path, host_versions: Mapping[str, str]) -> list[PeerConflict]:
    """Each installed package's peer range on a shared package that leaves out the host's version, once."""
    found: set[PeerConflict] = set()
    for manifest in installed_manifests(node_modules):
        peers, name, version = manifest.get("peerDependencies"), manifest.get("name"), manifest.get("version")
        if not isinstance(peers, dict) or not isinstance(name, str) or not isinstance(version, str):
            continue
        for peer, wanted in peers.items():
            host = host_versions.get(peer)
            if host is not None and isinstance(wanted, str) and satisfies(host, wanted) is False:
                found.add(PeerConflict(name, version, peer, wanted, host))
    return sorted(found)
