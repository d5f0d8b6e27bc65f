"""The generated vite-plugin in real Vite dev servers (Vite 5 and 8): a saved module is transformed at once, so its
error is in Vite's output without a browser; a browser that then asks for it (with the timestamp of an HMR update,
or anew) does not make Vite print it again; the next save's error is printed in its turn."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from vite_support import ViteProcesses, ViteServer, app_package_json, make_app

pytestmark = pytest.mark.integration

CONFIG = """\
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { omniviewExternals } from '@omniviewdev/vite-plugin';

export default defineConfig({ plugins: [react(), omniviewExternals()], server: { host: '127.0.0.1' } });
"""
ENTRY = "import { Page } from './Page';\n\nexport const plugin = { Page };\n"
PAGE = "export function Page() {\n  return <h1>hello</h1>;\n}\n"
FILES = {"vite.config.ts": CONFIG, "src/entry.ts": ENTRY, "src/Page.tsx": PAGE}
WAIT = 60.0


def _headers(server: ViteServer) -> int:
    """Vite's error messages so far: each starts with one of these."""
    return sum(1 for line in list(server.output) if "Pre-transform error" in line or "Internal server error" in line)


def _until(predicate: Callable[[], bool], what: str, server: ViteServer) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{server.log()[-3000:]}"
        time.sleep(0.02)


@pytest.mark.parametrize("stack", ["vite5", "vite8"])
def test_a_saved_modules_error_is_printed_once_without_a_browser(stack: str, tmp_path: Path,
                                                                 generated_vite_plugin: Path) -> None:
    root = make_app(tmp_path / "app", FILES, package_json=app_package_json(stack), vite_plugin=generated_vite_plugin)
    with ViteProcesses() as servers:
        server = servers.start(root)
        for module in ("/src/entry.ts", "/src/Page.tsx"):  # as the IDE's import: both in Vite's module graph
            assert server.get(module).status == 200
        assert _headers(server) == 0

        (root / "src" / "Page.tsx").write_text(PAGE.replace("</h1>", "</h2>"))
        _until(lambda: _headers(server) == 1, "the broken save's error, no browser asking", server)

        # a browser asks: the HMR update's import (Vite strips its timestamp), then a reload's
        assert server.get(f"/src/Page.tsx?t={int(time.time() * 1000)}").status == 500
        assert server.get("/src/Page.tsx").status == 500
        # the next save (of another module: Vite's watcher drops a second change of one file within 50 ms) is said
        (root / "src" / "entry.ts").write_text(ENTRY + "export const broken = 'x;\n")
        _until(lambda: _headers(server) >= 2, "the next save's error", server)
        log = server.log()
        assert _headers(server) == 2 and "Page.tsx" in log and "entry.ts" in log[log.rindex("error"):], log
