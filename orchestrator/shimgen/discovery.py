"""Which names each shared specifier exports, at the versions the host really uses.

In order: import in one Node process with a browser-like global; a static parse of the ESM entry
(inside the same Node script, with es-module-lexer); the bundled data for the host's unpublished
workspace packages; a default-only shim with a warning.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from orchestrator.common.errors import PlugindevError
from orchestrator.common.node import NodeEnv, ensure_node_env, install_dir, install_packages, run_captured
from orchestrator.common.paths import resource_dir

LEXER_PACKAGE = {"es-module-lexer": "1.7.0"}

# Names a shim cannot `export const`: reserved words (also in strict mode code) and CommonJS markers.
_NOT_EXPORTABLE = {
    "arguments", "await", "break", "case", "catch", "class", "const", "continue", "debugger", "default",
    "delete", "do", "else", "enum", "eval", "export", "extends", "false", "finally", "for", "function", "if",
    "implements", "import", "in", "instanceof", "interface", "let", "new", "null", "package", "private",
    "protected", "public", "return", "static", "super", "switch", "this", "throw", "true", "try", "typeof",
    "var", "void", "while", "with", "yield", "__esModule", "module.exports",
}


class Method:
    IMPORT = "import"
    STATIC = "static"
    BUNDLED = "bundled"
    DEFAULT_ONLY = "default-only"


@dataclass(frozen=True)
class Exports:
    """What one specifier's shim re-exports, and how that was found out."""

    version: str | None
    method: str
    names: tuple[str, ...]


def exportable(names: Iterable[str]) -> tuple[str, ...]:
    """Valid, non-reserved JS identifiers, sorted by code point (C locale) for stable output."""
    return tuple(sorted({n for n in names if _is_identifier(n) and n not in _NOT_EXPORTABLE}))


def _is_identifier(name: str) -> bool:
    # JS identifiers may hold `$`, Python ones may not; otherwise the rules agree closely enough here.
    return name.replace("$", "_").isidentifier()


@cache
def bundled_exports() -> Mapping[str, tuple[str, ...]]:
    """Exports of the host's unpublished `@omniviewdev/*` packages, shipped with plugindev."""
    data = json.loads((resource_dir("shims") / "host-exports.json").read_text(encoding="utf-8"))
    return {spec: tuple(names) for spec, names in data["packages"].items()}


@dataclass(frozen=True)
class NodeResult:
    method: str  # import | static | failed
    names: tuple[str, ...]
    version: str | None
    error: str | None


async def discover_in_node(cwd: Path, specifiers: list[str], env: NodeEnv | None = None) -> dict[str, NodeResult]:
    """Run the discovery script once for all `specifiers`, resolving them from `cwd`'s node_modules."""
    env = env or await ensure_node_env()
    lexer_root = await install_packages(env, install_dir("tools", LEXER_PACKAGE), LEXER_PACKAGE)
    lexer = lexer_root / "node_modules" / "es-module-lexer" / "dist" / "lexer.js"
    request = json.dumps({"specifiers": specifiers, "lexer": str(lexer)}).encode()
    script = resource_dir("shims") / "discover.mjs"
    code, out, err = await run_captured(env.which("node"), str(script), cwd=cwd, env=env.environ(), stdin=request)
    try:
        results = json.loads(out)["results"]
    except (ValueError, KeyError, TypeError):
        last = (err.strip().splitlines() or [f"exit code {code}"])[-1]
        raise PlugindevError(f"export discovery in {cwd} failed: {last}") from None
    return {
        spec: NodeResult(r["method"], tuple(r.get("names") or ()), r.get("version"), r.get("error"))
        for spec, r in results.items()
    }


def settle(spec: str, result: NodeResult | None, version: str | None, warnings: list[str]) -> Exports:
    """Turn a Node result (or its absence) into a shim's exports, falling back as the spec says."""
    if result is not None and result.method != "failed":
        return Exports(result.version or version, result.method, exportable(result.names))
    bundled = bundled_exports().get(spec)
    if bundled is not None:
        return Exports(version, Method.BUNDLED, exportable(bundled))
    reason = result.error if result is not None and result.error else "package not installed"
    warnings.append(f"{spec}: no export names found ({reason}); its shim exports only the default")
    return Exports(version, Method.DEFAULT_ONLY, ())


async def discover_at_versions(requests: Mapping[str, str], specifiers: list[str]) -> dict[str, NodeResult]:
    """Install packages (name -> version or range) in a plugindev cache folder and discover there."""
    env = await ensure_node_env()
    folder = await install_packages(env, install_dir("host-packages", requests), requests)
    return await discover_in_node(folder, specifiers, env)
