#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then run it: lint, types, tests.
# Python packages go into .venv; Node packages, Go modules and browsers are fetched by the tests'
# own fixtures into caches.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'

.venv/bin/ruff check orchestrator tests bench
.venv/bin/mypy
exec .venv/bin/pytest "$@"
