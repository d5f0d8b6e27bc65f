"""What a doctor check returns, and the facts of a plugin folder the checks share."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.authoring.manifest import read_manifest

SDK_MODULE = "github.com/omniviewdev/plugin-sdk"


@dataclass(frozen=True)
class Failure:
    problem: str
    fix: str = ""


@dataclass(frozen=True)
class CheckResult:
    what: str
    # what was found (passed), why the check does not apply (skipped), or what is still to come (noted)
    detail: str = ""
    failures: tuple[Failure, ...] = ()
    skipped: bool = False
    noted: bool = False  # passed, with a step still to come that a run takes by itself (not a problem)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def status(self) -> str:
        return "fail" if self.failures else "skip" if self.skipped else "note" if self.noted else "ok"

    def lines(self) -> list[str]:
        """`ok   <what>: <detail>`, `skip <what>: <why>`, `note <what>: <what comes>`, or one
        `FAIL <what>: <problem>; <fix>` per problem."""
        if self.failures:
            return [f"FAIL {self.what}: {f.problem}" + (f"; {f.fix}" if f.fix else "") for f in self.failures]
        return [f"{self.status:<4} {self.what}" + (f": {self.detail}" if self.detail else "")]

    def to_json(self) -> dict[str, Any]:
        return {"check": self.what, "status": self.status, "detail": self.detail,
                "problems": [{"problem": f.problem, "fix": f.fix} for f in self.failures]}


def failed(what: str, problem: str, fix: str = "") -> CheckResult:
    return CheckResult(what, failures=(Failure(problem, fix),))


@dataclass(frozen=True)
class PluginFacts:
    """What the checks need to know of DIR, read once."""

    dir: Path
    plugin_id: str | None
    has_go: bool  # a Go backend: go.mod at the root
    has_ui: bool  # a UI: ui/package.json
    go_directive: str | None  # the `go` line of go.mod
    sdk_version: str | None  # the plugin SDK version go.mod requires

    @classmethod
    def read(cls, plugin_dir: Path) -> PluginFacts:
        manifest, _ = read_manifest(plugin_dir / "plugin.yaml")
        try:
            go_mod = (plugin_dir / "go.mod").read_text(encoding="utf-8")
        except OSError:
            go_mod = ""
        directive = re.search(r"^go\s+(\S+)", go_mod, re.MULTILINE)
        sdk = re.search(rf"^\s*(?:require\s+)?{re.escape(SDK_MODULE)}\s+(v\S+)", go_mod, re.MULTILINE)
        return cls(plugin_dir, (manifest.id or None) if manifest else None, bool(go_mod),
                   (plugin_dir / "ui" / "package.json").is_file(), directive[1] if directive else None,
                   sdk[1] if sdk else None)
