"""An existing plugin written against the original @omniviewdev/vite-plugin, pinned to Vite 5, works after
`plugindev link` without any edit to its files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import plugindev
from vite_support import ViteProcesses, app_package_json, module_imports

pytestmark = pytest.mark.integration

VITE_CONFIG = (Path(__file__).resolve().parent / "fixtures" / "uis" / "vite.config.ts").read_text()

FILES = {
    "plugin.yaml": "id: legacy-plugin\nversion: 1.4.0\nname: Legacy\ncapabilities: [ui]\n",
    "ui/vite.config.ts": VITE_CONFIG,
    "ui/src/entry.ts": "import { PluginWindow } from '@omniviewdev/runtime';\nimport Root from './Root';\n\n"
                       "export const plugin = new PluginWindow().setRootPage(Root);\n",
    "ui/src/Root.tsx": "import { useState } from 'react';\n\nexport default function Root() {\n"
                       "  const [n, setN] = useState(0);\n"
                       "  return <button onClick={() => setN(n + 1)}>{n}</button>;\n}\n",
}


def test_vite5_plugin_serves_shim_urls_after_link(tmp_path: Path, vite_processes: ViteProcesses) -> None:
    plugin = tmp_path / "legacy-plugin"
    package = app_package_json("vite5", "legacy-plugin-ui")
    for rel, text in {**FILES, "ui/package.json": json.dumps(package, indent=2) + "\n"}.items():
        (plugin / rel).parent.mkdir(parents=True, exist_ok=True)
        (plugin / rel).write_text(text)
    before = {rel: (plugin / rel).read_bytes() for rel in [*FILES, "ui/package.json"]}

    link = plugindev("link", str(plugin))
    assert link.returncode == 0, link.stderr
    assert {rel: (plugin / rel).read_bytes() for rel in before} == before  # no edit to the plugin's files

    server = vite_processes.start(plugin / "ui")
    entry = server.get("/src/entry.ts")
    assert entry.status == 200
    shim_dir = "/.plugindev/vite-plugin/shims/"
    runtime = [u for u in module_imports(entry.text) if u.endswith(shim_dir + "_omniviewdev__runtime.mjs")]
    assert runtime, entry.text
    root = server.get("/src/Root.tsx")
    imports = module_imports(root.text)
    assert any(u.endswith(shim_dir + "react.mjs") for u in imports), root.text
    assert any(u.endswith(shim_dir + "react__jsx-dev-runtime.mjs") for u in imports), root.text
    shim = server.get(runtime[0])
    assert shim.status == 200 and "__OMNIVIEW_SHARED__" in shim.text
    assert "vite v5." in server.log().lower() or "vite v5" in server.log()
