#!/usr/bin/env bash
# Checks that everything the build and the tests used comes from scripts/install-deps.sh: each
# header a build compiled against, each library it linked (those the compiler driver adds for
# sanitizers and libFuzzer included) and each program the tests ran must belong to a Debian
# package that the script installs, to a dependency of one, or to the base system (Essential or
# Priority: required). CI runs on a machine that may have more installed than a new one; this
# is what keeps a package the script forgot from passing here and failing everywhere else.
#
#   scripts/check-deps.sh [--exec-log FILE] [--without PKG]... [--tool-dir DIR]... BUILD_DIR...
#
#   BUILD_DIR        a configured and built CMake/Ninja tree (build/ci, build/asan, build/fuzz)
#   --exec-log FILE  an `strace -f -e trace=execve` log of the test run: every program it ran
#   --without PKG    check as if PKG were not in the list (shows that the guard can fail)
#   --tool-dir DIR   programs under DIR are test tools the project's own scripts build from
#                    pinned sources (the Kubernetes control plane, scripts/kube-cluster.sh; helm and
#                    actionlint, scripts/release-tools.sh), or
#                    the machine's Go toolchain that builds them; not Debian packages
#
# Exit 0 when all is covered; 1 with one line per uncovered file otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
source_dir=$PWD

exec_log=""
without=()
tool_dirs=()
build_dirs=()
while (($#)); do
  case "$1" in
    --exec-log) exec_log=$2; shift 2 ;;
    --without) without+=("$2"); shift 2 ;;
    --tool-dir) tool_dirs+=("$(realpath -m "$2")"); shift 2 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) build_dirs+=("$1"); shift ;;
  esac
