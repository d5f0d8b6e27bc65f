"""How plugindev prints a duration, everywhere: in seconds, to three significant digits.

One unit on every line (`built in 0.731 s`, `ready in 1.26 s`, `go 62.2 s`), so that durations printed side by
side compare at a glance, which `1261 ms` beside `62.2 s` did not.
"""

from __future__ import annotations

import math


def seconds_text(seconds: float) -> str:
    """`0.00412 s`, `0.731 s`, `1.26 s`, `62.2 s`, `132 s`, `1500 s`; no trailing zeros (`0.5 s`, `30 s`)."""
    decimals = max(0, 2 - math.floor(math.log10(seconds))) if seconds > 0 else 0
    text = f"{seconds:.{decimals}f}"
    return f"{text.rstrip('0').rstrip('.') if '.' in text else text} s"
