"""`plugindev scaffold`: a complete new plugin from the Jinja templates in `scaffolds/`."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from orchestrator.authoring.manifest import check_plugin_id, read_manifest
from orchestrator.authoring.manifest_fields import BACKEND_CAPABILITIES, CAPABILITIES, UI_CAPABILITY, suggest_choice
from orchestrator.authoring.manifest_schema import IN_PLUGIN as SCHEMA_IN_PLUGIN
from orchestrator.authoring.manifest_schema import schema_text
from orchestrator.authoring.render import Action, FileSpec, Outcome, apply, plan, render, template_env
from orchestrator.common.errors import PlugindevError, UsageError
from orchestrator.common.net import DEBUG_PORT, HOST
from orchestrator.common.paths import resource_dir

TEMPLATE_PARTS = {"full": ("common", "backend", "ui"), "ui": ("common", "ui"), "backend": ("common", "backend")}
TEMPLATE_CAPABILITIES = {"full": ("ui", "settings"), "ui": ("ui",), "backend": ("settings",)}

# Pinned so a scaffold made today builds the same way tomorrow.
SDK_VERSION = "v0.5.0"  # what the Omniview host pins
GO_VERSION = "1.25.0"
NPM_VERSIONS = {
    "vite": "8.3.8",
    "plugin_react": "6.3.0",
    "react": "19.2.4",
    "types_react": "19.2.6",
    "types_react_dom": "19.2.7",
    "typescript": "5.9.3",
}


# Go's rules for an import path (golang.org/x/mod/module.CheckImportPath), which `go mod init` applies to a
# module path: ASCII letters, digits and `-._~+` in non-empty elements separated by single slashes.
_GO_PATH_ELEMENT = re.compile(r"[A-Za-z0-9._~+-]+")
_WINDOWS_RESERVED = re.compile(r"(?i)^(?:con|prn|aux|nul|com[1-9]|lpt[1-9])(?:\.|$)")


def go_module_problem(path: str) -> str | None:
    """Why `path` cannot be a Go module path (it is written into go.mod as it is), or None when it can."""
    if not path:
        return "it is empty"
    if path.startswith("-"):
        return "it starts with '-'"
    for element in path.split("/"):
        if not element:
            return "it has an empty element (a leading, trailing or double '/')"
        if not _GO_PATH_ELEMENT.fullmatch(element):
            bad = next(c for c in element if not _GO_PATH_ELEMENT.fullmatch(c))
            return f"{bad!r} is not allowed (only ASCII letters, digits, '-', '.', '_', '~', '+' and '/')"
        if element.startswith(".") or element.endswith("."):
            return f"the element {element!r} starts or ends with a dot"
        if _WINDOWS_RESERVED.match(element):
            return f"the element {element!r} is a reserved file name on Windows"
    return None


@dataclass(frozen=True)
class ScaffoldOptions:
    plugin_id: str
    name: str
    description: str
    template: str = "full"
    capabilities: tuple[str, ...] = ()
    go_module: str = ""

    def checked(self) -> ScaffoldOptions:
        """The options with defaults filled in, or a usage error naming the bad value."""
        if (reason := check_plugin_id(self.plugin_id)) is not None:
            raise UsageError(f"--id {reason}")
        if self.template not in TEMPLATE_PARTS:
            raise UsageError(f"--template {self.template!r} does not exist; choose one of {', '.join(TEMPLATE_PARTS)}")
        for capability in self.capabilities:
            if capability not in CAPABILITIES:
                raise UsageError(f"--capability {capability!r} is unknown{suggest_choice(capability, CAPABILITIES)}")
        has_backend = "backend" in TEMPLATE_PARTS[self.template]
        backend = [c for c in self.capabilities if c in BACKEND_CAPABILITIES]
        if backend and not has_backend:
            raise UsageError(f"--capability {backend[0]} needs the Go backend; use --template full or backend")
        if UI_CAPABILITY in self.capabilities and "ui" not in TEMPLATE_PARTS[self.template]:
            raise UsageError("--capability ui needs the React UI; use --template full or ui")
        if self.go_module and (reason := go_module_problem(self.go_module)) is not None:
            raise UsageError(f"--go-module {self.go_module!r} is not a valid Go module path: {reason}; "
                             f"use e.g. 'github.com/you/{self.plugin_id}'")
        # What the template itself brings is always declared: its UI, and the settings capability that the
        # SDK registers in every backend.
        capabilities = (*TEMPLATE_CAPABILITIES[self.template], *self.capabilities)
        return ScaffoldOptions(
            plugin_id=self.plugin_id,
            name=self.name or self.plugin_id,
            description=self.description,
            template=self.template,
            capabilities=tuple(dict.fromkeys(capabilities)),
            go_module=self.go_module or f"github.com/example/{self.plugin_id}",
        )


def next_steps(options: ScaffoldOptions) -> list[str]:
    """What to do with the new plugin, one shell line each (run in its folder) with what it does: printed by
    `plugindev scaffold` and written into the plugin's README, so the two say the same."""
    parts = TEMPLATE_PARTS[options.template]
    reloads = [*(["hot reload of ui/"] if "ui" in parts else []),
               *(["rebuild and restart of pkg/"] if "backend" in parts else [])]
    seeing = "; open the preview URL it prints" if "ui" in parts else " on every save"
    steps = {
        "plugindev run": ", ".join(reloads) + seeing,
        "plugindev build": "a production build in build/release/<os>-<arch>/",
        "plugindev package": f"dist/{options.plugin_id}-<version>-<os>-<arch>.tar.gz, the file Omniview installs",
        "plugindev install": f"build, then install into ~/.omniview/plugins/{options.plugin_id}/ for Omniview",
    }
    width = max(map(len, steps)) + 2
    return [f"{command:<{width}}# {what}" for command, what in steps.items()]


