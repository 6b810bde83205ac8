#!/usr/bin/env bash
# Builds every binary users run, from THE LIST below: release profile,
# statically linked (glibc's libc.a, crt-static), so one invocation maps no
# shared libraries: about half the memory of a dynamic build and no dynamic
# loader at start. The results are copied to target/dist/.
#
#   scripts/build-release.sh           build THE LIST (and bench/cnm-floor, not installed)
#   scripts/build-release.sh --list    print THE LIST without building (for scripts and tests)
#
# THE LIST is the one place that says which binaries users get: this script
# builds them, `make install` / `make uninstall` (scripts/install.sh) install
# and remove them and their systemd units, and tests/install/run.sh checks
# both against it (and that every binary target of the workspace is either on
# it or in NOT_INSTALLED). A new binary is ONE new line here, nothing else.
#
# Columns, whitespace-separated, "-" for none:
#   binary   the [[bin]] name, also the installed file name
#   package  the cargo package that builds it (cargo build -p <package>)
#   where    cni       CNI_BIN_DIR          (/opt/cni/bin)
#            bin       PREFIX/bin           (/usr/local/bin)
#            sbin      SBIN_DIR             (PREFIX/sbin: the daemons)
#            netavark  NETAVARK_PLUGIN_DIR  (PREFIX/libexec/netavark, in Podman's default
#                                            netavark_plugin_dirs)
#   unit     its systemd unit in this repository; installed to SYSTEMD_DIR (never
#            enabled or started), the program path of its Exec*= lines rewritten to
#            where the binary is installed
#   config   SRC=DEST: a settings file the unit reads; installed only when DEST does not
#            exist, removed by `make uninstall` only when unchanged
#   dropin   with MODE=dropin, the reference plugin's name that becomes a symlink to it
#            in CNI_BIN_DIR (the replaced binary is kept and restored by uninstall)
# shellcheck disable=SC2034
THE_LIST='
simplebridge       simplebridge       cni   -                                                         -                                         bridge
ipam-host-local    ipam-host-local    cni   -                                                         -                                         host-local
portmap            portmap            cni   -                                                         -                                         -
simpleoverlay      simpleoverlay      cni   -                                                         -                                         -
cnm                cnm                bin   -                                                         -                                         -
cnmd               cnm-node-agent     sbin  services/node-agent/cnmd.service                          services/node-agent/cnmd.env=/etc/default/cnmd  -
cnm-docker-plugin  cnm-docker-plugin  sbin  services/docker-plugin/systemd/cnm-docker-plugin.service  -                                         -
cnm-firewall       cnm-firewall       sbin  services/firewall/systemd/cnm-firewall-watch.service      -                                         -
'
# Binary targets of the workspace that users do not run (benchmarks, test tools).
NOT_INSTALLED='cnm-floor cnm-bench cri-client'

set -euo pipefail
cd "$(dirname "$0")/.."

the_list() { sed -e 's/#.*//' -e '/^[[:space:]]*$/d' <<<"$THE_LIST"; }

case "${1:-}" in
    --list) the_list; exit 0 ;;
    --not-installed) tr ' ' '\n' <<<"$NOT_INSTALLED"; exit 0 ;;
    "") ;;
    *) echo "usage: $0 [--list|--not-installed]" >&2; exit 2 ;;
esac

bins=() pkgs=()
declare -A seen=()
while read -r bin pkg _; do
    bins+=("$bin")
    [ -n "${seen[$pkg]:-}" ] || pkgs+=(-p "$pkg")
    seen[$pkg]=1
done < <(the_list)
host="$(rustc -vV | sed -n 's/^host: //p')"
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo build --release --target "$host" "${pkgs[@]}"
mkdir -p target/dist
for b in "${bins[@]}"; do
    install -m 0755 "target/$host/release/$b" "target/dist/$b"
done
# The benchmark's floor (bench/cnm-floor), built the same way; not installed.
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo build --release --target "$host" -p cnm-floor
install -m 0755 "target/$host/release/cnm-floor" "target/dist/cnm-floor"
echo "build-release.sh: binaries in target/dist/: ${bins[*]}"
