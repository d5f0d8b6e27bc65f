"""What the dashboard and preview tests (and bench/dashboard.py) share: a Go save that fails, and a page of a
running plugindev opened in Chromium with the token, as the printed URL does."""

from __future__ import annotations

from pathlib import Path

from api_support import ApiClient
from browser_driver import Browser

BROKEN_LINE = "\tthis is not Go\n"


def append_go_line(main_go: Path, line: str) -> int:
    """Append `line` after the package clause of a Go file; its 1-based line number."""
    lines = main_go.read_text().splitlines(keepends=True)
    at = next(i for i, text in enumerate(lines) if text.startswith("package ")) + 1
    lines.insert(at, "func broken() {\n" + line + "}\n")
    main_go.write_text("".join(lines))
    return at + 2


def open_page(browser: Browser, api: ApiClient, path: str = "/") -> None:
    """Open `path` with `?token=` once, as plugindev's printed URL does; the cookie does the rest."""
    browser.goto(f"{api.url}{path}?token={api.token}")


CHIP_RECORDER = """() => {
  window.__chips = [];
  const seen = new Map();
  const record = () => {
    for (const card of document.querySelectorAll('[data-testid=card]')) {
      const status = card.dataset.status, id = card.dataset.plugin;
      if (seen.get(id) !== status) { seen.set(id, status); window.__chips.push([id, status, Date.now()]); }
    }
  };
  new MutationObserver(record).observe(document.body, { subtree: true, attributes: true, childList: true });
  record();
  return true;
}"""
"""Records every status a card shows, with the wall-clock time it showed it (window.__chips: [id, status, ms])."""
