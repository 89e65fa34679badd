#!/usr/bin/env bash
# The crash soak (not part of CI): the kill -9 trial of tests/e2e/serve_crash, run many times in a
# row against one server. Each trial starts a canary of the two-instance demo service behind the
# router, kills `runway serve` with SIGKILL at a random moment of it, starts it again and checks
# the invariants: the deployment ends Succeeded, each step started once, one "succeeded" event,
# the processes running are exactly the instances the server reports, two of the new version.
# A load generator sends requests through the router the whole time; at the end the audit chain
# must verify and no instance may be left.
#   scripts/soak.sh [TRIALS] [SEED] [SECONDS]   default 1000 trials, a random seed (printed), no
#                                               time limit; with SECONDS, no trial starts after it
# Prints: trials, requests through the router, failed requests, invariant violations. The whole
# run's output is in build/test-logs/soak.log. About 3 s per trial on the 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
trials=${1:-1000}
seed=${2:-$RANDOM}
budget=${3:-0}
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
scripts/install-deps.sh
cmake --preset ci >/dev/null
cmake --build --preset ci -j"$(nproc)" --target serve_crash_test runway runway-demo-app
mkdir -p build/test-logs
log=build/test-logs/soak.log
echo "soak: $trials trials, seed $seed (log: $log)"
start=$(date +%s)
status=0
RUNWAY_SOAK_LANES=1 RUNWAY_SOAK_TRIALS=$trials RUNWAY_SOAK_SEED=$seed RUNWAY_SOAK_SECONDS=$budget \
  build/ci/tests/e2e/serve_crash/serve_crash_test \
  --gtest_filter=ServeCrashTest.KillNineDuringCanariesLosesAndRepeatsNothing >"$log" 2>&1 || status=$?
grep -E 'Failure|^ *(Expected|Value|Which)|deployment .* ended|started .* times|processes' "$log" | head -40 || true
if ! grep -E '^soak: ' "$log"; then
  last=$(grep -E '^trial [0-9]+: ' "$log" | tail -1 || true)
  echo "soak: the run stopped before its end, after ${last:-no trial} (see $log)" >&2
  ((status != 0)) || status=1
fi
echo "soak: $(($(date +%s) - start)) s"
exit "$status"
