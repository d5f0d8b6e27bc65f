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
exec .venv/bin/pytest "$@"
