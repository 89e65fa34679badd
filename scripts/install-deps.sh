#!/usr/bin/env bash
# Installs the Debian 12 packages runway needs to build and test. Idempotent: it asks apt only
# for packages that are missing, so a second run takes well under a second.
#   scripts/install-deps.sh          build + unit/integration test dependencies
#   scripts/install-deps.sh --bench  also the benchmark peers (wrk, nginx, haproxy), valgrind and
#                                    strace (bench/router/instructions.sh)
#   scripts/install-deps.sh --list   print the package list (one a line) and install nothing;
#                                    scripts/check-deps.sh checks the build and tests against it
# Every package a build, a test or a script uses is named here, or is a dependency of one named
# here: CI runs on a machine that may have more installed, so a missing name shows only on a new
# machine. scripts/check-deps.sh (the last stage of scripts/test.sh) catches it before that.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache mold pkg-config git
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libboost-filesystem1.81-dev libboost-system1.81-dev
  libyaml-cpp-dev libsqlite3-dev sqlite3 libpq-dev libcurl4-openssl-dev libcli11-dev
  libspdlog-dev libfmt-dev libexpected-dev libssl-dev libre2-dev libexpat1-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  prometheus prometheus-alertmanager curl procps python3 python3-venv r-base-core
  clang-14 libfuzzer-14-dev libclang-rt-14-dev
  tmux bsdutils strace
  postgresql docker-registry openssl
  chromium
  # The .deb (scripts/package.sh): sd_notify for runway.service (libsystemd-dev), CPack's
  # dpkg-shlibdeps (dpkg-dev) and ELF detection (file), the package's own Depends (adduser), and
  # systemd-analyze for the unit's check (systemd; it looks the unit's man:runway(1) up with man).
  libsystemd-dev dpkg-dev file adduser systemd man-db
)
# Node.js and npm build the web dashboard (web/: `npm ci` and esbuild) and run its browser test
# (playwright-core driving the chromium above). Debian's nodejs (18) and npm (9) do; a machine
# that already has node and npm on its PATH (NodeSource's nodejs, say) keeps them: installing
# Debian's beside it would fight it. --list names them either way, since a new machine gets them
# from here.
node_packages=(nodejs npm)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(wrk nginx-light haproxy valgrind strace)
fi
if [[ "${1:-}" == "--list" ]]; then
  printf '%s\n' "${packages[@]}" "${node_packages[@]}"
  exit 0
fi
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
