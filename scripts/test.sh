#!/usr/bin/env bash
# Builds runway and runs every test: the whole suite in the `ci` preset (-Werror), then the unit
# tests again under AddressSanitizer + UndefinedBehaviorSanitizer (`asan` preset).
# Works as root on a fresh Debian 12 machine: it installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
# Let ccache share results between clones in different directories (CI builds a fresh clone).
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
jobs=$(nproc 2>/dev/null || echo 2)

echo "== build (ci preset: RelWithDebInfo, -Werror)"
cmake --preset ci >/dev/null
cmake --build --preset ci -j"$jobs"

echo "== tests (unit, integration, e2e)"
ctest --preset ci -j"$jobs" --timeout 600

echo "== build (asan preset: AddressSanitizer + UBSan, -Werror)"
cmake --preset asan >/dev/null
cmake --build --preset asan -j"$jobs"

echo "== unit tests under ASan + UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --preset asan -j"$jobs" --timeout 600

echo "== request-path fuzzer (libFuzzer + ASan, clang, bounded run)"
CC=clang-14 CXX=clang++-14 cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DRUNWAY_WERROR=ON -DRUNWAY_BUILD_INTEGRATION_TESTS=ON >/dev/null
cmake --build build/fuzz -j"$jobs" --target runway_router_request_fuzzer
ctest --test-dir build/fuzz -L fuzz --output-on-failure
