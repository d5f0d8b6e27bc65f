"""The browser proof: a real host page in headless Chromium loading a dev plugin like the IDE does.

``tests/browser/`` is a tiny host-side project (React 19 development build bundled by esbuild, Playwright's
``playwright-core`` driving the system Chromium) and ``tests/browser/hmr_check.mjs`` the runner. Typical use::

    host_port = free_port()  # the host page's origin, which the scaffold's Vite lets in when told
    server = vite_processes.start(plugin / "ui", env={"PLUGINDEV_CORS_ORIGINS": f"http://127.0.0.1:{host_port}"})
    result = run_hmr_check(server.port, plugin / "ui/src/pages/HomePage.tsx", rounds=4, hostPort=host_port)
    assert result["ok"], result["failures"]

The project's npm dependencies are installed once per package.json content (``npm_install_cached``, under
``$PLUGINDEV_CACHE_DIR/npm-apps/``) and the host page is built once per content of its sources into
``$PLUGINDEV_CACHE_DIR/browser-host/<hash>/dist`` (with a ``node_modules`` symlink to the cached install).
The runner runs in its own process group and is killed (group) on timeout; Playwright itself closes Chromium.
No browser is ever downloaded: Chromium comes from the system (``/usr/bin/chromium``, or
``$PLUGINDEV_CHROMIUM``). The page tests' other engines (Firefox, WebKit) are found the same way
(``engine_args``) and driven by tests/browser_driver.py.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vite_support import _kill_group, cache_root, npm_install_cached, strip_ansi

BROWSER_DIR = Path(__file__).resolve().parent / "browser"
RUNNER = BROWSER_DIR / "hmr_check.mjs"
HOST_SOURCES = ("package.json", "build.mjs", "host.js", "host-dom.js")
DEFAULT_CHROMIUM = "/usr/bin/chromium"
MINIBROWSER_GLOB = "/usr/lib/*/webkit2gtk-4.*/MiniBrowser"
BUILD_TIMEOUT = 120.0
ROUND_TIMEOUT_MS = 10_000


def _executable(override: str, candidates: list[str]) -> str | None:
    """The first of `candidates` (names on PATH or paths) that can run, or only the `override` variable's value
    when it is set."""
    for candidate in [os.environ[override]] if os.environ.get(override) else candidates:
        found = shutil.which(candidate)
        if found is not None:
            return found
    return None


def find_chromium() -> str | None:
    """The Chromium executable (``$PLUGINDEV_CHROMIUM`` or /usr/bin/chromium), or None when there is none."""
    return _executable("PLUGINDEV_CHROMIUM", [DEFAULT_CHROMIUM])


def chromium_path() -> str:
    """The Chromium executable; fails the calling test with a clear message when it is missing."""
    return engine_args("chromium")["executable"]


# engine → (what it needs: argument → finder, how to install it on Debian)
ENGINE_NEEDS: dict[str, tuple[dict[str, Callable[[], str | None]], str]] = {
    "chromium": ({"executable": find_chromium}, "apt-get install chromium (or set PLUGINDEV_CHROMIUM)"),
    "firefox": ({"executable": lambda: _executable("PLUGINDEV_FIREFOX", ["firefox-esr", "firefox"])},
        "apt-get install firefox-esr (or set PLUGINDEV_FIREFOX)"),
    # WebKitGTK's MiniBrowser lives beside the library, not on PATH
    "webkit": ({"executable": lambda: _executable("PLUGINDEV_MINIBROWSER", sorted(glob.glob(MINIBROWSER_GLOB))),
                "webkitDriver": lambda: _executable("PLUGINDEV_WEBKITDRIVER", ["WebKitWebDriver"]),
                "xvfb": lambda: _executable("PLUGINDEV_XVFB", ["Xvfb"])},
               "apt-get install webkit2gtk-driver xvfb (or set PLUGINDEV_MINIBROWSER)"),
}


def engine_args(engine: str) -> dict[str, str]:
    """What tests/browser/driver.mjs needs to start `engine`; fails the calling test with what to install when
    something is missing (no browser is ever downloaded)."""
    finders, install = ENGINE_NEEDS[engine]
    found = {name: finder() for name, finder in finders.items()}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        import pytest

        pytest.fail(f"the {engine} page tests need {', '.join(missing)}: {install}. Playwright's own browser "
                    "downloads are not used.", pytrace=False)
    return {name: str(path) for name, path in found.items()}


def _node() -> str:
    found = shutil.which("node")
    if found is None:
        raise RuntimeError("node is not on PATH; the browser tests need Node.js 20.19+")
    return found


def browser_host() -> Path:
    """The built host project: a folder with ``node_modules/`` (react, react-dom, playwright-core, esbuild)
    and ``dist/index.html`` (the host page). Installed and built once per content, safe against concurrent runs."""
    package_json = json.loads((BROWSER_DIR / "package.json").read_text())
    node_modules = npm_install_cached(package_json, exclude=())
    digest = hashlib.sha256()
    for name in HOST_SOURCES:
        digest.update(name.encode() + b"\0" + (BROWSER_DIR / name).read_bytes() + b"\0")
    digest.update(str(node_modules).encode())
    key = digest.hexdigest()[:16]
    base = cache_root() / "browser-host"
    base.mkdir(parents=True, exist_ok=True)
    folder = base / key
    marker = folder / ".plugindev-built"
    if marker.exists():
        return folder
    with open(base / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return folder
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for name in HOST_SOURCES:
            shutil.copy2(BROWSER_DIR / name, folder / name)
        (folder / "node_modules").symlink_to(node_modules, target_is_directory=True)
        result = subprocess.run([_node(), "build.mjs", str(folder / "dist")], cwd=folder, capture_output=True,
                                text=True, timeout=BUILD_TIMEOUT, stdin=subprocess.DEVNULL)
        if result.returncode != 0 or not (folder / "dist" / "index.html").is_file():
            raise RuntimeError(f"building the test host page failed (exit {result.returncode}):\n"
                               f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        marker.write_text(json.dumps({"sources": list(HOST_SOURCES)}) + "\n")
    return folder


def run_hmr_check(vite_port: int, page_file: Path | str, rounds: int = 3, *, timeout: float | None = None,
                  round_timeout_ms: int = ROUND_TIMEOUT_MS, **extra: Any) -> dict[str, Any]:
    """Run ``hmr_check.mjs`` against the plugin served by Vite on 127.0.0.1:`vite_port`, editing `page_file`
    `rounds` times. Returns the runner's JSON result (see hmr_check.mjs); raises when the runner gives none.
    `extra` goes into the runner's arguments (e.g. ``entry``, ``pageUrl``, ``clicks``)."""
    chromium = chromium_path()
    host = browser_host()
    node = _node()
    if timeout is None:
        timeout = 60.0 + rounds * (round_timeout_ms / 1000 + 1)
    page = Path(page_file).resolve()
    original = page.read_bytes()
    try:
        return _run(node, host, chromium, vite_port, page, rounds, timeout, round_timeout_ms, extra)
    finally:
        if page.read_bytes() != original:  # the runner restores it itself, unless it was killed
            page.write_bytes(original)


