#!/usr/bin/env bash
# Builds runway and runs every test: the whole suite in the `ci` preset (-Werror), then the unit
# tests again under AddressSanitizer + UndefinedBehaviorSanitizer (`asan` preset, built while the
# suite runs; the fuzz targets are built and run for a bounded time then too), then the check
# that everything used came from scripts/install-deps.sh.
# Works as root on a fresh Debian 12 machine: it installs what it needs first.
# At the end it prints each stage's wall time and the 20 slowest tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# Let ccache share results between clones in different directories (CI builds a fresh clone).
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
jobs=$(nproc 2>/dev/null || echo 2)
# The suite's tests mostly wait (on real deployments' pauses and bakes, on servers starting), so
# it runs twice as many at once as there are cores; every test polls with a deadline rather than
# counting on a share of the CPU. Not more: on 2 cores -j8 ran the tests other than unit in
# 179 s instead of 300 s (the same 143 s of CPU), but the costliest tests all start first, and
# together with the background fuzz runs three of four whole CI runs at -j8 had a timing test
# fail (2026-12-08: a canary's analysis without traffic yet, a takeover after a SIGSTOP past
# its 12 s bound). The sanitizer run is computation and gets one per core.
suite_jobs=${RUNWAY_SUITE_JOBS:-$((jobs * 2))}
logs=build/test-logs
stages=()
stage_start=0
began=$(date +%s)

begin() {
  echo "== $1"
  stage_name=$1
  stage_start=$(date +%s)
}
end() {
  stages+=("$(printf '%-44s %4ds' "$stage_name" $(($(date +%s) - stage_start)))")
}
# Prints the stage times and the slowest tests, also when a stage fails.
report() {
  local status=$?
  set +e +o pipefail  # the report itself never changes the outcome (head closes its pipe early)
  if [[ -n "${background_pid:-}" ]] && kill -0 "$background_pid" 2>/dev/null; then
    kill -- "-$background_pid" 2>/dev/null || true  # a failed stage: stop the background builds
  fi
  echo
  echo "== stage times"
  for s in "${stages[@]}"; do echo "  $s"; done
  if ((status != 0)) && [[ -n "${stage_name:-}" ]]; then
    echo "  $stage_name: failed after $(($(date +%s) - stage_start))s"
  fi
  printf '  %-44s %4ds\n' "total" $(($(date +%s) - began))
  if compgen -G "$logs/ctest-*.log" >/dev/null; then
    echo "== slowest tests"
    # ctest lines: "  12/733 Test  #34: suite.name ......   Passed   12.34 sec"
    cat "$logs"/ctest-*.log | grep -E 'Test +#[0-9]+: .* sec$' |
      sed -E 's/.*Test +#[0-9]+: ([^ ]+) .* ([0-9.]+) sec$/\2 \1/' | sort -rn | head -20 |
      awk '{ printf "  %7.1fs  %s\n", $1, $2 }'
  fi
  exit "$status"
}
trap report EXIT

# Adds one ctest run's counts to the totals printed at the end.
passed=0
failed=0
count() {
  local line
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$1" | tail -1 || true)
  if [[ $line =~ ([0-9]+)\ tests\ failed\ out\ of\ ([0-9]+) ]]; then
    failed=$((failed + BASH_REMATCH[1]))
    passed=$((passed + BASH_REMATCH[2] - BASH_REMATCH[1]))
  fi
}

begin "install dependencies"
scripts/install-deps.sh
end
mkdir -p "$logs"
rm -f "$logs"/ctest-*.log "$logs"/exec.log

# The `kubernetes` tests run against a real control plane (scripts/kube-cluster.sh): its pinned
# binaries are built from Go modules once into a cache (about 14 minutes on 2 cores the first
# time; at once afterwards).
begin "Kubernetes control plane (built once into its cache)"
scripts/kube-cluster.sh build
end

# helm and actionlint, for the Helm chart's and the GitHub Actions integration's tests: built from
# their pinned Go modules once into a cache (scripts/release-tools.sh; at once afterwards).
begin "helm + actionlint (built once into their cache)"
scripts/release-tools.sh build
end

begin "build (ci preset: RelWithDebInfo, -Werror)"
cmake --preset ci >/dev/null
cmake --build --preset ci -j"$jobs"
end

# The .deb from the ci build (CPack, dpkg-shlibdeps), installed on this machine with dpkg -i, its
# installed files checked (runway version, runway validate of the packaged runbook, the user,
# /var/lib/runway 0700, systemd-analyze verify of the unit, an install over itself), then purged.
begin "package: .deb built, installed, checked, purged"
scripts/package.sh --check build/ci
end

