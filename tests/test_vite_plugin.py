"""The generated `@omniviewdev/vite-plugin` in real Vite apps (SPEC §3), on Vite 5 and Vite 8.

One app per Vite version (React 19, MUI 7, emotion, lodash-es), the generated package linked into its
node_modules from outside the app. Dev: one Vite server per version; the checks are the HTTP requests a host
webview would make. Build: one `vite build` per user-`external` form per version, evaluated by a tiny
SystemJS host in Node. The config sets no `build.target` (real plugins do not), so the minifier's helpers are
in play.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from vite_support import (
    REACT_VERSION,
    ViteProcesses,
    ViteServer,
    app_package_json,
    make_app,
    module_imports,
    run_in_group,
    run_system_bundle,
    run_vite_build,
    shared_specifiers,
    system_register_deps,
)

pytestmark = pytest.mark.integration

STACKS = ["vite5", "vite8"]

VITE_CONFIG = """\
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { omniviewExternals } from '@omniviewdev/vite-plugin';

// The test chooses the form of the user's own `external` (SPEC §3: array, function, string or RegExp),
// or 'helpers' for the entry whose code needs the minifier's helpers.
const mode = process.env.OMNIVIEW_TEST_EXTERNAL ?? 'none';
const inputs: Record<string, string> = { array: 'src/entry-ext.ts', function: 'src/entry-ext.ts',
  regexp: 'src/entry-ext.ts', helpers: 'src/entry-helpers.ts' };
const userExternal =
  mode === 'array' ? ['lodash-es', 'made-up-ext/thing']
  : mode === 'function' ? (id: string) => id === 'lodash-es' || id.startsWith('made-up-ext/')
  : mode === 'regexp' ? /^(?:lodash-es|made-up-ext\\/.*)$/
  : mode === 'string' ? 'lodash-es'
  : undefined;

export default defineConfig({
  plugins: [react(), omniviewExternals()],
  server: { host: '127.0.0.1', cors: true, hmr: { protocol: 'ws', host: '127.0.0.1' } },
  build: {
    cssCodeSplit: false,
    sourcemap: true,
    rollupOptions: {
      input: inputs[mode] ?? 'src/entry.ts',
      ...(userExternal === undefined ? {} : { external: userExternal }),
      output: {
        entryFileNames: 'assets/entry.js',
        chunkFileNames: 'assets/[name].js',
        assetFileNames: 'assets/[name].[ext]',
        format: 'system',
      },
      preserveEntrySignatures: 'exports-only',
    },
  },
});
"""

ENTRY = """\
import { version } from 'react';
import { debounce } from 'lodash-es';
import { mount } from './Page';

export const plugin = { id: 'demo', reactVersion: version, mount, debounced: debounce(() => 1, 10) };
"""

# The same, plus an import that only a user `external` can satisfy (no such package is installed).
ENTRY_EXT = """\
import { version } from 'react';
import { debounce } from 'lodash-es';
import { madeUp } from 'made-up-ext/thing';
import { mount } from './Page';

export const plugin = { id: 'demo', reactVersion: version, mount, debounced: debounce(() => 1, 10), madeUp };
"""

# With Vite's default build.target, lowering these needs helper functions: esbuild (Vite 5) lowers the class
# fields and private members, Oxc (Vite 8) the `using` declaration.
ENTRY_HELPERS = """\
import { useState } from 'react';

class Counter {
  static made = 0;
  count = 0;
  #step = 1;

  bump(): this {
    this.count += this.#step;
    return this;
  }
}

function tally(extra: object): number {
  using scope = { [Symbol.dispose]() {} };
  const merged = { step: 1, ...extra };
  return new Counter().bump().count + Object.keys(merged).length + (scope ? 0 : 100);
}

export async function load(): Promise<string> {
  await Promise.resolve();
  return 'omniview-helpers-marker';
}

export const plugin = { useState, total: tally({ more: 2 }), load };
"""
HELPERS_MARKER = "omniview-helpers-marker"
# Text of a helper each minifier emits for ENTRY_HELPERS: the helpers really are there to be misplaced.
HELPER_TEXT = {"vite5": "Cannot add the same private member", "vite8": "using declarations can only be used"}

PAGE = """\
import { useState } from 'react';
import { createRoot } from 'react-dom/client';
import { Button } from '@mui/material';
import Tabs from '@mui/material/Tabs';

