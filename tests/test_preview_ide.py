"""Plugins in the shapes real ones have, in the preview (`/preview/<id>` of a real `plugindev serve`, headless
Chromium), show what the IDE would show (SPEC §6b): every shared module on the window before the entry is
imported (so chunks Vite pre-bundled from non-shared MUI subpaths find @emotion/styled), routes mounted under
/_plugin/<id>/ in a router, PluginContext {pluginId, meta, settings}, no route for a setRootPage-only plugin (with
the reason and the fix), and the IDE's refusal, word for word, of exports it would not load."""

from __future__ import annotations

import shutil
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from api_support import ApiClient
from browser_driver import Browser
from run_support import run_env, running, wait_until
from web_support import open_page

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parent / "fixtures"
LEGACY_VITE_CONFIG = FIXTURES / "uis" / "vite.config.ts"  # an existing plugin's vite.config.ts
READY = "() => window.__preview?.ready || window.__preview?.error || window.__preview?.refused"
SHARED = 63


def text(testid: str) -> str:
    return f"() => document.querySelector('[data-testid={testid}]')?.textContent"


def _fixture(name: str, tmp_path: Path, folder: str = "previews", plugin_id: str = "") -> Path:
    """A copy of a fixture plugin in a folder named by its id, with an existing plugin's vite.config.ts."""
    plugin = tmp_path / (plugin_id or name)
    shutil.copytree(FIXTURES / folder / name, plugin)
    shutil.copy(LEGACY_VITE_CONFIG, plugin / "ui" / "vite.config.ts")
    return plugin


def _served_entry(api: ApiClient, plugin_id: str) -> bytes:
    with urllib.request.urlopen(api.get(f"/api/plugins/{plugin_id}")["viteURL"] + "/src/entry.ts", timeout=30) as got:
        return bytes(got.read())


def _entry_reloads(api: ApiClient, plugin_id: str) -> int:
    """The page reloads Vite said for the entry (`(client) page reload src/entry.ts`)."""
    return sum("page reload" in entry["message"] and "entry.ts" in entry["message"]
               for entry in api.get(f"/api/plugins/{plugin_id}/logs?count=0"))


def _edit_entry(browser: Browser, api: ApiClient, plugin_id: str, entry: Path, source: str) -> None:
    """Write the plugin's entry with no page of it open, and wait until Vite has sent its page reload and serves
    the new entry. Late on a busy machine, that reload would land on the page opened next."""
    browser.goto("about:blank")
    before, reloads = _served_entry(api, plugin_id), _entry_reloads(api, plugin_id)
    entry.write_text(source)
    wait_until(lambda: _entry_reloads(api, plugin_id) > reloads and _served_entry(api, plugin_id) != before, 60,
               "Vite's page reload for the edited entry, and the entry served")


def _open(browser: Browser, api: ApiClient, plugin_id: str) -> None:
    open_page(browser, api, f"/preview/{plugin_id}")
    assert browser.wait(READY, timeout=120) is not None
    preview = browser.evaluate("() => window.__preview")
    assert preview["error"] is None, preview["error"]


@contextmanager
def previewing(tmp_path: Path, plugin: Path) -> Iterator[tuple[Browser, ApiClient]]:
    """A real `serve` with `plugin` added, its Vite ready, and a Chromium; the page is not opened yet."""
    state_root = tmp_path / "state"
    with running([], run_env(state_root), command="serve"), Browser("chromium") as browser:
        api = ApiClient.wait_for(state_root)
        api.call("POST", "/api/plugins", {"path": str(plugin)})
        api.wait_state(plugin.name, lambda s: bool(s["viteURL"]), 400, "Vite ready")
        yield browser, api


def _errors(browser: Browser) -> list[str]:
    return [m for m in browser.messages() if m.startswith(("pageerror", "error"))]


def test_a_plugin_in_the_real_shape_renders_with_routes_context_and_fast_refresh(tmp_path: Path) -> None:
    plugin = _fixture("routes-mui", tmp_path)
    item_list = plugin / "ui" / "src" / "ItemList.tsx"
    with previewing(tmp_path, plugin) as (browser, api):
        _open(browser, api, "routes-mui")
        assert browser.evaluate("() => window.__preview.ready") is True
        assert browser.evaluate("() => Object.keys(window.__OMNIVIEW_SHARED__).length") == SHARED
        # the shape the IDE has no trouble with and the old preview had: MUI subpaths that are not shared,
        # pre-bundled by Vite into chunks that read @emotion/styled from the window
        chunks = [p.read_text() for p in (plugin / "ui" / "node_modules" / ".vite" / "deps").glob("chunk-*.js")]
        assert any("__OMNIVIEW_SHARED__" in c and '"@emotion/styled"' in c for c in chunks)

        # PluginContext as the IDE fills it: meta from plugin.yaml, settings (no backend: none)
        assert browser.wait(text("plugin-title")) == "Routes And MUI (routes-mui 1.4.0)"
        assert browser.evaluate(text("settings")) == "settings: {}"
        assert browser.evaluate("() => document.querySelector('.MuiChip-root') !== null") is True
        assert browser.evaluate(text("preview-path")) == "/_plugin/routes-mui/"

        # Fast Refresh keeps state inside the router
        for _ in range(3):
            browser.click("[data-testid=counter]")
        assert browser.wait(f"() => ({text('counter')})() === 'Clicked 3 times'")
        item_list.write_text(item_list.read_text().replace("Pick an item.", "Pick one item."))
        assert browser.wait(f"() => ({text('hint')})() === 'Pick one item.'")
        assert browser.evaluate(text("counter")) == "Clicked 3 times"
        assert browser.evaluate("() => document.querySelector('[data-testid=preview-mount]').dataset.mount") == "1"

        # a relative navigate stays in the plugin's routes; an absolute one leaves them, as in the IDE
        browser.click("[data-testid=item-1]")
        assert browser.wait(text("item-page")) == "item 1"
        assert browser.wait(f"() => ({text('preview-path')})() === '/_plugin/routes-mui/items/1'")
        browser.click("[data-testid=leave]")
        outside = browser.wait(text("outside-plugin"))
        assert "navigated to /settings, outside its routes under /_plugin/routes-mui/" in outside
        assert _errors(browser) == []