# The sanitizer and fuzz builds, and the fuzzers' bounded runs, happen while the suite runs, at
# idle priority (SCHED_IDLE: they get a core only when no test wants it). The suite spends most
# of its time waiting on real deployments' bakes and pauses (its tests used about half of one
# core over a 300 s run), so this hides most of that work without slowing the tests. The fuzz
# targets are built first so that their runs (each for a fixed wall time:
# tests/fuzz/CMakeLists.txt) overlap the ASan build. (The unit tests under ASan were run here
# too, beside the suite at nice 10, once: the suite's timing-sensitive tests slowed by 2-3x and
# one failed, so they run after it.)
background_builds() {
  set -e
  local start fuzz_pid
  start=$(date +%s)
  # Unity batches and line tables only (-g1), as the ci preset: the API-body target links most
  # of the product's libraries, and they took 6,400 of the tree's job-seconds without (2,000 with).
  CC=clang-14 CXX=clang++-14 cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DRUNWAY_WERROR=ON -DRUNWAY_BUILD_INTEGRATION_TESTS=ON -DRUNWAY_UNITY=ON \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" >/dev/null
  cmake --build build/fuzz -j"$jobs" --target fuzzers
  echo "fuzz build: $(($(date +%s) - start))s"
  ctest --test-dir build/fuzz -L fuzz -j"$jobs" -V >"$logs/ctest-fuzz.log" 2>&1 &
  fuzz_pid=$!
  start=$(date +%s)
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j"$jobs"
  echo "asan build: $(($(date +%s) - start))s"
  if ! wait "$fuzz_pid"; then
    grep -vE '^[0-9]+: #[0-9]+' "$logs/ctest-fuzz.log" | tail -150
    echo "a fuzz target failed (above; the whole run: $logs/ctest-fuzz.log)"
    return 1
  fi
}
begin "builds asan + fuzz, fuzz runs, in the background of the tests"
background_start=$stage_start
setsid chrt --idle 0 bash -c "$(declare -f background_builds); jobs=$jobs; logs=$logs; background_builds" \
  >"$logs/background-builds.log" 2>&1 &
background_pid=$!

# Traced for execve only (seccomp-filtered, so the tests run at full speed): check-deps reads the
# programs the tests ran from it.
begin "tests (unit, integration, e2e)"
strace -f --seccomp-bpf -qq -e trace=execve -e signal=none -o "$logs/exec.log" \
  ctest --preset ci -j"$suite_jobs" --timeout 600 2>&1 | tee "$logs/ctest-ci.log"
count "$logs/ctest-ci.log"
end

begin "waiting for the background builds"
if ! wait "$background_pid"; then
  cat "$logs/background-builds.log"
  echo "the asan or fuzz build, or a fuzz run, failed (above)" >&2
  exit 1
fi
end
grep -E '^(asan|fuzz) build: ' "$logs/background-builds.log" | while read -r what _ secs; do
  echo "  $what build took ${secs} at idle priority (started with the tests)"
done
stages+=("$(printf '%-44s %4ds' "builds asan + fuzz, fuzz runs (overlapping)" $(($(date +%s) - background_start)))")
# Each fuzz target's run: its wall time and how many inputs it tried (libFuzzer's final stats).
count "$logs/ctest-fuzz.log"
grep -E 'Test +#[0-9]+: .*(Passed|Failed)' "$logs/ctest-fuzz.log" | sed -E 's/^ *[0-9]+\/[0-9]+ *//' || true
grep -E 'stat::number_of_executed_units' "$logs/ctest-fuzz.log" | awk '{ n += $NF } END { if (NR) printf "  fuzz: %d inputs tried in %d runs, 0 crashes\n", n, NR }' || true

begin "unit tests under ASan + UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --preset asan -j"$jobs" --timeout 600 2>&1 | tee "$logs/ctest-asan.log"
count "$logs/ctest-asan.log"
end

begin "dependencies all from scripts/install-deps.sh"
# A node that no Debian package installed (a preinstalled one under /usr/local, which
# install-deps.sh leaves alone rather than install Debian's beside it) is the machine's tool,
# like its Go toolchain; a packaged one (Debian's or NodeSource's nodejs) is checked as usual.
node_tool=()
if node_path=$(readlink -f "$(command -v node)" 2>/dev/null) && ! dpkg -S "$node_path" >/dev/null 2>&1; then
  node_tool=(--tool-dir "$(dirname "$(dirname "$node_path")")")
fi
# Schemathesis's venv (scripts/schemathesis.sh, pinned PyPI packages) is a test tool the same way.
scripts/check-deps.sh --exec-log "$logs/exec.log" --tool-dir "$(scripts/kube-cluster.sh path)" \
  --tool-dir "$(scripts/release-tools.sh path)" \
  --tool-dir "$(scripts/schemathesis.sh path)" \
  --tool-dir "$(go env GOROOT 2>/dev/null || echo /usr/local/go)" "${node_tool[@]}" build/ci build/asan build/fuzz
# The guard must be able to fail: without the package that holds clang's fuzzer and sanitizer
# runtimes (the one a fresh machine once lacked), the same check has to refuse.
if scripts/check-deps.sh --without libclang-rt-14-dev build/fuzz >"$logs/guard-selftest.log" 2>&1; then
  echo "check-deps accepted the fuzz build without libclang-rt-14-dev in the list" >&2
  exit 1
fi
grep -q 'libclang-rt-14-dev' "$logs/guard-selftest.log"
echo "check-deps: refuses the fuzz build when libclang-rt-14-dev is left out, as it should"
end

# A skipped test is a check that did not run: in CI that is a missing dependency, never a pass.
if grep -h -A100 'The following tests did not run' "$logs"/ctest-*.log | grep -E 'Skipped|Not Run'; then
  echo "tests were skipped (above): install what they need in scripts/install-deps.sh" >&2
  failed=$((failed + 1))
fi

echo
echo "total: $passed passed, $failed failed"
((failed == 0))
