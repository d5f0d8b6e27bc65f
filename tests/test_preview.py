"""The preview host (`/preview/<id>` of a real `plugindev serve`) in headless Chromium, Firefox and WebKit: it
loads a plugin as the IDE does in dev mode, Fast Refresh keeps state on a UI edit, a Go reload re-mounts only the
plugin's subtree, a failed Go build shows an overlay until the next good build, and the unpublished @omniviewdev
packages have working stand-ins. The committed bundle is rebuilt from its sources and must be byte-identical."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
from pathlib import Path

import pytest
from api_support import ApiClient
from browser_driver import ENGINES, Browser
from conftest import plugindev
from run_support import run_env, running
from web_support import BROKEN_LINE, append_go_line, open_page

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parent.parent
START = 400.0
READY = "() => window.__preview?.ready || window.__preview?.error || window.__preview?.refused"
SHARED = 63  # the host's shared specifiers, all on window.__OMNIVIEW_SHARED__ before the plugin is imported
COUNTER = "() => document.querySelector('[data-testid=counter]')?.textContent"


def _scaffold(tmp_path: Path, template: str = "full") -> Path:
    plugin = tmp_path / "hello-plugin"
    result = plugindev("scaffold", str(plugin), "--id", "hello-plugin", "--name", "Hello", "--template", template)
    assert result.returncode == 0, result.stderr
    return plugin


def _open_preview(browser: Browser, api: ApiClient) -> None:
    api.wait_state("hello-plugin", lambda s: bool(s["viteURL"]), START, "Vite ready")
    open_page(browser, api, "/preview/hello-plugin")
    assert browser.wait(READY, timeout=120) is True, browser.evaluate("() => window.__preview")
    trace = browser.evaluate("() => window.__previewTrace")
    assert trace["hookBeforeReactDom"] is True and trace["failed"] == [], trace
    # as the IDE: every shared module is on the window before the plugin's entry is imported
    assert trace["steps"].index("shared filled") < trace["steps"].index("import entry"), trace
    assert browser.evaluate("() => Object.keys(window.__OMNIVIEW_SHARED__).length") == SHARED


def _mount() -> str:
    return "() => Number(document.querySelector('[data-testid=preview-mount]').dataset.mount)"


@pytest.mark.parametrize("engine", ENGINES)
def test_preview_keeps_state_on_ui_edits_and_remounts_on_go_reloads(tmp_path: Path, engine: str) -> None:
    plugin = _scaffold(tmp_path)
    page_file = plugin / "ui" / "src" / "pages" / "HomePage.tsx"
    main_go = plugin / "pkg" / "main.go"
    state_root = tmp_path / "state"
    with running([], run_env(state_root), command="serve"), Browser(engine) as browser:
        api = ApiClient.wait_for(state_root)
        api.call("POST", "/api/plugins", {"path": str(plugin)})
        first = api.wait_state("hello-plugin", lambda s: s["goStatus"] == "ready" and s["pid"] > 0, START, "Go")
        _open_preview(browser, api)
        assert browser.evaluate("() => document.querySelector('[data-testid=title]').textContent") == "Hello"
        for _ in range(3):
            browser.click("[data-testid=counter]")
        assert browser.wait(f"() => ({COUNTER})() === 'Clicked 3 times'")
        browser.evaluate("() => { window.__noReload = true; }")

        # a UI edit: Fast Refresh, the count stays
        page_file.write_text(page_file.read_text().replace("Edit ui/src/pages/HomePage.tsx", "Edited once"))
        browser.wait("() => document.querySelector('[data-testid=hint]').textContent.startsWith('Edited once')")
        assert browser.evaluate(COUNTER) == "Clicked 3 times" and browser.evaluate(_mount()) == 1

        # a Go save: a new process, the plugin's subtree re-mounted (its state new), the page not reloaded
        main_go.write_text(main_go.read_text() + "\n// saved\n")
        assert browser.wait(f"() => ({_mount()})() === 2", timeout=120)
        assert browser.wait(f"() => ({COUNTER})() === 'Clicked 0 times'")
        assert browser.evaluate("() => window.__noReload") is True
        assert api.get("/api/plugins/hello-plugin")["pid"] != first["pid"]

        # a broken Go save: the overlay with the file and line; the next good build takes it away
        line = append_go_line(main_go, BROKEN_LINE)
        overlay = browser.wait("() => document.querySelector('[data-testid=build-overlay]')?.innerText", timeout=120)
        assert f"{main_go.resolve()}:{line}:" in overlay, overlay
        main_go.write_text(main_go.read_text().replace("func broken() {\n" + BROKEN_LINE + "}\n", ""))
        browser.wait("() => !document.querySelector('[data-testid=build-overlay]')", timeout=120)
        # the overlay goes with the good build; the re-mount comes once its new process serves
        assert browser.wait(f"() => ({_mount()})() === 3", timeout=60)
        assert browser.evaluate("() => window.__noReload") is True
        errors = [m for m in browser.messages() if m.startswith(("pageerror", "error"))]
        assert errors == []


STAND_IN_PAGE = """import { useState } from 'react';
import Box from '@mui/material/Box';
import { Button } from '@omniviewdev/ui/buttons';
import { Card } from '@omniviewdev/ui';
import { usePluginContext, useResources } from '@omniviewdev/runtime';

