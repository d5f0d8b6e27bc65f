"""The list of shared package specifiers: where it comes from and how each one maps to a shim file.

Sources, first match wins: an Omniview host checkout (`--host`), a YAML manifest (`--manifest`), the
bundled default manifest. Extra specifiers may be appended per plugin.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from orchestrator.common.errors import PlugindevError
from orchestrator.common.files import not_utf8
from orchestrator.common.paths import resource_dir

HOST_SHARED_TS = Path("ui/features/plugins/api/shared_dependencies.ts")

# A bare package specifier: optional scope, package name, optional subpath segments (`styles.css`, `Box`).
_SPECIFIER = re.compile(
    r"^(?:@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*(?:/[A-Za-z0-9_~@+-][A-Za-z0-9._~@+-]*)*$"
)


@dataclass(frozen=True)
class SharedList:
    """The shared specifiers in host order, and the versions the host uses for their packages."""

    specifiers: tuple[str, ...]
    source: str
    # package name -> exact version the host's lockfile resolves (bundled/--manifest lists)
    host_versions: Mapping[str, str] = field(default_factory=dict)
    # package name -> the range the host's package.json asks for (what --refresh resolves)
    host_ranges: Mapping[str, str] = field(default_factory=dict)
    # node_modules folder of a host checkout (--host): discovery resolves from there
    host_node_modules: Path | None = None

    def with_extra(self, extra: Iterable[str]) -> SharedList:
        added = [spec for spec in extra if spec not in self.specifiers]
        for spec in added:
            check_specifier(spec, where="--add")
        return replace(self, specifiers=self.specifiers + tuple(dict.fromkeys(added)))


def check_specifier(spec: object, *, where: str) -> str:
    if not isinstance(spec, str) or not _SPECIFIER.match(spec) or "/../" in f"/{spec}/" or "/./" in f"/{spec}/":
        raise PlugindevError(
            f"{where}: {spec!r} is not a bare package specifier (like 'react' or '@mui/material/Box')"
        )
    return spec


def package_name(spec: str) -> str:
    """The npm package a specifier belongs to: `@mui/material/Box` -> `@mui/material`."""
    parts = spec.split("/")
    return "/".join(parts[:2]) if spec.startswith("@") else parts[0]


def shim_filename(spec: str) -> str:
    """Leading `@` -> `_`, then every `/` -> `__`, then `.mjs` (the reference package's rule)."""
    name = "_" + spec[1:] if spec.startswith("@") else spec
    return name.replace("/", "__") + ".mjs"


def shim_filenames(specifiers: Iterable[str]) -> dict[str, str]:
    """Specifier -> shim file name; the mapping is not injective, so collisions are an error."""
    by_file: dict[str, str] = {}
    for spec in specifiers:
        filename = shim_filename(spec)
        other = by_file.setdefault(filename, spec)
        if other != spec:
            raise PlugindevError(
                f"shared specifiers {other!r} and {spec!r} both map to the shim file {filename}; "
                "drop or rename one of them"
            )
    return {spec: filename for filename, spec in by_file.items()}


def default_manifest_path() -> Path:
    return resource_dir("shims") / "default-manifest.yaml"


def load_shared_manifest(path: Path) -> SharedList:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlugindevError(f"cannot read manifest {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise PlugindevError(f"manifest {path} {not_utf8(exc)}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PlugindevError(f"{where}: invalid YAML: {problem}; fix the manifest") from None
    except (ValueError, RecursionError) as exc:  # values PyYAML builds itself (dates), or absurd nesting
        raise PlugindevError(f"{path}: invalid YAML: {exc or 'nested too deeply'}; fix the manifest") from None
    if not isinstance(data, dict) or "packages" not in data:
        raise PlugindevError(f"{path}: expected a mapping with a 'packages' list of specifiers")
    packages = data["packages"]
    if not isinstance(packages, list) or not packages:
        raise PlugindevError(f"{path}: 'packages' must be a non-empty list of specifiers")
    specifiers = [check_specifier(spec, where=f"{path}: packages[{i}]") for i, spec in enumerate(packages)]
    _reject_duplicates(specifiers, str(path))
    return SharedList(
        specifiers=tuple(specifiers),
        source=str(path),
        host_versions=_string_map(data, "host_versions", path),
        host_ranges=_string_map(data, "host_ranges", path),
    )


def _string_map(data: dict[str, object], key: str, path: Path) -> dict[str, str]:
    value = data.get(key) or {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise PlugindevError(f"{path}: '{key}' must map package names to version strings")
    return dict(value)


def _reject_duplicates(specifiers: list[str], where: str) -> None:
    seen: set[str] = set()
    for spec in specifiers:
        if spec in seen:
            raise PlugindevError(f"{where}: {spec!r} is listed twice; remove one")
        seen.add(spec)


def load_host(host: Path) -> SharedList:
    """The shared list of an Omniview checkout, resolved against its own node_modules."""
    ts_file = host / HOST_SHARED_TS
    try:
        text = ts_file.read_text(encoding="utf-8")
    except OSError:
        raise PlugindevError(
            f"--host {host}: {HOST_SHARED_TS} not found; point --host at an Omniview checkout"
        ) from None
    except UnicodeDecodeError as exc:
        raise PlugindevError(f"{ts_file} {not_utf8(exc)}") from None
    specifiers = [check_specifier(key, where=str(ts_file)) for key in parse_shared_keys(text, ts_file)]
    if not specifiers:
        raise PlugindevError(f"{ts_file}: the 'shared' object lists no specifiers")
    _reject_duplicates(specifiers, str(ts_file))
    node_modules = next((d for d in (host / "node_modules", host / "ui" / "node_modules") if d.is_dir()), None)
    if node_modules is None:
        raise PlugindevError(
            f"--host {host}: no node_modules folder; install the host's dependencies there first (pnpm install)"
        )
    return SharedList(specifiers=tuple(specifiers), source=str(ts_file), host_node_modules=node_modules)


# `const shared: Record<string, () => Promise<unknown>> = {`: the type may hold `=>`, so skip those.
_SHARED_DECLARATION = re.compile(r"\b(?:const|let|var)\s+shared\b(?:[^=]|=>)*=\s*\{")
_IDENTIFIER_CHAR = re.compile(r"[A-Za-z0-9_$]")


def parse_shared_keys(text: str, where: Path) -> list[str]:
    """Keys of the `shared` object literal, in source order.

    A small scanner rather than a regex: values may be `async () => {...}` blocks holding strings,
    comments and nested braces, and only keys at the top level of the literal count.
    """
    match = _SHARED_DECLARATION.search(text)
    if match is None:
        raise PlugindevError(f"{where}: no `const shared = {{ ... }}` object literal found")
    keys: list[str] = []
    depth, expecting_key, i, n = 1, True, match.end(), len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            i = text.find("\n", i) if "\n" in text[i:] else n
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        if c in "'\"`":
            value, i = _read_string(text, i, where)
            if depth == 1 and expecting_key and c != "`" and _next_char(text, i) == ":":
                keys.append(value)
            expecting_key = False
            continue
        if c in "{[(":
            depth += 1
            expecting_key = False
        elif c in "}])":
            depth -= 1
            if depth == 0:
                return keys
        elif c == "," and depth == 1:
            expecting_key = True
        elif _IDENTIFIER_CHAR.match(c):
            start = i
            while i < n and _IDENTIFIER_CHAR.match(text[i]):
                i += 1
            if depth == 1 and expecting_key and _next_char(text, i) == ":":
                keys.append(text[start:i])
            expecting_key = False
            continue
        i += 1
    raise PlugindevError(f"{where}: the `shared` object literal is not closed")


def _next_char(text: str, i: int) -> str:
    stripped = text[i:].lstrip()
    return stripped[:1]


def _read_string(text: str, start: int, where: Path) -> tuple[str, int]:
    """Decode a JS string literal starting at `start`; returns the value and the index after it."""
    quote, i = text[start], start + 1
    out: list[str] = []
    while i < len(text):
        c = text[i]
        if c == quote:
            return "".join(out), i + 1
        if c == "\\" and text.startswith("u", i + 1):
            escape = _UNICODE_ESCAPE.match(text, i)
            code = int(escape["hex4"] or escape["braced"], 16) if escape else -1
            if escape is None or code > sys.maxunicode:
                line = text.count("\n", 0, i) + 1
                raise PlugindevError(f"{where}:{line}: invalid \\u escape in a string literal; use \\uXXXX or "
                                     "\\u{X...}")
            out.append(chr(code))
            i = escape.end()
            continue
        if c == "\\":
            out.append(_ESCAPES.get(text[i + 1 : i + 2], text[i + 1 : i + 2]))
            i += 2
            continue
        out.append(c)
        i += 1
    raise PlugindevError(f"{where}: unterminated string literal")


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}
# `\u00e9` or `\u{1F600}`
_UNICODE_ESCAPE = re.compile(r"\\u(?:(?P<hex4>[0-9A-Fa-f]{4})|\{(?P<braced>[0-9A-Fa-f]{1,6})\})")


def load_shared_list(host: Path | None, manifest: Path | None, extra: Iterable[str] = ()) -> SharedList:
    shared = load_host(host) if host is not None else load_shared_manifest(manifest or default_manifest_path())
    return shared.with_extra(extra)
