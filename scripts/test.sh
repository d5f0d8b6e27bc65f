#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then run it: lint, types, tests.
# Python packages go into .venv; Debian's browsers are installed for the browser tests when missing;
# npm packages and Go modules are fetched by the tests' own fixtures into caches.
set -euo pipefail
cd "$(dirname "$0")/.."

# the page tests run in Chromium, Firefox and WebKit (WebKitGTK's WebDriver, under Xvfb): Debian's packages
browsers=()
command -v chromium >/dev/null 2>&1 || browsers+=(chromium)
command -v firefox-esr >/dev/null 2>&1 || command -v firefox >/dev/null 2>&1 || browsers+=(firefox-esr)
command -v WebKitWebDriver >/dev/null 2>&1 || browsers+=(webkit2gtk-driver)
command -v Xvfb >/dev/null 2>&1 || browsers+=(xvfb)
if [ ${#browsers[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${browsers[@]}" >/dev/null
  else
    echo "scripts/test.sh: the browser tests need Debian's ${browsers[*]}: install them" >&2
  fi
fi

source scripts/sdk-proxy.sh

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'

.venv/bin/ruff check orchestrator tests bench
.venv/bin/mypy

# The full run (no arguments, as CI) also runs every bench once, with one round and small sizes, so that none
# breaks unseen; their numbers mean little here. Before the tests: the run ends with pytest's summary line. Each
# is bounded in time; one that fails or hangs fails the run, its output shown.
if [ $# -eq 0 ]; then
  bench_log=$(mktemp)
  for bench in bench/[!_]*.py; do
    case "$bench" in
      bench/many_plugins.py) extra=(--plugins 4) ;;
      bench/startup.py) extra=(--no-cold) ;;  # a cold start compiles the whole SDK: minutes
      *) extra=() ;;
    esac
    started=$SECONDS
    if ! timeout -k 10 300 .venv/bin/python "$bench" --rounds 1 "${extra[@]}" >"$bench_log" 2>&1; then
      tail -n 40 "$bench_log" >&2
      rm -f "$bench_log"
      echo "scripts/test.sh: $bench --rounds 1 ${extra[*]} failed (its output above)" >&2
      exit 1
    fi
    echo "$bench: ran in $((SECONDS - started)) s"
  done
  rm -f "$bench_log"
fi

# Two workers: most tests wait on real processes (Go builds, Vite, browsers), so two share the cores well. Tests
# that hold something of the machine (a port range, a cache folder) take turns through locks, not through order.
exec .venv/bin/pytest -n 2 --dist worksteal --durations=20 "$@"
