#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine: install what runway needs, build it, and run the
# quickstart: a server on examples/quickstart (a three-service shop), v1.0.0 deployed
# everywhere, v1.1.0 taken through staging (blue-green) and production (canary 10 -> 50 -> 100)
# under synthetic traffic, then v1.2.0 — a bad build — rolled back by production by itself.
# It leaves the system running; `build/release/bin/runway down --data DIR` stops it all.
#
# QUICKSTART_DATA overrides the data directory (default: a fresh one under /tmp).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
cmake --preset release >/dev/null
cmake --build --preset release -j"$jobs" --target runway runway-demo-app >/dev/null
echo "built: build/release/bin/runway"

build/release/bin/runway validate examples/quickstart >/dev/null
data="${QUICKSTART_DATA:-$(mktemp -d /tmp/runway-quickstart.XXXXXX)/data}"
echo "\$ runway quickstart --data $data"
exec build/release/bin/runway quickstart --data "$data"
