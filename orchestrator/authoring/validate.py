"""`plugindev validate`: every problem of a plugin directory at once, each naming file and field."""

from __future__ import annotations

import json
import re
from pathlib import Path

from orchestrator.authoring.manifest import Problem, check_plugin_id, read_manifest
from orchestrator.common.files import not_utf8

ENTRY_CANDIDATES = ("ui/src/entry.ts", "ui/src/entry.tsx", "ui/src/entry.js", "ui/src/entry.jsx")
VITE_CONFIGS = ("vite.config.ts", "vite.config.mts", "vite.config.js", "vite.config.mjs", "vite.config.cts",
                "vite.config.cjs")

# `export const plugin`, `export function plugin`, `export { plugin }`, `export { x as plugin }`, ...
_DECLARED_EXPORT = re.compile(r"\bexport\s+(?:const|let|var|function\*?|class|async\s+function)\s+plugin\b")
_EXPORT_LIST = re.compile(r"\bexport\s*(?:type\s*)?\{([^}]*)\}")
_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
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
    entry = next((plugin_dir / rel for rel in ENTRY_CANDIDATES if (plugin_dir / rel).is_file()), None)
    if entry is None:
        problems.append(Problem("ui/src/entry.ts", "", "missing; the host loads the UI from ui/src/entry.ts"))
    elif not exports_named_plugin(entry.read_text(encoding="utf-8", errors="replace")):
        problems.append(Problem(str(entry.relative_to(plugin_dir)), "plugin",
                                "no named export 'plugin'; add `export const plugin = new PluginWindow()...` "
                                "(a default export is not enough)"))
    return problems