done
if ((${#build_dirs[@]} == 0)); then
  echo "check-deps: name at least one build directory" >&2
  exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. The packages a new machine has after install-deps.sh: the list, everything it depends on
#    (Depends and Pre-Depends, recursively; Recommends are not installed), and the base system.
scripts/install-deps.sh --list | sort -u >"$work/list"
for p in "${without[@]}"; do
  grep -vxF "$p" "$work/list" >"$work/list.new" || true
  mv "$work/list.new" "$work/list"
done
# shellcheck disable=SC2046
apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances $(cat "$work/list") 2>/dev/null |
  awk '/^[^ ]/ { sub(/:.*/, ""); print } /^ .*Depends: [^<]/ { sub(/.*Depends: /, ""); sub(/:.*/, ""); print }' \
  >"$work/closure"
dpkg-query -W -f='${Package} ${Essential} ${Priority}\n' |
  awk '$2 == "yes" || $3 == "required" { print $1 }' >>"$work/closure"
sort -u "$work/closure" -o "$work/closure"

# 2. The files used.
: >"$work/files"
: >"$work/missing"
for dir in "${build_dirs[@]}"; do
  [[ -f "$dir/build.ninja" ]] || { echo "check-deps: $dir is not a built Ninja tree" >&2; exit 2; }
  # Headers, from the compiler's own dependency records.
  ninja -C "$dir" -t deps 2>/dev/null | awk '/^    \// { print $1 }' | grep -E '^/(usr|lib|etc)/' \
    >>"$work/files" || true
  # The compilers, and the libraries named on link lines.
  awk '/^  (LINK_LIBRARIES|LINK_FLAGS|LINK_PATH) =/' "$dir/build.ninja" | tr ' ' '\n' |
    grep -E '^/(usr|lib)/.*\.(a|so[.0-9]*)$' >>"$work/files" || true
  cache="$dir/CMakeCache.txt"
  cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$cache")
  flags=$(sed -n 's/^CMAKE_CXX_FLAGS:[A-Z]*=//p' "$cache")
  [[ -n "$cxx" ]] && readlink -f "$(command -v "$cxx")" >>"$work/files"
  # The compiler launcher (ccache), as the compile rules name it.
  grep -ohE '^  command = /[^ ]+ ' "$dir"/CMakeFiles/rules.ninja | awk '{ print $3 }' |
    sort -u | while read -r tool; do readlink -f "$tool"; done >>"$work/files" || true
  # What the driver adds itself: the C++ runtime, and the sanitizer and fuzzer runtimes of the
  # flags this tree was built with. A runtime the driver names but nothing installed fails here.
  sanitize=$(grep -ohE -- '-fsanitize=[a-z,]+' "$dir/build.ninja" | sort -u | tr '\n' ' ' || true)
  for san in "" $sanitize; do
    # shellcheck disable=SC2086
    "$cxx" $flags $san -### -x c++ /dev/null -o "$work/a.out" 2>&1 |
      grep -oE '"/(usr|lib)/[^"]+\.(a|so|o)"' | tr -d '"' >"$work/driver" || true
    while read -r f; do
      if [[ ! -e "$f" ]]; then
        echo "MISSING $f ($cxx $san needs it)" >>"$work/missing"
      else
        echo "$f" >>"$work/files"
      fi
    done <"$work/driver"
    # gcc names its runtimes with -l; ask it where each one is.
    for lib in $("$cxx" $flags $san -### -x c++ /dev/null -o "$work/a.out" 2>&1 |
                 grep -oE -- '"-l(asan|ubsan|tsan|lsan|stdc\+\+|gcc_s)"' | tr -d '"' | sort -u); do
      found=$("$cxx" -print-file-name="lib${lib#-l}.so")
      if [[ "$found" == /* && -e "$found" ]]; then
        readlink -f "$found" >>"$work/files"
      else
        echo "MISSING lib${lib#-l}.so ($cxx $san needs it)" >>"$work/missing"
      fi
    done
  done
done
# Programs the tests ran (successful execve calls), except the project's own and temporary ones.
if [[ -n "$exec_log" ]]; then
  grep -h ' execve("' "$exec_log" | grep -v '= -1 ' | sed -E 's/.*execve\("([^"]+)".*/\1/' |
    sort -u | while read -r f; do
      case "$f" in
        "$source_dir"/*|/tmp/*|/var/tmp/*|/proc/*) continue ;;
      esac
      for d in "${tool_dirs[@]}"; do
        [[ "$(realpath -m "$f")" == "$d"/* ]] && continue 2
      done
      echo "$f"
    done >>"$work/execs"
  cat "$work/execs" >>"$work/files"
fi
sort -u "$work/files" -o "$work/files"

# 3. Each file's package, from dpkg's file lists (one pass; dpkg -S per file takes minutes for
#    thousands of headers). Paths are compared with /bin, /sbin and /lib folded into /usr (merged
#    /usr), and a file is looked up as named and as its symlink target.
while read -r f; do
  [[ -e "$f" ]] || continue
  printf '%s\t%s\n' "$f" "$(readlink -f "$f")"
done <"$work/files" >"$work/lookup"
awk -F'\t' '
  function canon(p) { sub(/^\/(bin|sbin|lib|lib32|lib64|libx32)\//, "/usr/&", p); sub(/^\/usr\/\//, "/usr/", p); return p }
  FILENAME == "-" { want[canon($1)] = 1; want[canon($2)] = 1; order[++n] = $1 "\t" $2; next }
  { p = canon($0); if (p in want && !(p in owner)) { pkg = FILENAME; sub(/.*\//, "", pkg); sub(/\.list$/, "", pkg); sub(/:.*/, "", pkg); owner[p] = pkg } }
  END {
    for (i = 1; i <= n; i++) {
      split(order[i], f, "\t"); a = canon(f[1]); b = canon(f[2])
      if (a in owner) print owner[a] "\t" f[1]
      else if (b in owner) print owner[b] "\t" f[1]
      else print "-\t" f[1]
    }
  }' - /var/lib/dpkg/info/*.list <"$work/lookup" >"$work/owners.all"
awk -F'\t' '$1 == "-" { print "UNOWNED " $2 " (no Debian package provides it)" }' "$work/owners.all" \
  >>"$work/missing"
awk -F'\t' '$1 != "-"' "$work/owners.all" >"$work/owners"

# One line per package the list lacks, with how many files came from it and one of them.
awk -F'\t' 'NR == FNR { ok[$1] = 1; next }
  !($1 in ok) { if (!($1 in count)) example[$1] = $2; count[$1]++ }
  END { for (p in count) print "UNLISTED package " p " is used (" count[p] " file(s), e.g. " example[p] \
        ") but scripts/install-deps.sh does not install it" }' \
  "$work/closure" "$work/owners" >>"$work/missing"

checked=$(wc -l <"$work/owners")
packages=$(cut -f1 "$work/owners" | sort -u | wc -l)
if [[ -s "$work/missing" ]]; then
  sort -u "$work/missing" | sed 's/^/check-deps: /' >&2
  echo "check-deps: what the build and tests used is not all installed by scripts/install-deps.sh" >&2
  exit 1
fi
echo "check-deps: $checked files from $packages packages, all installed by scripts/install-deps.sh"