function Page() {
  const [n, setN] = useState(0);
  return (
    <div>
      <Tabs value={0} />
      <Button onClick={() => setN(n + 1)}>clicked {n}</Button>
    </div>
  );
}

export function mount(el: HTMLElement) {
  createRoot(el).render(<Page />);
}
"""

TSCONFIG = json.dumps({"compilerOptions": {
    "target": "ES2022", "module": "ESNext", "moduleResolution": "bundler", "jsx": "react-jsx", "strict": True,
    "noEmit": True, "skipLibCheck": True}, "include": ["src", "vite.config.ts"]}, indent=2) + "\n"

APP_FILES = {
    "vite.config.ts": VITE_CONFIG,
    "tsconfig.json": TSCONFIG,
    "src/entry.ts": ENTRY,
    "src/entry-ext.ts": ENTRY_EXT,
    "src/entry-helpers.ts": ENTRY_HELPERS,
    "src/Page.tsx": PAGE,
}

# Shared ids the app reaches (directly, or from inside the bundled @mui/material/Tabs and react-dom/client).
SHARED_IN_APP = ["react", "react-dom", "react/jsx-runtime", "@mui/material", "@emotion/react", "@emotion/styled"]
# user `external` form -> ids it makes external
EXTERNAL_MODES = {
    "array": ["lodash-es", "made-up-ext/thing"],
    "function": ["lodash-es", "made-up-ext/thing"],
    "regexp": ["lodash-es", "made-up-ext/thing"],
    "string": ["lodash-es"],
}
FOREIGN_ORIGIN = "http://127.0.0.1:9999"
DEPS_PREFIX = "/node_modules/.vite/deps/"
# Signs of a private React (or emotion) copy inside pre-bundled code: esbuild/Rolldown path comments of the
# package's own files, or React's own export assignments.
PRIVATE_REACT = re.compile(
    r"node_modules/react/(?:cjs/|index\.js|jsx-)|node_modules/react-dom/(?:index\.js|cjs/react-dom\.)"
    r"|node_modules/@emotion/react/dist|exports\.useState\s*=|exports\.createElement\s*="
)


@dataclass(frozen=True)
class App:
    stack: str
    root: Path
    package: Path  # the generated @omniviewdev/vite-plugin (outside root)

    def shim_url(self, filename: str) -> str:
        return "/@fs" + (self.package.resolve() / "shims" / filename).as_posix()


@pytest.fixture(scope="module", params=STACKS)
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
        generated_vite_plugin: Path) -> App:
    stack: str = request.param
    root = make_app(tmp_path_factory.mktemp(f"app-{stack}"), APP_FILES,
                    package_json=app_package_json(stack, f"omniview-test-{stack}"), vite_plugin=generated_vite_plugin)
    link = root / "node_modules/@omniviewdev/vite-plugin"
    assert link.is_symlink() and not link.resolve().is_relative_to(root.resolve())
    installed = json.loads((root / "node_modules/vite/package.json").read_text())["version"]
    assert installed == app_package_json(stack)["devDependencies"]["vite"]
    return App(stack, root, generated_vite_plugin)


@pytest.fixture(scope="module")
def dev(app: App) -> Iterator[ViteServer]:
    with ViteProcesses() as procs:
        # FORCE_COLOR: the readiness banner then carries ANSI codes, as on a terminal
        yield procs.start(app.root, env={"FORCE_COLOR": "1"})


def _reads_shared(text: str, spec: str) -> bool:
    """Whether `text` contains a shim's read of `spec` (as written, or as the optimizer rewrote `?.[…]`)."""
    key = re.escape(json.dumps(spec))
    dotted = rf"|\.{re.escape(spec)}(?![\w$-])" if re.fullmatch(r"[A-Za-z_$][\w$]*", spec) else ""
    return re.search(rf"__OMNIVIEW_SHARED__\b[^;\n]{{0,80}}?(?:\[\s*{key}\s*\]{dotted})", text) is not None


def _path(url: str) -> str:
    return url.split("?", 1)[0]


def _get_ok(server: ViteServer, url: str) -> str:
    response = server.get(url)
    assert response.status == 200, f"GET {url} -> {response.status}: {response.text[:500]}\n{server.log()[-3000:]}"
    return response.text


