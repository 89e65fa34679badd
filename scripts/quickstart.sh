#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine: install what runway needs, build it, and run it
# on the runbook example. Today that is `runway validate examples/runbook`, which checks the
# whole runbook-as-configuration (five services; development, staging and production with their
# strategies, approvals, windows and analysis) and prints what it will do.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
cmake --preset release >/dev/null
cmake --build --preset release -j"$jobs" --target runway runway-demo-app >/dev/null

echo "built: build/release/bin/runway"
echo "\$ runway validate examples/runbook"
build/release/bin/runway validate examples/runbook
