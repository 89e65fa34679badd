#!/usr/bin/env bash
# The test tools of runway's packaging checks, built from their Go modules (pinned) into a cache:
# helm (renders the chart in deploy/helm/runway) and actionlint (lints the GitHub Actions
# workflows and the composite action in integrations/github).
#
#   scripts/release-tools.sh build
#       Builds the pinned binaries once into the cache directory (below); a second call returns
#       at once. A cold build takes some minutes on a 2-core machine (docs/development.md).
#   scripts/release-tools.sh path
#       Prints the cache directory (binaries in its bin/).
#
# Environment: RUNWAY_RELEASE_TOOLS_CACHE (cache directory; default
# ${XDG_CACHE_HOME:-$HOME/.cache}/runway/release-tools-<versions>). Go runs with
# GOTOOLCHAIN=local, GOFLAGS=-mod=mod -buildvcs=false, GOPROXY as the machine has it, at idle
# priority.
set -euo pipefail

HELM_VERSION=4.3.2
ACTIONLINT_VERSION=1.7.12
VERSIONS="helm${HELM_VERSION}-actionlint${ACTIONLINT_VERSION}"
CACHE=${RUNWAY_RELEASE_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/runway/release-tools-$VERSIONS}
BIN=$CACHE/bin

export GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0
export GOCACHE=$CACHE/gocache

log() { printf '%s release-tools: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "$*"; exit 1; }
idle() { nice -n 19 chrt --idle 0 "$@"; }

install_tool() { # name module/cmd@version ldflags
  [[ -x $BIN/$1 ]] && return 0
  log "building $2"
  local t0=$SECONDS out=$CACHE/tmp-$1
  rm -rf "$out" && mkdir -p "$out"
  (cd "$CACHE" && GOBIN=$out idle go install -trimpath -ldflags "$3" "$2")
  mv "$out/$1" "$BIN/$1"
  rmdir "$out"
  log "built $1 in $((SECONDS - t0))s"
}

cmd_build() {
  mkdir -p "$BIN"
  built() { [[ -f $CACHE/stamp && $(cat "$CACHE/stamp") == "$VERSIONS" ]]; }
  built && return 0
  command -v go >/dev/null || die "go is not installed (https://go.dev/dl; go1.26 or newer)"
  exec 9>"$CACHE/build.lock"
  flock 9
  built && { exec 9>&-; return 0; }
  local t0=$SECONDS
  log "building into $CACHE ($(go version | awk '{ print $3 }'))"
  # The version stamps the projects' own Makefiles set.
  install_tool actionlint "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION" \
    "-s -w -X github.com/rhysd/actionlint.version=v$ACTIONLINT_VERSION"
  install_tool helm "helm.sh/helm/v4/cmd/helm@v$HELM_VERSION" \
    "-s -w -X helm.sh/helm/v4/internal/version.version=v$HELM_VERSION"
  "$BIN/helm" version >/dev/null || die "the helm built does not run"
  "$BIN/actionlint" -version >/dev/null || die "the actionlint built does not run"
  echo "$VERSIONS" >"$CACHE/stamp"
  log "build complete in $((SECONDS - t0))s"
  exec 9>&-
}

case "${1:-}" in
  build) cmd_build ;;
  path) echo "$CACHE" ;;
  *) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
