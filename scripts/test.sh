#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then run it: lint, types, tests.
# Python packages go into .venv; Debian's chromium is installed for the browser test when missing;
# npm packages and Go modules are fetched by the tests' own fixtures into caches.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "scripts/test.sh: the browser test needs Chromium: install Debian's 'chromium' package" >&2
  fi
fi

source scripts/sdk-proxy.sh

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'

.venv/bin/ruff check orchestrator tests bench
.venv/bin/mypy
exec .venv/bin/pytest "$@"
