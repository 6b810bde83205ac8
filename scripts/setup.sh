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
    protobuf-compiler iptables curl
# Docker (dockerd 20.10) for tests/runtimes/docker.sh: a policy-rc.d keeps apt from starting
# the packaged service (dockerd must never run in the machine's own namespaces); it is removed
# afterwards unless it was there before.
policy_created=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    policy_created=1
fi
docker_rc=0
apt-get install -y --no-install-recommends docker.io || docker_rc=$?
if [ "$policy_created" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
if [ "$docker_rc" != 0 ]; then echo "setup.sh: installing docker.io failed" >&2; exit 1; fi
if ! command -v cargo >/dev/null; then
    echo "setup.sh: cargo (Rust >= 1.89) is needed on PATH; Debian's own cargo is too old" >&2
    exit 1
fi
echo "setup.sh: done"