def _page_imports(server: ViteServer) -> list[str]:
    _get_ok(server, "/src/entry.ts")  # what the host imports first
    return module_imports(_get_ok(server, "/src/Page.tsx"))


def _dep_url(imports: list[str], name: str) -> str:
    found = [u for u in imports if _path(u) == DEPS_PREFIX + name]
    assert found, f"no pre-bundled {DEPS_PREFIX + name} among {imports}"
    return found[0]


def _crawl_dep(server: ViteServer, url: str) -> tuple[str, list[str]]:
    """The text of a pre-bundled dependency and of the optimizer chunks it imports; and every URL imported."""
    seen: set[str] = set()
    todo = [url]
    texts: list[str] = []
    imported: list[str] = []
    while todo:
        current = todo.pop()
        if _path(current) in seen:
            continue
        seen.add(_path(current))
        body = _get_ok(server, current)
        texts.append(body)
        for imp in module_imports(body):
            imported.append(imp)
            if not _path(imp).endswith(".js"):  # (the regex also sees `import "…"` inside strings)
                continue
            if imp.startswith(DEPS_PREFIX):
                todo.append(imp)
            elif imp.startswith("./"):
                todo.append(DEPS_PREFIX + imp[2:])
    return "\n".join(texts), imported


# ------------------------------------------------------------------------------------------------ dev


def test_dev_entry_imports_shared_specifiers_through_shims(app: App, dev: ViteServer) -> None:
    imports = module_imports(_get_ok(dev, "/src/entry.ts"))
    react_shim = app.shim_url("react.mjs")
    assert react_shim in map(_path, imports), imports
    assert not [u for u in imports if u == "react" or _path(u).startswith(DEPS_PREFIX + "react")], imports
    assert _dep_url(imports, "lodash-es.js")  # a non-shared dependency stays a normal pre-bundled dep

    shim_urls = [u for u in imports if "/shims/" in u]
    assert shim_urls == [u for u in shim_urls if _path(u).startswith("/@fs/")]
    for url in shim_urls:
        body = _get_ok(dev, url)
        assert "__OMNIVIEW_SHARED__" in body and "export default" in body, url
    react = _get_ok(dev, react_shim)
    assert 'window.__OMNIVIEW_SHARED__?.["react"]' in react
    assert "export const useState = mod.useState;" in react and "export const use = mod.use;" in react


def test_dev_shims_dir_is_served_but_not_the_rest_of_the_disk(app: App, dev: ViteServer,
                                                             tmp_path_factory: pytest.TempPathFactory) -> None:
    # a shim nothing imported yet: allowed because the shims folder is in server.fs.allow, not via the graph
    cold = dev.get(app.shim_url("yaml.mjs"))
    assert cold.status == 200 and 'window.__OMNIVIEW_SHARED__?.["yaml"]' in cold.text
    outside = tmp_path_factory.mktemp("outside") / "secret.txt"
    outside.write_text("not for the browser\n")
    denied = dev.get("/@fs" + outside.resolve().as_posix())
    assert denied.status == 403 and "not for the browser" not in denied.text


def test_dev_tsx_module_imports_jsx_dev_runtime_shim(app: App, dev: ViteServer) -> None:
    imports = _page_imports(dev)
    paths = list(map(_path, imports))
    assert app.shim_url("react__jsx-dev-runtime.mjs") in paths, imports
    assert app.shim_url("react.mjs") in paths and app.shim_url("_mui__material.mjs") in paths, imports
    assert not [p for p in paths if p.startswith(DEPS_PREFIX + "react_jsx") or p.endswith("/jsx-dev-runtime.js")]
    jsx = _get_ok(dev, app.shim_url("react__jsx-dev-runtime.mjs"))
    assert 'window.__OMNIVIEW_SHARED__?.["react/jsx-dev-runtime"]' in jsx
    assert "export const jsxDEV = mod.jsxDEV;" in jsx


def test_dev_prebundled_react_dom_client_reads_the_shims(app: App, dev: ViteServer) -> None:
    client = _dep_url(_page_imports(dev), "react-dom_client.js")
    text, imported = _crawl_dep(dev, client)
    react_shim, react_dom_shim = app.shim_url("react.mjs"), app.shim_url("react-dom.mjs")
    # the optimizer either inlines the shim (its code reads __OMNIVIEW_SHARED__) or imports the shim URL
    reads_react = _reads_shared(text, "react") or react_shim in map(_path, imported)
    reads_react_dom = _reads_shared(text, "react-dom") or react_dom_shim in map(_path, imported)
    assert reads_react and reads_react_dom, imported
    assert "createRoot" in text  # it is react-dom/client itself, bundled
    private = PRIVATE_REACT.search(text)
    assert private is None, f"private React copy in pre-bundled react-dom/client: {private.group(0)!r}"


