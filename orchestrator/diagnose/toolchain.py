"""Doctor checks of the tools a run uses: Go and its module proxy, Node.js, the UI's package manager, and
plugindev's Node environments."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from orchestrator.authoring.scaffold import GO_VERSION, SDK_VERSION
from orchestrator.common.durations import seconds_text
from orchestrator.common.errors import PlugindevError
from orchestrator.common.node import MIN_NODE_VERSION, parse_node_version, planned_node_env, run_captured
from orchestrator.common.paths import cache_dir
from orchestrator.diagnose.checks import SDK_MODULE, CheckResult, PluginFacts, failed
from orchestrator.diagnose.machine import unwritable_reason

PROXY_TIMEOUT = 10.0  # seconds for `go list -m` of the SDK; a proxy that answers at all does in well under 1 s


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


async def check_go(plugin: PluginFacts | None) -> CheckResult:
    from orchestrator.go.toolchain import find_go

    if plugin is not None and not plugin.has_go:
        return CheckResult("Go", f"not needed: {plugin.dir} has no go.mod (no Go backend)", skipped=True)
    if plugin is not None and plugin.go_directive:
        needed, why = plugin.go_directive, f"{plugin.dir / 'go.mod'} needs go {plugin.go_directive}"
    else:
        needed, why = GO_VERSION, f"the Omniview plugin SDK {SDK_VERSION} needs go {GO_VERSION}"
    install = f"install Go {needed} or newer (https://go.dev/dl/), or point PLUGINDEV_GO at such a go binary"
    try:
        go = find_go()
    except PlugindevError:
        setting = os.environ.get("PLUGINDEV_GO")
        missing = (f"PLUGINDEV_GO={setting} is not an executable go" if setting
                   else "no `go` on PATH or in $GOROOT/bin")
        return failed("Go", missing, install)
    code, out, err = await run_captured(go, "version")
    found = re.search(r"\bgo(\d+(?:\.\d+){1,2})", out)
    if code != 0 or found is None:
        return failed("Go", f"`{go} version` failed: {(err or out).strip()[:200]}", install)
    if _version_tuple(found[1]) < _version_tuple(needed):
        return failed("Go", f"{go} is go {found[1]}, but {why}", install)
    return CheckResult("Go", f"go {found[1]} at {go} ({why})")


async def _node_version() -> tuple[str | None, tuple[int, int, int] | None]:
    node = shutil.which("node")
    if node is None:
        return None, None
    code, out, _ = await run_captured(node, "--version")
    return node, parse_node_version(out) if code == 0 else None


def _dotted(version: Iterable[int]) -> str:
    return ".".join(map(str, version))


async def check_node(plugin: PluginFacts | None) -> CheckResult:
    if plugin is not None and not plugin.has_ui:
        return CheckResult("Node.js", f"not needed: {plugin.dir} has no ui/package.json", skipped=True)
    wanted = _dotted(MIN_NODE_VERSION)
    node, version = await _node_version()
    npm = shutil.which("npm")
    if node is not None and version is not None and version >= MIN_NODE_VERSION and npm is not None:
        code, out, _ = await run_captured(npm, "--version")
        npm_version = out.strip() if code == 0 else "of unknown version"
        return CheckResult("Node.js", f"node v{_dotted(version)} at {node} with npm {npm_version} "
                                      f"(Vite needs {wanted}+)")
    downloaded, _ = planned_node_env(None)
    if (downloaded.bin_dir / "node").exists():
        return CheckResult("Node.js", f"plugindev's downloaded Node in {downloaded.root} (none {wanted}+ on PATH)")
    found = ("no `node` on PATH" if node is None else f"{node} is not a working Node" if version is None
             else f"{node} is v{_dotted(version)}, older than the {wanted} Vite needs" if version < MIN_NODE_VERSION
             else "node is on PATH but npm is not")
    return failed("Node.js", found, f"install Node.js {wanted} or newer with npm (https://nodejs.org); otherwise "
                                    "`plugindev run` downloads one with nodeenv, which needs access to nodejs.org")


async def check_package_manager(plugin: PluginFacts) -> CheckResult:
    from orchestrator.link.derived import read_manifest as read_package_json
    from orchestrator.link.managers.base import tool_folder
    from orchestrator.link.package_managers import choose

    what = "package manager"
    ui_dir = plugin.dir / "ui"
    try:
        chosen = choose(ui_dir, read_package_json(ui_dir / "package.json"))
    except PlugindevError as exc:
        return failed(what, str(exc))
    if chosen.version is None:
        return CheckResult(what, f"{chosen.label} ({chosen.reason}): the one that comes with Node")
    _, version = await _node_version()
    folder = tool_folder(chosen, planned_node_env(version)[0])
    where = (f"installed in {folder}" if (folder / "node_modules").is_dir()
             else "`plugindev link` or `run` installs it into plugindev's Node environment (from the npm registry)")
    return CheckResult(what, f"{chosen.label} ({chosen.reason}): {where}")


async def check_node_cache(plugin: PluginFacts | None) -> CheckResult:
    what = "nodeenv cache"
    if plugin is not None and not plugin.has_ui:
        return CheckResult(what, "not needed without a UI", skipped=True)
    folder = cache_dir() / "node"
    if (reason := unwritable_reason(folder)) is not None:
        return failed(what, reason, "set PLUGINDEV_CACHE_DIR to a writable folder, or fix the permissions")
    _, version = await _node_version()
    env, _ = planned_node_env(version)
    made = "ready" if (env.bin_dir / "node").exists() else "made on the first `plugindev run` or `link`"
    return CheckResult(what, f"{folder} is writable; the environment {env.root.name} is {made}")



async def check_go_proxy(plugin: PluginFacts | None) -> CheckResult:
    from orchestrator.common.process import spawn, stop_group
    from orchestrator.go.toolchain import find_go

    what = "Go module proxy"
    if plugin is not None and not plugin.has_go:
        return CheckResult(what, "not needed without a Go backend", skipped=True)
    try:
        go = find_go()
    except PlugindevError:
        return CheckResult(what, "not checked without Go (see the Go check)", skipped=True)
    version = plugin.sdk_version if plugin is not None and plugin.sdk_version else SDK_VERSION
    module = f"{SDK_MODULE}@{version}"
    # outside any module or workspace, so only the proxy (or the module cache) can answer
    env = {**os.environ, "GOWORK": "off", "GOFLAGS": ""}
    with tempfile.TemporaryDirectory(prefix="plugindev-doctor-") as folder:
        process = await spawn([go, "list", "-m", "-json", module], cwd=Path(folder), env=env)
        try:
            async with asyncio.timeout(PROXY_TIMEOUT):
                out, err = await process.communicate()
        except TimeoutError:
            await stop_group(process, timeout=1.0)
            out, err = b"", f"no answer within {seconds_text(PROXY_TIMEOUT)}".encode()
    if process.returncode == 0:
        try:
            info = json.loads(out)
        except ValueError:
            info = {}
        where = "in the module cache" if info.get("Dir") else "served by the proxy"
        return CheckResult(what, f"{module} {where} (it needs go {info.get('GoVersion', '?')})")
    reason = next((line for line in reversed(err.decode(errors="replace").splitlines()) if line.strip()), "failed")
    _, proxy, _ = await run_captured(go, "env", "GOPROXY")
    return failed(what, f"`go list -m {module}`: {reason.strip()}",
                  f"the SDK comes through GOPROXY (now {proxy.strip() or 'unset'}): set GOPROXY=https://proxy.golang.org,"
                  "direct, or your organisation's Go proxy, and check the network can reach it")
