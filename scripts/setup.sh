#!/usr/bin/env bash
# Installs what building, the demo and the tests need on a fresh Debian machine.
# Needs root. The Rust toolchain (cargo >= 1.89) must already be on PATH.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" -ne 0 ]; then echo "setup.sh: run as root" >&2; exit 1; fi
apt-get update
apt-get install -y --no-install-recommends \
    iproute2 nftables iputils-ping util-linux procps kmod \
    containernetworking-plugins busybox-static strace ca-certificates podman runc containerd \
    protobuf-compiler iptables
if ! command -v cargo >/dev/null; then
    echo "setup.sh: cargo (Rust >= 1.89) is needed on PATH; Debian's own cargo is too old" >&2
    exit 1
fi
echo "setup.sh: done"
