#!/usr/bin/env bash
# Set up plugindev in .venv and put it to work on the bundled example plugin:
# validate it, generate and link the shared-dependency shims, build its UI and its Go backend.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .

example=examples/hello-plugin
.venv/bin/plugindev validate "$example"
.venv/bin/plugindev link "$example"
(cd "$example/ui" && node_modules/.bin/vite build)
(cd "$example" && go build -o build/bin/plugin ./pkg)
echo "example ready: $example/ui/dist/assets/entry.js and $example/build/bin/plugin"
