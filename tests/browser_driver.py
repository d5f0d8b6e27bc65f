"""A headless browser driven from a test, one command at a time (``tests/browser/driver.mjs`` over pipes)::

    with Browser("firefox") as browser:
        browser.goto(url)
        browser.wait("() => document.querySelector('[data-testid=card]')")
        browser.click("button[data-action=rebuild]")

Functions are JavaScript source run in the page with one argument. The engines are Chromium (Playwright),
Firefox (WebDriver BiDi through puppeteer-core) and WebKit (WebKitGTK's WebDriver under a private Xvfb), all from
the system's packages (browser_support.engine_args); the Node packages are the cached npm install of
tests/browser. The driver runs in its own process group, and everything it started is ended with it.
"""

from __future__ import annotations

import json
import subprocess
from types import TracebackType
from typing import Any

from browser_support import BROWSER_DIR, _node, browser_host, engine_args
from vite_support import _kill_group


class BrowserError(AssertionError):
    pass


ENGINES = ("chromium", "firefox", "webkit")


class Browser:
    def __init__(self, engine: str = "chromium") -> None:
        self.engine = engine
        args = {"engine": engine, **engine_args(engine), "hostDir": str(browser_host())}
        self.process = subprocess.Popen(
            [_node(), str(BROWSER_DIR / "driver.mjs"), json.dumps(args)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *_exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.close()

    def call(self, op: str, **args: Any) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            stderr = self.process.stderr.read() if self.process.stderr else ""
            raise BrowserError(f"the browser driver ended: {stderr[-2000:]}")
        answer = json.loads(line)
        if not answer["ok"]:
            raise BrowserError(f"{op} {args}: {answer['error']}")
        return answer["value"]

    def goto(self, url: str) -> str:
        return str(self.call("goto", url=url))

    def evaluate(self, fn: str, arg: Any = None) -> Any:
        return self.call("evaluate", fn=fn, arg=arg)

    def wait(self, fn: str, arg: Any = None, timeout: float = 30) -> Any:
        """The first truthy value of fn(arg), checked every frame; fails after `timeout` seconds."""
        return self.call("wait", fn=fn, arg=arg, timeout=int(timeout * 1000))

    def click(self, selector: str) -> None:
        self.call("click", selector=selector)

    def fill(self, selector: str, value: str) -> None:
        self.call("fill", selector=selector, value=value)

    def select(self, selector: str, value: str) -> None:
        self.call("select", selector=selector, value=value)

    def messages(self) -> list[str]:
        """Console errors and warnings and uncaught page errors since the last call."""
        return list(self.call("messages"))

    def close(self) -> None:
        if self.process.poll() is None and self.process.stdin is not None:
            try:
                self.process.stdin.write(json.dumps({"op": "close"}) + "\n")
                self.process.stdin.close()
                self.process.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        _kill_group(self.process, grace=2)
