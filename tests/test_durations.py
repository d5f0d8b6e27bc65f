"""Durations are printed one way everywhere: seconds to three significant digits (`1.26 s`, never `1261 ms` beside
`62.2 s`), by the one helper in the terminal, and by its twin in the dashboard."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from conftest import REPO

from orchestrator.common.durations import seconds_text

CASES = {0.00412: "0.00412 s", 0.0421: "0.0421 s", 0.5: "0.5 s", 0.731: "0.731 s", 1.0: "1 s", 1.261: "1.26 s",
         9.996: "10 s", 30.0: "30 s", 62.2: "62.2 s", 99.96: "100 s", 132.4: "132 s", 1500.0: "1500 s"}
# a number formatted into a string and followed by a unit: `{x:.1f} s`, `{delay:g} s`, `{ns / 1e6:.0f} ms`
_OWN_FORMAT = re.compile(r"\{[^{}]*:[^{}]*[fgd]\}\s?m?s\b|\{[^{}]*(?:1e6|1e3|1000)[^{}]*\}\s?m?s\b")


@pytest.mark.parametrize(("seconds", "text"), CASES.items())
def test_a_duration_is_seconds_to_three_significant_digits(seconds: float, text: str) -> None:
    assert seconds_text(seconds) == text


def test_no_module_formats_a_duration_its_own_way() -> None:
    found = [f"{path.relative_to(REPO)}:{number}: {line.strip()}"
             for path in sorted((REPO / "orchestrator").rglob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), 1) if _OWN_FORMAT.search(line)]
    assert found == [], "use orchestrator.common.durations.seconds_text"


def test_the_dashboard_prints_a_duration_as_the_terminal_does(node: str) -> None:
    source = (REPO / "web/dashboard/app.js").read_text()
    function = re.search(r"^function duration\(ns\) \{\n.*?^\}", source, re.S | re.M)
    assert function is not None, "web/dashboard/app.js has no duration(ns)"
    script = f"{function[0]}\nconsole.log(JSON.stringify({json.dumps(list(CASES))}.map((s) => duration(s * 1e9))))"
    shown = json.loads(subprocess.run([node, "-e", script], capture_output=True, text=True, check=True).stdout)
    assert shown == list(CASES.values())
