#!/usr/bin/env bash
# Builds runway's .deb with CPack and, with --check, installs it on this machine and checks the
# installed files (a stage of scripts/test.sh; docs/install.md).
#
#   scripts/package.sh [BUILD_DIR]
#       Builds what the package installs (runway, runway-demo-app, the man page and the shell
#       completions) in BUILD_DIR (default build/ci, configured) and writes
#       BUILD_DIR/package/runway_<version>_<arch>.deb.
#   scripts/package.sh --check [BUILD_DIR]
#       Also, as root: installs it with dpkg -i, runs `runway version` and
#       `runway validate /usr/share/runway/examples/runbook` from the installed files, checks
#       the runway user, /etc/runway, /var/lib/runway (0700), the man page, the completions and
#       the Depends dpkg-shlibdeps found, verifies the unit with `systemd-analyze verify`,
#       installs the package again over itself (the upgrade path: the data directory is kept),
#       then purges it. It refuses to run when a runway package is installed already.
set -euo pipefail
cd "$(dirname "$0")/.."

check=0
if [[ ${1:-} == --check ]]; then check=1; shift; fi
build=${1:-build/ci}
log() { printf 'package: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[[ -f $build/CPackConfig.cmake ]] || die "$build is not a configured build tree (cmake --preset ci)"
cmake --build "$build" --target runway runway-demo-app runway_generated_docs >/dev/null
rm -rf "$build/package"
(cd "$build" && cpack -G DEB >/dev/null)
debs=("$build"/package/runway_*.deb)
[[ ${#debs[@]} == 1 && -f ${debs[0]} ]] || die "cpack wrote no .deb into $build/package"
deb=$(realpath "${debs[0]}")
log "built $deb ($(stat -c %s "$deb") bytes)"
((check)) || exit 0

[[ $(id -u) == 0 ]] || die "--check installs the package: run it as root"
if dpkg-query -W -f='${Status}' runway 2>/dev/null | grep -q installed; then
  die "a runway package is installed on this machine already; the check installs and purges its own (dpkg --purge runway first)"
fi

fail=0
ok() { log "ok: $*"; }
bad() { log "FAILED: $*"; fail=1; }

# What the package says about itself: dpkg-shlibdeps' libraries and the declared ones.
depends=$(dpkg-deb -f "$deb" Depends)
for want in libc6 libstdc++6 libsqlite3-0 libcurl4 libssl3 libyaml-cpp0.7 libre2-9 libsystemd0 adduser procps; do
  [[ ", $depends," == *", $want "* || ", $depends," == *", $want,"* ]] || bad "Depends lacks $want: $depends"
done
[[ $fail == 0 ]] && ok "Depends: $depends"
contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/runway ./usr/bin/runway-demo-app ./usr/share/man/man1/runway.1.gz \
  ./usr/share/bash-completion/completions/runway ./usr/share/zsh/vendor-completions/_runway \
  ./usr/share/runway/examples/runbook/environments.yaml ./usr/share/doc/runway/install.md \
  ./lib/systemd/system/runway.service; do
  grep -qE " $f\$" <<<"$contents" || bad "the package has no $f"
done

data_existed=0
[[ -e /var/lib/runway ]] && data_existed=1
cleanup() {
  dpkg --purge runway >/dev/null 2>&1 || true
  ((data_existed)) || rm -rf /var/lib/runway
}
trap cleanup EXIT

dpkg -i "$deb" >/dev/null || die "dpkg -i $deb failed"
ok "dpkg -i $(basename "$deb")"
version=$(/usr/bin/runway version)
[[ $version == "runway $(dpkg-deb -f "$deb" Version)" ]] && ok "$version" || bad "runway version said '$version'"
if out=$(/usr/bin/runway validate /usr/share/runway/examples/runbook 2>&1); then
  ok "$(head -1 <<<"$out")"
else
  bad "runway validate /usr/share/runway/examples/runbook: $out"
fi
getent passwd runway >/dev/null && ok "user runway: $(getent passwd runway)" || bad "no runway user"
[[ $(stat -c '%a %U:%G' /var/lib/runway) == "700 runway:runway" ]] &&
  ok "/var/lib/runway $(stat -c '%a %U:%G' /var/lib/runway)" || bad "/var/lib/runway is $(stat -c '%a %U:%G' /var/lib/runway)"
[[ -d /etc/runway ]] && ok "/etc/runway" || bad "no /etc/runway"
# The page lists every command the binary has.
page=$(zcat /usr/share/man/man1/runway.1.gz)
missing_cmds=()
cmds=$(/usr/bin/runway --help | awk '/^Subcommands:/ { on = 1; next } on && /^  [^ ]/ { print $1 }')
for c in $cmds; do
  grep -qF ".SS \"runway $c\"" <<<"$page" || missing_cmds+=("$c")
done
if [[ $(wc -w <<<"$cmds") -gt 20 && ${#missing_cmds[@]} == 0 && $page == *'.TH RUNWAY 1'* ]]; then
  ok "runway(1): a section for each of the $(wc -w <<<"$cmds") commands of runway --help ($(grep -c '^\.SS' <<<"$page") with the subcommands)"
else
  bad "runway(1) lacks ${missing_cmds[*]:-the commands} (runway --help listed $(wc -w <<<"$cmds"))"
fi
bash -c 'source /usr/share/bash-completion/completions/runway && complete -p runway' >/dev/null &&
  ok "bash completion loads" || bad "the bash completion does not load"
# Any warning counts (an unknown key is only "ignoring" to systemd); Documentation=man:runway(1)
# is looked up with man, so the installed page is checked too.
if out=$(systemd-analyze verify /lib/systemd/system/runway.service 2>&1) && [[ -z $out ]]; then
  ok "systemd-analyze verify runway.service: no warnings"
else
  bad "systemd-analyze verify runway.service: $out"
fi
# The upgrade path (dpkg -i over an installed version): the data directory and its files stay.
echo kept >/var/lib/runway/package-check && chown runway:runway /var/lib/runway/package-check
dpkg -i "$deb" >/dev/null || bad "installing over the installed package failed"
[[ $(cat /var/lib/runway/package-check 2>/dev/null) == kept && $(stat -c '%a %U' /var/lib/runway) == "700 runway" ]] &&
  ok "installed again over itself: /var/lib/runway kept" || bad "/var/lib/runway changed when the package was installed again"
rm -f /var/lib/runway/package-check
dpkg --purge runway >/dev/null || bad "dpkg --purge runway failed"
[[ ! -e /usr/bin/runway && ! -e /lib/systemd/system/runway.service ]] && ok "purged" || bad "files left after the purge"
((fail == 0)) || die "the package check failed (above)"
log "the package check passed"
