"""The README's "Install" and "Your first plugin" run as written, in a fresh HOME whose ~/.omniview is the state
root, and what they say the author will see is checked against what was printed.

How the README is read:
- a ```sh block is one bash script (`set -e`), run in the folder the block before it ended in (a `cd` carries
  over, as in a terminal); Install's start in the checkout, the first plugin's in a new empty folder;
- a ```sh block that is only `plugindev run` starts it in the background: the terminal the README leaves it in;
- a ```text block after a block is what that block printed: a command's own output, and the running
  `plugindev run`'s lines since the block started (an edit shows there). Each of its lines must be printed,
  with `…` standing for any text and each number for any number; a line that is only `…` says more lines
  come. A ```text block that starts with `^C` is Ctrl+C: SIGINT to the run, which ends with exit code 0.

After the run is ready, its `preview of <id>:` URL is opened as a browser would (the README's "Open the
preview"). Go and npm reuse the user's caches, so the walkthrough takes well under a minute once they are warm.
"""

from __future__ import annotations

import http.cookiejar
import re
import signal
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from install_support import author_env
from install_support import pipx as pipx

REPO = Path(__file__).resolve().parent.parent
SECTIONS = ("Install", "Your first plugin")
FIRST_RUN = 300.0  # a cold machine downloads and compiles the plugin SDK (62-132 s seen)
LATER = 60.0


@dataclass(frozen=True)
class Block:
    language: str
    text: str


def readme_blocks(section: str) -> list[Block]:
    """The fenced blocks of a `## section` of the README, in order."""
    blocks: list[Block] = []
    inside = False
    fence: tuple[str, list[str]] | None = None
    for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines():
        if fence is not None:
            if line == "```":
                blocks.append(Block(fence[0], "\n".join(fence[1])))
                fence = None
            else:
                fence[1].append(line)
        elif line.startswith("## "):
            inside = line == f"## {section}"
        elif inside and line.startswith("```"):
            fence = (line.removeprefix("```"), [])
    return blocks


def line_pattern(sample: str) -> re.Pattern[str]:
    """A line of a ```text block as a pattern: `…` any text, a number any number, the rest as it is."""
    parts = re.split(r"(…|\d+(?:\.\d+)*)", sample)
    return re.compile("".join(".*" if part == "…" else r"\d+(?:\.\d+)*" if part[:1].isdigit() else re.escape(part)
                              for part in parts))


def missing_lines(sample: list[str], printed: list[str]) -> list[str]:
    return [line for line in sample if line != "…"
            and not any(line_pattern(line).fullmatch(out) for out in printed)]


@dataclass
class Terminal:
    """The author's terminals: commands run one after another in `folder`, and the `plugindev run` left running."""

    folder: Path
    env: dict[str, str]
    scratch: Path  # where a script leaves the folder it ended in
    run: subprocess.Popen[str] | None = None
    run_lines: list[str] = field(default_factory=list)
    _reader: threading.Thread | None = None
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def script(self, text: str) -> list[str]:
        """A block as one bash script; its output lines. The folder it ends in is the next block's."""
        where = self.scratch / "cwd"
        result = subprocess.run(["bash", "-c", f"set -e\n{text}\npwd > {where}"], cwd=self.folder, env=self.env,
                                capture_output=True, text=True, timeout=600, check=False)
        assert result.returncode == 0, f"README command failed ({result.returncode}):\n{text}\n" \
                                       f"{result.stdout}{result.stderr}"
        self.folder = Path(where.read_text().strip())
        return (result.stdout + result.stderr).splitlines()

    def start(self, command: str) -> None:
        self.run = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=self.folder, env=self.env,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.run is not None and self.run.stdout is not None
        for line in self.run.stdout:
            with self._changed:
                self.run_lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def expect(self, sample: list[str], own: list[str], since: int, timeout: float) -> None:
        """Wait until every sample line was printed: by the block itself or by the run since the block began."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while missing := missing_lines(sample, own + self.run_lines[since:]):
                left = deadline - time.monotonic()
                if left <= 0 or self._reader is None or not self._reader.is_alive():  # no more is to come
                    printed = "\n".join(own + self.run_lines[since:])
                    raise AssertionError(f"the README says these lines are printed, they were not: {missing}\n"
                                         f"printed:\n{printed}")
                self._changed.wait(min(left, 1.0))

    def interrupt(self) -> int:
        """Ctrl+C: SIGINT to the run; its exit code."""
        assert self.run is not None, "the README presses Ctrl+C with no `plugindev run` running"
        self.run.send_signal(signal.SIGINT)
        return self.run.wait(60)

    def stop(self) -> None:
        if self.run is not None and self.run.poll() is None:
            self.run.send_signal(signal.SIGINT)
            try:
                self.run.wait(30)
            except subprocess.TimeoutExpired:
                self.run.kill()
                self.run.wait()


def open_like_a_browser(url: str) -> str:
    """The page a browser shows for `url` (its redirects followed, its cookies kept)."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(url, timeout=30) as answer:
        assert answer.status == 200, url
        page: str = answer.read().decode()
        return page


