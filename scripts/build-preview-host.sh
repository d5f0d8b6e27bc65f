#!/usr/bin/env bash
# Rebuild the preview host bundle (web/preview/host/) from preview_host/: run it after changing
# preview_host/src, or the host's shared list or versions (shims/default-manifest.yaml; then update
# preview_host/package.json to the same versions, which build.mjs checks).
#
# The bundle is committed rather than built by a hatch hook at install time: `pip install .` and CI then need
# neither Node nor the npm registry for it, a wheel carries exactly the reviewed bytes, and it changes only when
# the host's versions do. It is reproducible: `npm ci` installs the locked tree and esbuild writes the same bytes
# for the same inputs; tests/test_preview.py rebuilds it and fails when the committed files differ.
set -euo pipefail
cd "$(dirname "$0")/../preview_host"
npm ci --no-audit --no-fund --loglevel=error
node build.mjs "${1:-../web/preview/host}"
