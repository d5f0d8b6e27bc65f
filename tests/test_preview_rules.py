"""The preview's copy of the IDE's rules for a plugin module (preview_host/src/ide.js: export checks, route
registration, nesting under /_plugin/<id>/, the import timeout, the IDE's words), unit-tested in Node on every
rule SPEC §6b lists, each accepted and each refused case (preview_host/test/ide.test.mjs)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "preview_host" / "test" / "ide.test.mjs"


def test_the_preview_accepts_and_refuses_what_the_ide_does() -> None:
    node = shutil.which("node")
    assert node is not None, "the preview's rules are tested with Node.js 20+ on PATH"
    result = subprocess.run([node, "--test", str(TESTS)], capture_output=True, text=True, timeout=120,
                            stdin=subprocess.DEVNULL, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    passed = re.search(r"^# pass (\d+)$", result.stdout, re.MULTILINE)
    assert passed is not None and int(passed.group(1)) >= 10, result.stdout[-2000:]
