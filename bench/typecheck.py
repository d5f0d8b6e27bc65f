"""Time a broken `.tsx` save → its type error in the terminal (`plugindev run`, the lines an author reads).

Scaffolds a UI plugin, runs `plugindev run` on it (no --json: its terminal lines, timed as they arrive), waits for
the first type check, then ROUNDS times: adds a type error to the page (timed: the save → its `[error] …: TS2322`
line) and removes it again (until "type errors fixed"). Prints the median and p95 in ms.

    python bench/typecheck.py [--rounds N]
"""

from __future__ import annotations

import time

from _bench import arguments, bench_dir, median, pct, scaffold_plugin  # also puts tests/ on sys.path
from run_support import run_env
from terminal_support import terminal_run

ROUNDS = 5
PLUGIN_ID = "typed"
START = 300.0  # s: a first start installs the UI's dependencies
CHECK = 60.0  # s: one type check, at most
TYPE_ERROR = "const wrong: string = 42;\n"


def main() -> None:
    rounds = arguments(ROUNDS, "broken saves timed").rounds
    with bench_dir("plugindev-bench-typecheck-") as work:
        plugin = scaffold_plugin(work, "ui", PLUGIN_ID)
        page = plugin / "ui" / "src" / "pages" / "HomePage.tsx"
        good = page.read_text()
        broken = good.replace("export default function", TYPE_ERROR + "export default function", 1)
        times: list[float] = []
        with terminal_run([str(plugin)], run_env(work / "state")) as run:
            run.wait_line(lambda text: text.startswith("[tsc] no type errors"), START, "the first type check")
            for round_ in range(rounds):
                after = len(run.texts())
                saved = time.monotonic()
                page.write_text(broken)
                _index, seen = run.wait_line(lambda text: text.startswith("[error] ") and "TS2322" in text, CHECK,
                                             f"the type error of save {round_ + 1}", after=after)
                times.append((seen - saved) * 1000)
                after = len(run.texts())
                page.write_text(good)
                run.wait_line(lambda text: text == "[tsc] type errors fixed", CHECK, "the fix", after=after)
    print(f"{rounds} broken .tsx saves on a scaffolded UI plugin (tsc --watch beside Vite)")
    print(f"{'save -> type error in the terminal':36} {'median ms':>10} {'p95 ms':>8}")
    print(f"{'':36} {median(times):10.0f} {pct(times, 95):8.0f}")


if __name__ == "__main__":
    main()