def walk(terminal: Terminal, blocks: list[Block]) -> None:
    """Every block of a section, in order, as the rules in this module's docstring say."""
    own: list[str] = []
    since = 0
    timeout = LATER
    for block in blocks:
        if block.language == "sh":
            since = len(terminal.run_lines)
            if re.fullmatch(r"plugindev run\b[^\n]*", block.text):
                terminal.start(block.text)
                own, timeout = [], FIRST_RUN
            else:
                own, timeout = terminal.script(block.text), LATER
        elif block.language == "text":
            sample = block.text.splitlines()
            if sample[:1] == ["^C"]:
                since, own = len(terminal.run_lines), []
                assert terminal.interrupt() == 0
                sample = sample[1:]
            terminal.expect(sample, own, since, timeout)
            if timeout == FIRST_RUN:
                open_preview(terminal.run_lines[since:])
        else:
            pytest.fail(f"a README block of language {block.language!r} in {SECTIONS}: use sh or text")


def open_preview(printed: list[str]) -> None:
    """The README's "Open the preview": the URL `plugindev run` printed answers with the plugin's preview page."""
    found = [match for line in printed if (match := re.search(r"\] preview of ([\w.-]+): (\S+)$", line))]
    assert found, f"no `preview of <id>:` line was printed: {printed}"
    plugin_id, url = found[0].groups()
    page = open_like_a_browser(url)
    assert plugin_id in page and "<html" in page.lower()


@pytest.mark.integration
def test_readme_install_and_first_plugin_run_as_written(tmp_path: Path, pipx: Path) -> None:
    env = author_env(tmp_path, pipx)
    install, first_plugin = (readme_blocks(section) for section in SECTIONS)
    assert [b.language for b in install][:1] == ["sh"] and "plugindev run" in {b.text for b in first_plugin}

    walk(Terminal(REPO, env, tmp_path), install)
    installed = Path(env["PIPX_BIN_DIR"]) / "plugindev"
    assert installed.is_file(), "the README's install did not put plugindev where pipx puts commands"

    work = tmp_path / "work"
    work.mkdir()
    author = Terminal(work, env, tmp_path)
    try:
        walk(author, first_plugin)
    finally:
        author.stop()
    assert author.run is not None and author.run.returncode == 0
    plugin = work / "my-plugin"
    assert (Path(env["HOME"]) / ".omniview" / "plugins" / "my-plugin" / "bin" / "plugin").is_file()
    # the plugin's own git sees its sources, and nothing that the run and the builds wrote
    subprocess.run(["git", "init", "-q"], cwd=plugin, check=True)
    untracked = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=plugin, env=env,
                               capture_output=True, text=True, check=True).stdout.splitlines()
    assert "?? pkg/hello.go" in untracked
    assert not [line for line in untracked if line[3:].startswith(("build/", "dist/", "ui/node_modules/",
                                                                    "ui/.plugindev/", "ui/dist/"))], untracked