def _run(node: str, host: Path, chromium: str, vite_port: int, page: Path, rounds: int, timeout: float,
         round_timeout_ms: int, extra: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="plugindev-hmr-check-") as tmp:
        output = Path(tmp) / "result.json"
        args = {
            "vitePort": vite_port, "pageFile": str(page), "rounds": rounds,
            "output": str(output), "hostDir": str(host), "chromium": chromium,
            "roundTimeoutMs": round_timeout_ms, "timeoutMs": int(max(10.0, timeout - 10) * 1000), **extra,
        }
        args_file = Path(tmp) / "args.json"
        args_file.write_text(json.dumps(args))
        proc = subprocess.Popen(
            [node, str(RUNNER), str(args_file)], cwd=tmp, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace", start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)  # SIGTERM first: Playwright closes its Chromium on SIGTERM
            out, _ = proc.communicate()
            out = (out or "") + f"\n[hmr_check.mjs killed after {timeout:.0f} s]"
        finally:
            _kill_group(proc, grace=2)
        if not output.is_file():
            log = strip_ansi(out or "")[-4000:]
            raise RuntimeError(f"hmr_check.mjs gave no result (exit {proc.returncode}):\n{log}")
        result: dict[str, Any] = json.loads(output.read_text())
        result["exitCode"] = proc.returncode
        return result