def test_dev_prebundled_mui_subpath_reads_react_and_emotion_from_the_shims(app: App, dev: ViteServer) -> None:
    tabs = _dep_url(_page_imports(dev), "@mui_material_Tabs.js")
    text, imported = _crawl_dep(dev, tabs)
    for spec, filename in (("react", "react.mjs"), ("@emotion/react", "_emotion__react.mjs"),
                           ("react/jsx-runtime", "react__jsx-runtime.mjs")):
        reads = _reads_shared(text, spec) or app.shim_url(filename) in map(_path, imported)
        assert reads, f"pre-bundled @mui/material/Tabs does not read {spec} from its shim"
    private = PRIVATE_REACT.search(text)
    assert private is None, f"private copy in pre-bundled @mui/material/Tabs: {private.group(0)!r}"


def test_dev_cors_allows_the_host_origin(dev: ViteServer) -> None:
    response = dev.get("/src/entry.ts", origin=FOREIGN_ORIGIN)
    assert response.status == 200
    assert response.headers.get("access-control-allow-origin") in ("*", FOREIGN_ORIGIN), response.headers


# ---------------------------------------------------------------------------------------------- build


@dataclass(frozen=True)
class Build:
    mode: str
    code: str
    deps: list[str]
    sources: list[str]  # the source map's sources
    bundle: Path
    app_root: Path

    def run(self) -> dict[str, Any]:
        """Evaluate the bundle in a SystemJS host (Node); see vite_support.run_system_bundle."""
        return run_system_bundle(self.app_root, self.bundle)


@pytest.fixture(scope="module")
def build(app: App) -> Callable[[str], Build]:
    """`build(mode)`: one `vite build` of the app per user-external mode (cached for the module)."""
    done: dict[str, Build] = {}

    def get(mode: str) -> Build:
        if mode not in done:
            out_dir = f"dist-{mode}"
            result = run_vite_build(app.root, args=["--outDir", out_dir, "--emptyOutDir"],
                                    env={"OMNIVIEW_TEST_EXTERNAL": mode})
            assert result.returncode == 0, f"vite build ({app.stack}, {mode}) failed:\n{result.output[-4000:]}"
            bundle = app.root / out_dir / "assets" / "entry.js"
            code = bundle.read_text()
            deps = system_register_deps(code)
            assert deps is not None, f"no System.register in {bundle}:\n{code[:500]}"
            sources = json.loads((bundle.parent / "entry.js.map").read_text())["sources"]
            done[mode] = Build(mode, code, deps, sources, bundle, app.root)
        return done[mode]

    return get


def _bundled(build: Build, fragment: str) -> bool:
    return any(fragment in source for source in build.sources)


def test_build_is_systemjs_with_the_shared_ids_external(app: App, build: Callable[[str], Build]) -> None:
    out = build("none")
    assert out.code.startswith("System.register(["), out.code[:300]
    missing = [spec for spec in SHARED_IN_APP if spec not in out.deps]
    assert not missing, f"shared ids not external: {missing}; deps {out.deps}"
    # nothing else is external, and no dev-only or shim code leaks into the build
    assert set(out.deps) <= set(shared_specifiers(app.package)), out.deps
    assert "react/jsx-dev-runtime" not in out.deps
    assert "__OMNIVIEW_SHARED__" not in out.code and "/shims/" not in out.code
    assert not _bundled(out, "node_modules/react/") and not _bundled(out, "node_modules/@emotion/react/")
    assert not _bundled(out, "node_modules/@mui/material/esm/Button/")  # from the shared @mui/material
    # with no user external, lodash-es is an ordinary bundled dependency
    assert "lodash-es" not in out.deps and _bundled(out, "node_modules/lodash-es/")


