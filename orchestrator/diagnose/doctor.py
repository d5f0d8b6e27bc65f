"""`plugindev doctor [DIR]`: what on this machine (and in DIR) would stop `plugindev run`, each with its fix.

Every check is a small function returning a `CheckResult`: passed (with what it found, or a note of what a run
still does by itself), failed (each problem with what to do) or skipped (not applicable). They run concurrently,
so the whole doctor takes about as long as its slowest check (the Go module proxy), and a check that breaks
unexpectedly is reported as a failure of that check, never as a traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from orchestrator.diagnose.checks import CheckResult, Failure, PluginFacts, failed
from orchestrator.diagnose.machine import check_inotify, check_ports, check_state_root
from orchestrator.diagnose.toolchain import (
    check_go,
    check_go_proxy,
    check_node,
    check_node_cache,
    check_package_manager,
)


def check_validate(plugin: PluginFacts) -> CheckResult:
    from orchestrator.authoring.validate import validate_plugin

    problems = validate_plugin(plugin.dir)
    if problems:
        return CheckResult("validate", failures=tuple(Failure(f"{plugin.dir / p.file}: "
                                                              f"{p.field + ': ' if p.field else ''}{p.message}")
                                                      for p in problems))
    return CheckResult("validate", f"{plugin.dir / 'plugin.yaml'} and the files it names are ok")


async def check_vite_plugin(plugin: PluginFacts) -> CheckResult:
    """`gen-shims --check` on the package `plugindev link` generates in ui/, and its link in node_modules."""
    from orchestrator.link.setup import GENERATED_PACKAGE, VITE_PLUGIN_PACKAGE
    from orchestrator.shimgen.generate import generate
    from orchestrator.shimgen.shared_list import load_shared_list

    what = "generated vite-plugin"
    ui_dir = plugin.dir / "ui"
    package = ui_dir / GENERATED_PACKAGE
    fix = f"run `plugindev link {plugin.dir}` (`plugindev run` does it too)"
    if not package.is_dir():  # a fresh scaffold: nothing is wrong, the first run links it
        return CheckResult(what, f"ui/ is not linked yet (no {package}): the first `plugindev run` links it, "
                                 f"as `plugindev link {plugin.dir}` does", noted=True)
    report = await generate(load_shared_list(None, None), package, check=True)
    if report.changed:
        changed = len(report.changed)
        names = ", ".join(o.path for o in report.changed[:3]) + (", ..." if changed > 3 else "")
        count = f"{changed} files of {package} are" if changed > 1 else f"1 file of {package} is"
        return failed(what, f"{count} missing, stale or edited ({names})", fix)
    linked = ui_dir / "node_modules" / VITE_PLUGIN_PACKAGE
    if not linked.is_dir():
        return failed(what, f"{linked} is missing, so vite.config cannot import omniviewExternals()", fix)
    return CheckResult(what, f"{package} is up to date and linked")



# -- running them ------------------------------------------------------------------------------------------


async def _guarded(what: str, check: Callable[[], Awaitable[CheckResult]]) -> CheckResult:
    try:
        return await check()
    except Exception as exc:  # a doctor never ends in a traceback: a broken check is one more failed check
        return failed(what, f"the check itself failed: {type(exc).__name__}: {exc}", "please report this to plugindev")


def _in_thread(check: Callable[..., CheckResult], *args: Any) -> Callable[[], Awaitable[CheckResult]]:
    return lambda: asyncio.to_thread(check, *args)


async def run_doctor(plugin_dir: Path | None) -> list[CheckResult]:
    """Every check that applies, in a fixed order, run concurrently."""
    plugin = PluginFacts.read(plugin_dir) if plugin_dir is not None else None
    checks: list[tuple[str, Callable[[], Awaitable[CheckResult]]]] = [
        ("Go", lambda: check_go(plugin)),
        ("Node.js", lambda: check_node(plugin)),
    ]
    if plugin is not None and plugin.has_ui:
        checks.append(("package manager", lambda: check_package_manager(plugin)))
    checks += [
        ("nodeenv cache", lambda: check_node_cache(plugin)),
        ("state root", _in_thread(check_state_root, plugin)),
        ("inotify watches", _in_thread(check_inotify, plugin)),
        ("Vite ports", _in_thread(check_ports, plugin)),
    ]
    if plugin is not None:
        checks.append(("validate", _in_thread(check_validate, plugin)))
        if plugin.has_ui:
            checks.append(("generated vite-plugin", lambda: check_vite_plugin(plugin)))
    checks.append(("Go module proxy", lambda: check_go_proxy(plugin)))
    return list(await asyncio.gather(*(_guarded(what, check) for what, check in checks)))


def summary(results: list[CheckResult]) -> str:
    failures = sum(len(r.failures) for r in results)
    checked = sum(1 for r in results if not r.skipped)
    if not failures:
        notes = sum(1 for r in results if r.noted)
        return f"all {checked} checks passed" + (f" ({notes} note{'s' if notes > 1 else ''})" if notes else "")
    failing = sum(1 for r in results if not r.ok)
    return f"{failures} problem{'s' if failures > 1 else ''} in {failing} of {checked} checks"
