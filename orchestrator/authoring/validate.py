"""`plugindev validate`: every problem of a plugin directory at once, each naming file and field."""

from __future__ import annotations

import json
import re
from pathlib import Path

from orchestrator.authoring.manifest import Problem, check_plugin_id, read_manifest
from orchestrator.common.files import not_utf8

ENTRY = "ui/src/entry.ts"  # the IDE imports `/src/entry.ts` from the plugin's Vite, whatever else there is
# entries Vite would build from but the IDE never requests
OTHER_ENTRIES = ("ui/src/entry.tsx", "ui/src/entry.js", "ui/src/entry.jsx")
VITE_CONFIGS = ("vite.config.ts", "vite.config.mts", "vite.config.js", "vite.config.mjs", "vite.config.cts",
                "vite.config.cjs")

# `export const plugin`, `export function plugin`, `export { plugin }`, `export { x as plugin }`, ...
_DECLARED_EXPORT = re.compile(r"\bexport\s+(?:const|let|var|function\*?|class|async\s+function)\s+plugin\b")
_EXPORT_LIST = re.compile(r"\bexport\s*(?:type\s*)?\{([^{}]*)\}")  # up to the next brace: linear
_EXPORT_ALL = re.compile(r"""\bexport\s*\*\s*from\s*["'](\.{1,2}/[^"']+)["']""")  # relative modules only
_MODULE_SUFFIXES = ("", ".ts", ".tsx", ".js", ".jsx")  # as written, then as a bundler completes it
# an unclosed `/*` runs to the end: matched once, not retried (to the end again) from every later `/*`
_COMMENT = re.compile(r"/\*.*?(?:\*/|\Z)|//[^\n]*", re.S)
# `sdk.PluginOpts{ID: "hello-plugin", ...}` in pkg/main.go, with a quoted or a raw (backquoted) Go string
_GO_PLUGIN_ID = re.compile(r'\bPluginOpts\s*\{[^{}]*?\bID\s*:\s*(?:"(?P<quoted>[^"\\\n]*)"|`(?P<raw>[^`]*)`)')


def exports_named_plugin(source: str) -> bool:
    """A static check: does this module have a named export called `plugin` (a default is not enough)?"""
    code = _COMMENT.sub("", source)
    if _DECLARED_EXPORT.search(code):
        return True
    for names in _EXPORT_LIST.findall(code):
        for item in names.split(","):
            exported = item.split(" as ")[-1].strip()
            if exported == "plugin":
                return True
    return False


def validate_plugin(plugin_dir: Path) -> list[Problem]:
    if not plugin_dir.is_dir():
        return [Problem(str(plugin_dir), "", "is not a directory")]
    manifest, problems = read_manifest(plugin_dir / "plugin.yaml")
    if manifest is None:
        return problems
    main_go = plugin_dir / "pkg" / "main.go"
    if manifest.has_backend and not main_go.is_file():
        backend = [c for c in manifest.capabilities if c != "ui"]
        problems.append(Problem("pkg/main.go", "", f"missing, but plugin.yaml lists backend capabilities "
                                                   f"({', '.join(backend)}); add the Go entry point or drop them"))
    elif main_go.is_file() and check_plugin_id(manifest.id) is None:  # a bad id is reported already
        problems.extend(_backend_id_problems(main_go, manifest.id))
    if manifest.has_ui:
        problems.extend(_ui_problems(plugin_dir))
    return problems


def _backend_id_problems(main_go: Path, plugin_id: str) -> list[Problem]:
    """The id the Go backend registers must be plugin.yaml's: the SDK looks its plugin.yaml up by that id."""
    source = _COMMENT.sub("", main_go.read_text(encoding="utf-8", errors="replace"))
    found = _GO_PLUGIN_ID.search(source)
    if found is None:  # the id comes from a constant or a variable: nothing to compare statically
        return []
    go_id = found["quoted"] if found["quoted"] is not None else found["raw"]
    if go_id == plugin_id:
        return []
    return [Problem("pkg/main.go", "ID", f"sdk.PluginOpts{{ID: {go_id!r}}} differs from plugin.yaml's id "
                                         f"{plugin_id!r}; make them equal (the SDK reads plugin.yaml by this id)")]


def _package_json_problems(package_json: Path) -> list[Problem]:
    """npm, pnpm and Vite all stop on a package.json they cannot parse: say where it breaks."""
    try:
        data = json.loads(package_json.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        return [Problem("ui/package.json", "", not_utf8(exc))]
    except json.JSONDecodeError as exc:
        return [Problem("ui/package.json", "", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}; "
                                               "fix it (npm and Vite cannot read it)")]
    except RecursionError:
        return [Problem("ui/package.json", "", "invalid JSON: nested too deeply")]
    if not isinstance(data, dict):
        return [Problem("ui/package.json", "", f"must be a JSON object, got {type(data).__name__}")]
    return []


def _ui_problems(plugin_dir: Path) -> list[Problem]:
    problems: list[Problem] = []
    if not (plugin_dir / "ui" / "package.json").is_file():
        problems.append(Problem("ui/package.json", "", "missing, but plugin.yaml lists the 'ui' capability"))
    else:
        problems.extend(_package_json_problems(plugin_dir / "ui" / "package.json"))
    if not any((plugin_dir / "ui" / name).is_file() for name in VITE_CONFIGS):
        problems.append(Problem("ui/vite.config.ts", "", "missing (no ui/vite.config.* at all); the UI is built "
                                                        "and served by Vite with omniviewExternals()"))
    problems.extend(_entry_problems(plugin_dir))
    return problems


def _entry_problems(plugin_dir: Path) -> list[Problem]:
    if (plugin_dir / ENTRY).is_file():
        if _module_exports_plugin(plugin_dir / ENTRY, set()):
            return []
        return [Problem(ENTRY, "plugin", "no named export 'plugin'; add `export const plugin = new PluginWindow()...` "
                                         "(a default export is not enough)")]
    other = next((rel for rel in OTHER_ENTRIES if (plugin_dir / rel).is_file()), None)
    if other is None:
        return [Problem(ENTRY, "", "missing; the host loads the UI from ui/src/entry.ts")]
    return [Problem(ENTRY, "", f"missing, and the IDE requests only /src/entry.ts, not {other}: rename {other} to "
                               f"entry.ts, or add {ENTRY} containing `export * from './{Path(other).name}';`")]


def _module_exports_plugin(module: Path, seen: set[Path]) -> bool:
    """Whether `module`, or a relative module it re-exports whole (`export * from './entry.tsx'`), exports
    `plugin` by name."""
    module = module.resolve()
    if module in seen:  # modules re-exporting each other
        return False
    seen.add(module)
    source = module.read_text(encoding="utf-8", errors="replace")
    if exports_named_plugin(source):
        return True
    for target in _EXPORT_ALL.findall(_COMMENT.sub("", source)):
        found = next((f for f in (module.parent / (target + s) for s in _MODULE_SUFFIXES) if f.is_file()), None)
        if found is not None and _module_exports_plugin(found, seen):
            return True
    return False
