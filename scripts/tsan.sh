#!/usr/bin/env bash
# The threaded parts' tests under ThreadSanitizer (the `tsan` preset): the controller, router,
# API, HTTP client and runtime unit tests, the router and runtime integration tests and the serve
# suite (which starts real `runway serve` processes, built with TSan too). Not part of CI (it
# does not fit the warm-CI budget beside the ASan run); run it before each release and after
# changing anything that crosses threads. docs/development.md has the figures.
# Fails when a test fails or when any process, a test or one it started, reported a race: TSan
# writes each process's reports to build/tsan/reports/tsan.<pid> (TSAN_OPTIONS, the test preset).
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
jobs=$(nproc 2>/dev/null || echo 2)
scripts/install-deps.sh
cmake --preset tsan >/dev/null
cmake --build --preset tsan -j"$jobs"
reports=build/tsan/reports
rm -rf "$reports"
mkdir -p "$reports" build/test-logs
status=0
ctest --preset tsan -j"$jobs" --timeout 900 2>&1 | tee build/test-logs/ctest-tsan.log || status=$?
if compgen -G "$reports/tsan.*" >/dev/null; then
  echo "== ThreadSanitizer reports (each process's in $reports):"
  grep -h -A12 '^WARNING: ThreadSanitizer' "$reports"/tsan.* | head -150
  echo "tsan: $(cat "$reports"/tsan.* | grep -c '^WARNING: ThreadSanitizer') reports from $(ls "$reports" | wc -l) processes" >&2
  status=1
fi
((status == 0)) && echo "tsan: every test passed and no process reported a race"
exit "$status"
