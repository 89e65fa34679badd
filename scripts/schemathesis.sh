#!/usr/bin/env bash
# Schemathesis (PyPI), the property-based API tester that schemathesis_test runs against a real
# `runway serve` (tests/integration/contract, docs/development.md), installed from the pinned list
# tests/integration/contract/requirements.txt into a venv (Debian's python3-venv) under the cache.
#
#   scripts/schemathesis.sh install   creates the venv once; a second call returns at once
#   scripts/schemathesis.sh path      prints the venv's directory (the program: its bin/schemathesis)
#
# Environment: RUNWAY_SCHEMATHESIS_CACHE (the venv; default
# ${XDG_CACHE_HOME:-$HOME/.cache}/runway/schemathesis-<version>-<hash of the list>).
set -euo pipefail

VERSION=4.32.5
here=$(cd "$(dirname "$0")/.." && pwd)
requirements=$here/tests/integration/contract/requirements.txt
list_hash=$(sha256sum "$requirements" | cut -c1-12)
VENV=${RUNWAY_SCHEMATHESIS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/runway/schemathesis-$VERSION-$list_hash}

case "${1:-}" in
  path)
    echo "$VENV"
    ;;
  install)
    if [[ -x $VENV/bin/schemathesis && -f $VENV/.installed ]]; then
      exit 0
    fi
    grep -qx "schemathesis==$VERSION" "$requirements" || {
      echo "schemathesis.sh: $requirements does not pin schemathesis==$VERSION" >&2
      exit 1
    }
    mkdir -p "$(dirname "$VENV")"
    # A lock makes concurrent installs wait for the first; the marker, written last, tells a
    # complete venv from an interrupted one (which is made again).
    exec 9>"$VENV.lock"
    flock 9
    [[ -f $VENV/.installed ]] && exit 0
    rm -rf "$VENV"
    # pip runs nothing it needs from PATH here (the list is wheels; the venv's python is called by
    # its path), but its user agent runs `lsb_release -a` and `rustc --version` when they are on
    # PATH: programs of this machine that a new one lacks (scripts/check-deps.sh saw both in a
    # fresh machine's CI). With PATH only the venv's bin, they are not found and not run.
    PATH=$VENV/bin /usr/bin/python3 -m venv "$VENV"
    PATH=$VENV/bin "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps \
      --require-virtualenv -r "$requirements"
    PATH=$VENV/bin "$VENV/bin/pip" check >/dev/null
    "$VENV/bin/schemathesis" --version >/dev/null
    touch "$VENV/.installed"
    echo "schemathesis.sh: Schemathesis $VERSION installed in $VENV" >&2
    ;;
  *)
    echo "usage: scripts/schemathesis.sh install|path" >&2
    exit 2
    ;;
esac