def scaffold_files(options: ScaffoldOptions) -> dict[str, FileSpec]:
    """Every file of the new plugin, rendered in memory."""
    root = resource_dir("scaffolds")
    env = template_env(root)
    parts = TEMPLATE_PARTS[options.template]
    context = {
        "plugin_id": options.plugin_id,
        "name": options.name,
        "description": options.description,
        "capabilities": list(options.capabilities),
        "has_ui": "ui" in parts,
        "has_backend": "backend" in parts,
        "go_module": options.go_module,
        "go_version": GO_VERSION,
        "sdk_version": SDK_VERSION,
        "npm": NPM_VERSIONS,
        "next_steps": next_steps(options),
        "debug_address": {"host": HOST, "port": DEBUG_PORT},  # .vscode/launch.json attaches to `run --debug`
    }
    # a capability with a working registration in the SDK brings its own files (capabilities/<name>/)
    folders = [*parts, *(f"capabilities/{c}" for c in options.capabilities if (root / "capabilities" / c).is_dir())]
    files: dict[str, FileSpec] = {}
    for part in folders:
        for source in sorted(p for p in (root / part).rglob("*") if p.is_file()):
            rel = source.relative_to(root / part).as_posix()
            if rel.endswith(".j2"):
                content = render(env, f"{part}/{rel}", **context)
                rel = rel.removesuffix(".j2")
            else:
                content = source.read_bytes()
            files[rel] = FileSpec(content)
    files[SCHEMA_IN_PLUGIN] = FileSpec(schema_text().encode())  # what plugin.yaml's first line names
    return files


def scaffold(target: Path, options: ScaffoldOptions, *, force: bool = False, dry_run: bool = False) -> list[Outcome]:
    """Create (or bring up to date) the plugin in `target`; different existing files need `force`."""
    if target.exists() and not target.is_dir():
        raise PlugindevError(f"{target} is a file; give a directory for the new plugin")
    if target.is_dir() and any(target.iterdir()) and not (target / "plugin.yaml").exists():
        raise PlugindevError(f"{target} is not empty and holds no plugin.yaml; scaffold into a new or empty directory")
    existing = next(p for p in (target, *target.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise PlugindevError(f"{existing} is a file, not a folder, so {target} cannot be created in it; "
                             "choose a path whose parents are folders")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PlugindevError(f"{existing} is not writable; choose another directory or fix its permissions")
    if not force:
        _refuse_another_plugin(target, options.plugin_id)
    files = scaffold_files(options)
    outcomes = plan(target, files, force=force)
    # The whole plan is decided first: one conflict and nothing is written, so a half-rendered plugin
    # (new files beside an old plugin.yaml) never exists.
    if not dry_run and not any(o.action is Action.CONFLICT for o in outcomes):
        apply(target, files, outcomes)
    return outcomes


def _refuse_another_plugin(target: Path, plugin_id: str) -> None:
    """A folder holding another plugin's plugin.yaml: rendering into it would mix two plugins."""
    manifest, _ = read_manifest(target / "plugin.yaml")
    if manifest is not None and manifest.id and manifest.id != plugin_id:
        raise PlugindevError(f"{target / 'plugin.yaml'} belongs to plugin {manifest.id!r}, not {plugin_id!r}; "
                             f"scaffold into a new directory, pass --id {manifest.id}, or --force to replace it")
