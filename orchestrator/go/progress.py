"""What a slow `go build` says while it works.

A plugin's first build on a fresh machine downloads the SDK's dependency tree and compiles it (a minute or two, in
silence after `go build ./pkg`). So when Go's module cache lacks modules the plugin's go.mod requires, they are
downloaded first (`go mod download`) with modules done of total every so often; then the build says its time so
far at the same pace, and a session's first slow build says once that this is a one-time cost.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.common.durations import seconds_text
from orchestrator.common.node import run_captured
from orchestrator.common.progress import PROGRESS_INTERVAL, every


@dataclass(frozen=True)
class Module:
    path: str
    version: str


def escape(text: str) -> str:
    """A module path or version as Go's module cache spells it: each upper-case letter as `!` and its lower case."""
    return re.sub(r"[A-Z]", lambda letter: "!" + letter[0].lower(), text)


def cached(cache: Path, module: Module) -> bool:
    """Whether the module cache holds `module` extracted in full (Go marks a folder it is still filling `.partial`)."""
    folder = cache / f"{escape(module.path)}@{escape(module.version)}"
    return folder.is_dir() and not folder.with_name(folder.name + ".partial").exists()


def required_modules(go_mod: dict[str, Any]) -> list[Module]:
    """The modules a go.mod (as `go mod edit -json` gives it) requires, where its replace directives send them; one
    replaced by a local folder needs no download."""
    replaced: dict[tuple[str, str], dict[str, str]] = {}
    for replace in go_mod.get("Replace") or []:
        replaced[replace["Old"]["Path"], replace["Old"].get("Version", "")] = replace["New"]
    modules = []
    for require in go_mod.get("Require") or []:
        path, version = require["Path"], require["Version"]
        new = replaced.get((path, version)) or replaced.get((path, ""))
        if new is None:
            modules.append(Module(path, version))
        elif new.get("Version"):
            modules.append(Module(new["Path"], new["Version"]))
    return modules


async def _go_json(go: str, plugin_dir: Path, *args: str) -> dict[str, Any] | None:
    code, out, _err = await run_captured(go, *args, cwd=plugin_dir)
    try:
        return json.loads(out) if code == 0 else None
    except ValueError:
        return None


async def missing_modules(plugin_dir: Path, go: str) -> tuple[Path, list[Module]]:
    """Go's module cache, and the modules of the plugin's go.mod it lacks (none when the build reads vendor/, or
    when go.mod cannot be read: the build says what is wrong)."""
    settings, go_mod = await asyncio.gather(_go_json(go, plugin_dir, "env", "-json", "GOMODCACHE", "GOFLAGS"),
                                            _go_json(go, plugin_dir, "mod", "edit", "-json"))
    if settings is None or go_mod is None or not settings.get("GOMODCACHE"):
        return Path(), []
    cache = Path(settings["GOMODCACHE"])
    if "-mod=vendor" in settings.get("GOFLAGS", "") or (plugin_dir / "vendor" / "modules.txt").is_file():
        return cache, []
    return cache, [module for module in required_modules(go_mod) if not cached(cache, module)]


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


class BuildProgress:
    """What one plugin's builds say when they are slow, through `say`, every `interval` seconds at most."""

    def __init__(self, say: Callable[[str], None], interval: float = PROGRESS_INTERVAL) -> None:
        self.say = say
        self.interval = interval
        self._complete_for: tuple[int, int] | None = None  # go.mod's (mtime, size) when all it requires was cached
        self._told_one_time = False

    async def fetch_modules(self, plugin_dir: Path, go: str, *, on_line: Callable[[str], None],
                            on_spawn: Callable[[int], None]) -> None:
        """Download the modules go.mod requires that the module cache lacks, saying how many are done every
        `interval` seconds. Looked at again only when go.mod changed: a build otherwise pays nothing for it. A
        download that fails is left to the build that follows, which says what is wrong in its own words."""
        stamp = _stamp(plugin_dir / "go.mod")
        if stamp is None or stamp == self._complete_for:
            return
        cache, missing = await missing_modules(plugin_dir, go)
        if missing:
            modules = f"{len(missing)} Go module{'s' if len(missing) > 1 else ''}"
            self.say(f"downloading {modules} go.mod requires" if self._told_one_time else
                     f"first build: downloading {modules}, then compiling them (a one-time cost: later builds reuse "
                     "Go's module and build caches)")
            self._told_one_time = True
            started = time.monotonic()

            def tick(elapsed: float) -> None:
                done = sum(cached(cache, module) for module in missing)
                self.say(f"downloading Go modules: {done} of {len(missing)} ({seconds_text(elapsed)})")

            async with every(self.interval, tick):
                code, out, err = await run_captured(go, "mod", "download", cwd=plugin_dir, on_spawn=on_spawn)
            for line in (out + err).splitlines():
                on_line(line)
            missing = [module for module in missing if not cached(cache, module)]
            if code == 0 and not missing:
                self.say(f"downloaded the Go modules in {seconds_text(time.monotonic() - started)}; compiling")
        if not missing:
            self._complete_for = stamp

    def compiling(self) -> AbstractAsyncContextManager[None]:
        """While `go build` runs: its time so far every `interval` seconds."""
        return every(self.interval, self._compiling)

    def _compiling(self, elapsed: float) -> None:
        note = ""
        if not self._told_one_time:  # a session's first slow build is most likely one on a cold build cache
            self._told_one_time = True
            note = " (the first build compiles the plugin's dependencies once; later builds reuse Go's build cache)"
        self.say(f"go build: {seconds_text(elapsed)} so far{note}")