export default function HomePage() {
  const [count, setCount] = useState(0);
  const { pluginId } = usePluginContext();
  const { data, isLoading } = useResources({ pluginID: pluginId, connectionID: 'c', resourceKey: 'core::v1::Pod' });
  return (
    <Card title="Pods">
      <p data-testid="context">plugin {pluginId}</p>
      <p data-testid="resources">{isLoading ? 'loading' : `${data.length} resources`}</p>
      <Box data-testid="mui-box" sx={{ p: 1 }}>from the host's MUI</Box>
      <Button><span data-testid="counter" onClick={() => setCount((n) => n + 1)}>Clicked {count} times</span></Button>
    </Card>
  );
}
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_preview_renders_host_components_and_hooks_through_stand_ins(tmp_path: Path, engine: str) -> None:
    plugin = _scaffold(tmp_path, "ui")
    (plugin / "ui" / "src" / "pages" / "HomePage.tsx").write_text(STAND_IN_PAGE)
    state_root = tmp_path / "state"
    with running([], run_env(state_root), command="serve"), Browser(engine) as browser:
        api = ApiClient.wait_for(state_root)
        api.call("POST", "/api/plugins", {"path": str(plugin)})
        _open_preview(browser, api)
        frames = browser.wait("() => [...document.querySelectorAll('[data-stand-in]')].map((e) => e.dataset.standIn)")
        assert frames == ["@omniviewdev/ui#Card", "@omniviewdev/ui/buttons#Button"]
        assert browser.evaluate("() => document.querySelector('[data-stand-in]').innerText").startswith(
            "Card · stand-in: Pods")
        assert browser.evaluate("() => document.querySelector('[data-testid=context]').textContent") == \
            "plugin hello-plugin"
        assert browser.evaluate("() => document.querySelector('[data-testid=resources]').textContent") == \
            "0 resources"
        browser.click("[data-testid=counter]")
        browser.click("[data-testid=counter]")  # a re-render calls the hook again: it says so once only
        assert browser.wait(f"() => ({COUNTER})() === 'Clicked 2 times'")
        assert browser.evaluate("() => document.querySelector('[data-testid=mui-box]').className").startswith("Mui")
        assert browser.evaluate("() => typeof window.__OMNIVIEW_SHARED__['monaco-editor']") == "object"
        said = [m for m in browser.messages() if "stand-in" in m]
        assert said == ["warning: [plugindev preview] useResources from @omniviewdev/runtime is a stand-in: it "
                        "returns empty data"]


def test_the_committed_preview_bundle_is_what_its_sources_build(tmp_path: Path) -> None:
    """scripts/build-preview-host.sh is reproducible: npm ci from the lockfile, then esbuild, same bytes."""
    work = tmp_path / "repo"
    shutil.copytree(REPO / "preview_host", work / "preview_host", ignore=shutil.ignore_patterns("node_modules"))
    shutil.copytree(REPO / "shims", work / "shims")
    (work / "scripts").mkdir()
    shutil.copy2(REPO / "scripts" / "build-preview-host.sh", work / "scripts")
    out = tmp_path / "host"
    result = subprocess.run(["bash", str(work / "scripts" / "build-preview-host.sh"), str(out)],
                            capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    committed = REPO / "web" / "preview" / "host"
    built = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert built == sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())
    _match, mismatch, errors = filecmp.cmpfiles(out, committed, [str(p) for p in built], shallow=False)
    assert mismatch == [] and errors == [], "run scripts/build-preview-host.sh and commit web/preview/host"
