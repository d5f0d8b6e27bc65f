"""Helpers for tests that run real Vite apps: cached npm installs, the generated vite-plugin, Vite processes.

Typical use::

    pkg = generate_vite_plugin(tmp / "vite-plugin")          # `plugindev gen-shims --out`, once per session
    app = make_app(tmp / "app", files, package_json=..., vite_plugin=pkg)
    with ViteProcesses() as procs:                              # or the `vite_processes` fixture
        server = procs.start(app)
        assert server.get("/src/entry.ts").status == 200
    build = run_vite_build(app)

npm installs are slow, so each distinct package.json is installed once into
``$PLUGINDEV_CACHE_DIR/npm-apps/<hash>/`` (under a file lock) and every app gets a hard-linked copy of that
``node_modules`` (a plain copy across file systems). Files in an app's node_modules share their inode with the
cache: never edit one in place (write a new file and rename it over instead). The generated
``@omniviewdev/vite-plugin`` is never installed by npm: it is linked into ``node_modules/@omniviewdev/`` as a
symlink to the generated folder, outside the app, like ``plugindev`` does for a real plugin.

Vite runs as ``node_modules/.bin/vite --port P --strictPort --host 127.0.0.1`` in its own process group; it
is ready once a stdout line, ANSI escapes stripped, contains ``Local:`` and the port, and ``/@vite/client``
answers 200. Stopping kills the whole process group (SIGTERM, then SIGKILL); never by name.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from orchestrator.devloop.vite import PortAllocator, strip_ansi

REPO = Path(__file__).resolve().parent.parent
VITE_PLUGIN_NAME = "@omniviewdev/vite-plugin"

# Exact versions used by the Vite integration tests (see SPEC §3: Vite 5.x as existing plugins pin, Vite 8.x).
REACT_VERSION = "19.2.4"
VITE_STACKS: dict[str, dict[str, str]] = {
    "vite5": {"vite": "5.4.21", "@vitejs/plugin-react": "4.7.0"},
    "vite8": {"vite": "8.3.8", "@vitejs/plugin-react": "6.3.0"},
}
APP_DEPENDENCIES: dict[str, str] = {
    "react": REACT_VERSION,
    "react-dom": REACT_VERSION,
    "@mui/material": "7.3.8",
    "@emotion/react": "11.14.0",
    "@emotion/styled": "11.14.0",
    "lodash-es": "4.17.21",
}

NPM_TIMEOUT = 900.0
VITE_READY_TIMEOUT = 60.0
VITE_BUILD_TIMEOUT = 300.0
STOP_GRACE = 5.0

_IMPORT = re.compile(r"""(?:\bfrom|\bimport)\s*\(?\s*["']([^"']+)["']""")


def module_imports(code: str) -> list[str]:
    """The specifiers/URLs of the static `import … from "x"`, `import "x"` and `import("x")` in served code."""
    return _IMPORT.findall(code)


def cache_root() -> Path:
    """The shared test cache (conftest sets PLUGINDEV_CACHE_DIR)."""
    value = os.environ.get("PLUGINDEV_CACHE_DIR")
    root = Path(value).expanduser() if value else Path.home() / ".cache" / "plugindev-tests"
    root.mkdir(parents=True, exist_ok=True)
    return root


def app_package_json(stack: str, name: str = "omniview-test-app", *,
                     extra_dependencies: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A package.json for a test app on one of VITE_STACKS, with the pinned React/MUI/emotion/lodash-es."""
    return {
        "name": name,
        "private": True,
        "type": "module",
        "scripts": {"dev": "vite", "build": "vite build"},
        "devDependencies": dict(VITE_STACKS[stack]),
        "dependencies": {**APP_DEPENDENCIES, **(extra_dependencies or {})},
    }


# --------------------------------------------------------------------------------------------- npm


def _install_spec(package_json: Mapping[str, Any], exclude: Iterable[str]) -> dict[str, Any]:
    excluded = set(exclude)
    spec: dict[str, Any] = {"name": "plugindev-test-deps", "private": True}
    for section in ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies", "overrides"):
        deps = package_json.get(section)
        if isinstance(deps, Mapping):
            kept = {k: v for k, v in deps.items() if k not in excluded}
            if kept:
                spec[section] = dict(sorted(kept.items()))
    if "type" in package_json:
        spec["type"] = package_json["type"]
    return spec


def npm_install_cached(package_json: Mapping[str, Any], *, npm: str | None = None,
                       exclude: Iterable[str] = (VITE_PLUGIN_NAME,)) -> Path:
    """Install the dependencies of `package_json` once per content; returns the cached `node_modules`.

    Only the dependency sections count (name, scripts… do not change the key); `exclude` drops packages npm must
    not fetch (by default the generated vite-plugin, which is linked instead). Safe against concurrent runs.
    """
    npm_exe = npm or shutil.which("npm")
    if npm_exe is None:
        raise RuntimeError("npm is not on PATH; the Vite tests need Node.js 20.19+ with npm")
    spec = _install_spec(package_json, exclude)
    text = json.dumps(spec, indent=2, sort_keys=True) + "\n"
    key = hashlib.sha256(f"{sys.platform}-{platform.machine()}\n{text}".encode()).hexdigest()[:16]
    base = cache_root() / "npm-apps"
    base.mkdir(parents=True, exist_ok=True)
    folder = base / key
    marker = folder / ".plugindev-installed"
    if marker.exists():
        return folder / "node_modules"
    with open(base / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():  # another process finished it while we waited
            return folder / "node_modules"
        shutil.rmtree(folder, ignore_errors=True)  # a half-done install of an interrupted run
        folder.mkdir(parents=True)
        (folder / "package.json").write_text(text)
        result = subprocess.run(
            [npm_exe, "install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"],
            cwd=folder, capture_output=True, text=True, timeout=NPM_TIMEOUT, stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0 or not (folder / "node_modules").is_dir():
            raise RuntimeError(f"npm install failed in {folder} (exit {result.returncode}):\n"
                               f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        marker.write_text(json.dumps({"installedAt": time.time()}) + "\n")
    return folder / "node_modules"


def copy_node_modules(source: Path, app_dir: Path) -> Path:
    """Give `app_dir` its own node_modules: a hard-linked copy of `source` (a plain copy across devices)."""
    target = app_dir / "node_modules"
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.exists():
        shutil.rmtree(target)
    ignore = shutil.ignore_patterns(".vite", ".vite-temp", ".cache")
    try:
        shutil.copytree(source, target, symlinks=True, copy_function=os.link, ignore=ignore)
    except (OSError, shutil.Error) as exc:
        if isinstance(exc, OSError) and exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target, symlinks=True, ignore=ignore)
    return target


def link_vite_plugin(app_dir: Path, package_dir: Path) -> Path:
    """Make `@omniviewdev/vite-plugin` resolve in `app_dir`: a symlink to the generated package (absolute)."""
    link = app_dir / "node_modules" / "@omniviewdev" / "vite-plugin"
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.exists():
        shutil.rmtree(link)
    link.symlink_to(package_dir.resolve(), target_is_directory=True)
    return link


def write_files(root: Path, files: Mapping[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def make_app(app_dir: Path, files: Mapping[str, str], *, package_json: Mapping[str, Any] | None = None,
             vite_plugin: Path | None = None, npm: str | None = None) -> Path:
    """Create a Vite app: write `files`, then (given `package_json`) write it and install its dependencies
    from the cache, then (given `vite_plugin`) link the generated package. Returns `app_dir`."""
    app_dir.mkdir(parents=True, exist_ok=True)
    write_files(app_dir, files)
    if package_json is not None:
        (app_dir / "package.json").write_text(json.dumps(package_json, indent=2) + "\n")
    if package_json is not None or (app_dir / "package.json").exists():
        pkg = package_json if package_json is not None else json.loads((app_dir / "package.json").read_text())
        copy_node_modules(npm_install_cached(pkg, npm=npm), app_dir)
    if vite_plugin is not None:
        link_vite_plugin(app_dir, vite_plugin)
    return app_dir


# ------------------------------------------------------------------------------------ vite-plugin


def generate_vite_plugin(out: Path, *extra_args: str, timeout: float = 300) -> Path:
    """Run the real `plugindev gen-shims --out OUT` and return OUT (the generated package)."""
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "gen-shims", "--out", str(out), *extra_args],
        cwd=REPO, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise RuntimeError(f"plugindev gen-shims failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
    for needed in ("package.json", "index.mjs", "index.d.ts", "shims/shims.lock.json"):
        if not (out / needed).is_file():
            raise RuntimeError(f"plugindev gen-shims did not write {needed} in {out}")
    return out


def shared_specifiers(package_dir: Path) -> list[str]:
    """The shared specifiers of a generated package, from its lock."""
    lock = json.loads((package_dir / "shims" / "shims.lock.json").read_text())
    return list(lock["shims"])


# ---------------------------------------------------------------------------------------- network


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def own_port() -> PortAllocator:
    """A Vite port of the test's own, outside the range that other tests (and other runs) share: where a restart on
    the same port is what is checked, since another run could take a shared one while Vite is down."""
    return PortAllocator(range(port := free_port(), port + 1))


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]  # lower-cased names
    text: str


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy


def http_get(url: str, *, origin: str | None = None, headers: Mapping[str, str] | None = None,
             timeout: float = 60) -> HttpResponse:
    """GET `url`; HTTP error statuses are returned, not raised. `origin` sets the Origin header."""
    all_headers = dict(headers or {})
    if origin is not None:
        all_headers["Origin"] = origin
    request = urllib.request.Request(url, headers=all_headers)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            body: bytes = response.read()
            return HttpResponse(response.status, {k.lower(): v for k, v in response.headers.items()},
                                body.decode("utf-8", "replace"))
    except urllib.error.HTTPError as err:
        body = err.read()
        return HttpResponse(err.code, {k.lower(): v for k, v in err.headers.items()},
                            body.decode("utf-8", "replace"))


# ------------------------------------------------------------------------------------------- vite


class ViteStartError(RuntimeError):
    pass


def _kill_group(proc: subprocess.Popen[str], grace: float = STOP_GRACE) -> None:
    """SIGTERM the process group of `proc` (its own session), SIGKILL after `grace`, reap the leader."""
    pgid = proc.pid  # start_new_session=True: the leader's pid is the group id
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            proc.wait(grace)
    # children that outlived the leader (e.g. an esbuild service) are still in the group
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


@dataclass
class ViteServer:
    app_dir: Path
    port: int
    proc: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)  # stdout+stderr lines, ANSI stripped
    _reader: threading.Thread | None = None
    _ready_line: threading.Event = field(default_factory=threading.Event)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base_url + ("" if path.startswith("/") else "/") + path

    def get(self, path: str, *, origin: str | None = None, headers: Mapping[str, str] | None = None,
            timeout: float = 60) -> HttpResponse:
        return http_get(self.url(path), origin=origin, headers=headers, timeout=timeout)

    def log(self) -> str:
        return "\n".join(self.output)

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        _kill_group(self.proc)
        if self._reader is not None:
            self._reader.join(5)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        needle = f":{self.port}"
        for raw in self.proc.stdout:
            line = strip_ansi(raw.rstrip("\n"))
            self.output.append(line)
            if "Local:" in line and needle in line:
                self._ready_line.set()


def start_vite(app_dir: Path, *, port: int | None = None, env: Mapping[str, str] | None = None,
               args: Sequence[str] = (), timeout: float = VITE_READY_TIMEOUT) -> ViteServer:
    """Start the app's local Vite on 127.0.0.1 and wait until it is ready. The caller must `stop()` it
    (prefer `ViteProcesses`, which always does)."""
    binary = app_dir / "node_modules" / ".bin" / "vite"
    if not binary.exists():
        raise ViteStartError(f"{binary} does not exist (dependencies not installed?)")
    chosen = port or free_port()
    proc = subprocess.Popen(
        [str(binary), "--port", str(chosen), "--strictPort", "--host", "127.0.0.1", *args],
        cwd=app_dir, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace", bufsize=1,
        start_new_session=True,
    )
    server = ViteServer(app_dir=app_dir, port=chosen, proc=proc)
    server._reader = threading.Thread(target=server._read, name=f"vite-{chosen}", daemon=True)
    server._reader.start()
    try:
        _wait_ready(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: ViteServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not server._ready_line.wait(0.05):
        if not server.running():
            if server._reader is not None:
                server._reader.join(2)  # collect the last lines of output
            raise ViteStartError(f"vite exited with {server.proc.returncode} before it was ready:\n{server.log()}")
        if time.monotonic() > deadline:
            raise ViteStartError(f"no `Local:` banner with port {server.port} within {timeout:.0f} s:\n"
                                 f"{server.log()}")
    last: object = None
    while time.monotonic() < deadline:
        if not server.running():
            raise ViteStartError(f"vite exited with {server.proc.returncode} after its banner:\n{server.log()}")
        try:
            response = server.get("/@vite/client", timeout=max(1.0, deadline - time.monotonic()))
            if response.status == 200:
                return
            last = response.status
        except OSError as exc:
            last = exc
        time.sleep(0.1)
    raise ViteStartError(f"GET /@vite/client did not answer 200 within {timeout:.0f} s (last: {last!r}):\n"
                         f"{server.log()}")


class ViteProcesses:
    """Starts Vite servers and guarantees they are stopped (process group killed) when closed."""

    def __init__(self) -> None:
        self.servers: list[ViteServer] = []

    def start(self, app_dir: Path, *, port: int | None = None, env: Mapping[str, str] | None = None,
              args: Sequence[str] = (), timeout: float = VITE_READY_TIMEOUT, attempts: int = 3) -> ViteServer:
        """Start Vite in `app_dir`; with no fixed `port`, retry on another free port if one was taken meanwhile."""
        for attempt in range(attempts):
            try:
                server = start_vite(app_dir, port=port, env=env, args=args, timeout=timeout)
            except ViteStartError as exc:
                if port is None and attempt + 1 < attempts and "is already in use" in str(exc):
                    continue
                raise
            self.servers.append(server)
            return server
        raise AssertionError("unreachable")

    def stop_all(self) -> None:
        errors: list[BaseException] = []
        while self.servers:
            server = self.servers.pop()
            try:
                server.stop()
            except BaseException as exc:  # keep stopping the others
                errors.append(exc)
        if errors:
            raise errors[0]

    def __enter__(self) -> ViteProcesses:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop_all()


@contextlib.contextmanager
def vite_server(app_dir: Path, **kwargs: Any) -> Iterator[ViteServer]:
    with ViteProcesses() as procs:
        yield procs.start(app_dir, **kwargs)


# ------------------------------------------------------------------------------------------ build


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    output: str  # stdout+stderr, ANSI stripped


def run_in_group(cmd: Sequence[str], cwd: Path, *, env: Mapping[str, str] | None = None,
                 timeout: float = VITE_BUILD_TIMEOUT) -> CommandResult:
    """Run a command in its own process group; on timeout the whole group is killed."""
    proc = subprocess.Popen(
        list(cmd), cwd=cwd, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace", start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc, grace=1)
        out, _ = proc.communicate()
        return CommandResult(-9, strip_ansi(out or "") + f"\n[timed out after {timeout:.0f} s]")
    finally:
        _kill_group(proc, grace=1)
    return CommandResult(proc.returncode, strip_ansi(out or ""))


def run_vite_build(app_dir: Path, *, args: Sequence[str] = (), env: Mapping[str, str] | None = None,
                   timeout: float = VITE_BUILD_TIMEOUT) -> CommandResult:
    return run_in_group([str(app_dir / "node_modules" / ".bin" / "vite"), "build", *args], app_dir,
                        env=env, timeout=timeout)


_SYSTEM_DEPS = re.compile(r"System\.register\(\s*(\[[^\]]*\])")


def system_register_deps(code: str) -> list[str] | None:
    """The dependency list of the (first) `System.register([...], …)` call, or None when there is none."""
    match = _SYSTEM_DEPS.search(code)
    return None if match is None else [str(dep) for dep in json.loads(match.group(1))]


# A minimal SystemJS host for Node: evaluates a System.register bundle, feeding each dependency from a
# real `import()` resolved from the app (a dependency that cannot be imported gets an empty module and is
# reported), runs `execute`, and prints the exports as JSON.
SYSTEM_RUNNER = r"""
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
globalThis.window = globalThis;
globalThis.self = globalThis;
const element = () => ({ style: {}, setAttribute() {}, appendChild() {}, removeChild() {}, addEventListener() {} });
globalThis.document ??= {
  createElement: element, createTextNode: element, head: element(), body: element(),
  documentElement: element(), addEventListener() {}, removeEventListener() {},
  querySelector() { return null; }, querySelectorAll() { return []; }, getElementsByTagName() { return []; },
};
const file = process.argv[2];
const code = fs.readFileSync(file, 'utf8');
const registered = [];
const System = { register(deps, declare) { registered.push({ deps, declare }); } };
new Function('System', code)(System);
if (registered.length !== 1) throw new Error(`expected one System.register call, got ${registered.length}`);
const { deps, declare } = registered[0];
const exported = {};
const exportFn = (name, value) => {
  if (typeof name === 'object' && name !== null) Object.assign(exported, name); else exported[name] = value;
  return value;
};
const context = { meta: { url: pathToFileURL(file).href }, import: (id) => import(id) };
const declared = declare(exportFn, context);
const failedDeps = {};
for (let i = 0; i < deps.length; i++) {
  let mod;
  try {
    mod = await import(deps[i]);
  } catch (err) {
    failedDeps[deps[i]] = String((err && err.message) || err);
    mod = {};
  }
  declared.setters[i]?.(mod);
}
await declared.execute();
const describe = (value) => {
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return { type: typeof value, value };
  const out = { type: typeof value };
  if (typeof value === 'object') {
    out.keys = Object.fromEntries(Object.entries(value).map(([k, v]) => [k,
      v === null || ['string', 'number', 'boolean'].includes(typeof v) ? v : `<${typeof v}>`]));
  }
  return out;
};
console.log(JSON.stringify({ deps, failedDeps,
  exports: Object.fromEntries(Object.entries(exported).map(([k, v]) => [k, describe(v)])) }));
"""


def run_system_bundle(app_dir: Path, bundle: Path, *, node: str | None = None, timeout: float = 120) -> dict[str, Any]:
    """Evaluate a SystemJS bundle in Node like a SystemJS host would; dependencies are imported from `app_dir`.

    Returns ``{"deps": [...], "failedDeps": {id: error}, "exports": {name: {"type", "value"?, "keys"?}}}``.
    """
    node_exe = node or shutil.which("node")
    if node_exe is None:
        raise RuntimeError("node is not on PATH")
    runner = app_dir / ".plugindev-run-system.mjs"  # inside the app, so bare imports resolve from its node_modules
    runner.write_text(SYSTEM_RUNNER)
    result = run_in_group([node_exe, str(runner), str(bundle)], app_dir, timeout=timeout)
    lines = [line for line in result.output.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"SystemJS run of {bundle} failed (exit {result.returncode}):\n{result.output[-4000:]}")
    data: dict[str, Any] = json.loads(lines[-1])
    return data