def test_build_keeps_the_named_plugin_export(build: Callable[[str], Build]) -> None:
    run = build("none").run()
    assert run["failedDeps"] == {}, run
    plugin = run["exports"].get("plugin")
    assert plugin is not None, f"no `plugin` export: {sorted(run['exports'])}"
    assert plugin["type"] == "object"
    # reactVersion comes from the `react` the SystemJS host supplied: the external import is really wired
    assert plugin["keys"] == {"id": "demo", "reactVersion": REACT_VERSION, "mount": "<function>",
                              "debounced": "<function>"}


def test_build_bundles_an_unlisted_subpath(build: Callable[[str], Build]) -> None:
    out = build("none")
    assert "react-dom/client" not in out.deps
    assert _bundled(out, "node_modules/react-dom/cjs/react-dom-client.")
    # …while its own shared imports stay external
    assert "react-dom" in out.deps and "react" in out.deps
    assert not _bundled(out, "node_modules/react-dom/cjs/react-dom.")
    assert not re.search(r"""\brequire\(\s*["'`]react""", out.code)


@pytest.mark.parametrize("mode", list(EXTERNAL_MODES))
def test_build_user_external_still_applies(mode: str, app: App, build: Callable[[str], Build]) -> None:
    out = build(mode)
    assert out.code.startswith("System.register(["), out.code[:300]
    for external in EXTERNAL_MODES[mode]:
        assert external in out.deps, f"user external {external!r} ({mode}) not kept: deps {out.deps}"
    assert not _bundled(out, "node_modules/lodash-es/")
    missing = [spec for spec in SHARED_IN_APP if spec not in out.deps]
    assert not missing, f"shared ids not external with a user external ({mode}): {missing}"
    assert set(out.deps) <= set(shared_specifiers(app.package)) | set(EXTERNAL_MODES[mode]), out.deps
    assert "react-dom/client" not in out.deps
    # the bundle still evaluates in a SystemJS host and exports `plugin`
    run = out.run()
    assert set(run["failedDeps"]) <= {"made-up-ext/thing"}, run["failedDeps"]
    plugin = run["exports"].get("plugin")
    assert plugin is not None and plugin["keys"]["reactVersion"] == REACT_VERSION, run
    assert plugin["keys"]["debounced"] == "<function>"


# Runs a bundle as a classic script in a fresh global scope (as a host page's <script> would) and prints the
# globals it defined besides `System`; then where the source map sends a given text of the bundle.
GLOBALS_AND_MAP = r"""
import fs from 'node:fs';
import vm from 'node:vm';
import { SourceMap } from 'node:module';
const [file, text] = process.argv.slice(2);
const code = fs.readFileSync(file, 'utf8');
const scope = { System: { register() {} } };
vm.runInNewContext(code, scope);
const at = code.indexOf(text);
const lines = code.slice(0, at).split('\n');
const map = new SourceMap(JSON.parse(fs.readFileSync(file + '.map', 'utf8')));
console.log(JSON.stringify({ globals: Object.keys(scope).filter((name) => name !== 'System'),
  entry: map.findEntry(lines.length - 1, lines.at(-1).length) }));
"""


def test_build_minifier_helpers_stay_inside_the_system_register_factory(app: App, build: Callable[[str], Build],
                                                                        node: str) -> None:
    out = build("helpers")
    assert HELPER_TEXT[app.stack] in out.code, "the minifier emitted no helper: the test proves nothing"
    assert out.code.startswith("System.register(["), out.code[:300]

    script = app.root / ".plugindev-globals-and-map.mjs"
    script.write_text(GLOBALS_AND_MAP)
    result = run_in_group([node, str(script), str(out.bundle), HELPERS_MARKER], app.root, timeout=60)
    assert result.returncode == 0, result.output
    found = json.loads(result.output.splitlines()[-1])
    assert found["globals"] == [], f"the bundle defines globals: {found['globals']}"
    # the source map still points at the marker's own line (the helpers moved, the mappings with them)
    source_lines = ENTRY_HELPERS.splitlines()
    marker_line = next(i for i, line in enumerate(source_lines) if HELPERS_MARKER in line)
    entry = found["entry"]
    assert entry["originalSource"].endswith("src/entry-helpers.ts"), entry
    assert entry["originalLine"] == marker_line, (entry, source_lines[marker_line])

    # the helpers work where they are now: the module runs and its lowered code computed the right value
    run = out.run()
    assert run["failedDeps"] == {}, run
    assert run["exports"]["plugin"]["keys"] == {"useState": "<function>", "total": 3, "load": "<function>"}
