#!/usr/bin/env bash
# Set up plugindev in .venv and run the dev loop on the bundled example plugin: Vite with HMR for its UI,
# watch -> go build -> restart for its Go backend, .devinfo for the IDE. Ctrl+C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/sdk-proxy.sh

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .

exec .venv/bin/plugindev run examples/hello-plugin "$@"