def test_a_plugin_whose_icons_peer_a_newer_mui_than_the_hosts_links_and_previews(tmp_path: Path) -> None:
    """npm, no lockfile, @mui/icons-material ^7.3.0 (7.3.11 peers @mui/material ^7.3.11; the host has 7.3.8)."""
    plugin = _fixture("npm-peer-conflict", tmp_path, "uis", "peer-conflict-plugin")
    toolbar = plugin / "ui" / "src" / "Toolbar.tsx"
    with previewing(tmp_path, plugin) as (browser, api):
        _open(browser, api, "peer-conflict-plugin")
        assert browser.wait("() => document.querySelector('[data-testid=refresh-icon]')?.tagName") == "svg"
        # the icon renders with the host's MUI (the one on the window), not a second copy
        assert browser.evaluate("() => document.querySelector('[data-testid=refresh-icon]').classList"
                                ".contains('MuiSvgIcon-fontSizeSmall')") is True
        browser.click("[data-testid=counter]")
        assert browser.wait(f"() => ({text('counter')})() === 'Clicked 1 times'")
        toolbar.write_text(toolbar.read_text().replace(">refresh<", ">reload<"))
        assert browser.wait(f"() => ({text('hint')})() === 'reload'")
        assert browser.evaluate(text("counter")) == "Clicked 1 times"
        warnings = [e["message"] for e in api.get("/api/plugins/peer-conflict-plugin/logs")
                    if "wants @mui/material" in e["message"]]
        assert len(warnings) == 1 and "the host provides 7.3.8" in warnings[0], warnings
        assert _errors(browser) == []


ROUTES_ENTRY = """import { PluginWindow } from '@omniviewdev/runtime';
import RootPage from './RootPage';

export const plugin = new PluginWindow().withRoutes([{ index: true, Component: RootPage }]);
"""
# exports the IDE refuses, and its words for each
REFUSED = {
    "export const plugin = () => null;\n": "'plugin' must be an object, not a function",
    "import { PluginWindow } from '@omniviewdev/runtime';\nimport RootPage from './RootPage';\n"
    "export const plugin = new PluginWindow().setRootPage(RootPage);\n"
    "export const sidebars = { 'core::v1 Pod': RootPage };\n":
        "sidebar key 'core::v1 Pod' is malformed, expected GROUP::VERSION::KIND (no spaces allowed)",
    "export const something = 1;\n": "Missing required 'plugin' export",
}


def test_a_root_page_only_plugin_gets_no_route_and_refused_exports_get_the_ides_words(tmp_path: Path) -> None:
    plugin = _fixture("root-only", tmp_path)
    entry = plugin / "ui" / "src" / "entry.ts"
    with previewing(tmp_path, plugin) as (browser, api):
        _open(browser, api, "root-only")
        # what the IDE shows: nothing of the plugin (its routes are only the catch-all, which an empty path does
        # not reach), and the one line why
        assert browser.evaluate("() => document.querySelector('[data-testid=root-page]')") is None
        assert browser.evaluate(text("preview-mount")) == ""
        notes = browser.evaluate(text("preview-notes"))
        assert "The IDE registers no route for this plugin: it reads plugin._routes, which setRootPage leaves " \
               "empty. Register the page with .withRoutes([{ path: '', Component: YourPage }])." in notes

        _edit_entry(browser, api, "root-only", entry, ROUTES_ENTRY)  # the fix the line gives
        _open(browser, api, "root-only")
        assert browser.wait(text("root-page")) == "the root page"
        assert "no route" not in browser.evaluate(text("preview-notes"))
        browser.click("[data-testid=counter]")
        assert browser.wait(f"() => ({text('counter')})() === 'Clicked 1 times'")
        root_page = plugin / "ui" / "src" / "RootPage.tsx"
        root_page.write_text(root_page.read_text().replace("the root page", "the edited root page"))
        assert browser.wait(f"() => ({text('root-page')})() === 'the edited root page'")
        assert browser.evaluate(text("counter")) == "Clicked 1 times"  # Fast Refresh kept the state

        for source, words in REFUSED.items():
            _edit_entry(browser, api, "root-only", entry, source)
            _open(browser, api, "root-only")
            assert browser.evaluate("() => window.__preview.refused") == f'Plugin "root-only" failed to load: {words}'
            assert browser.evaluate(text("ide-refusal")).startswith("The IDE would not load this plugin")
        assert _errors(browser) == []
