#!/usr/bin/env bash
# Every multi-host test (root; each in its own throwaway namespaces, etcd
# members and temp directory). Last line: `N passed, M failed` over all of
# them; exits non-zero when any failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: needs root"
    exit 0
fi
cargo build -q -p simpleoverlay -p cnm-node-agent -p cnm-dnsname -p cnm-resolver || exit 1
passed=0
failed=0
for t in etcd-smoke agents blocks tls scenarios etcd-failures heal dualstack names; do
    echo "== tests/multihost/$t.sh"
    out="$(bash "tests/multihost/$t.sh" 2>&1)"
    rc=$?
    echo "$out"
    last="$(tail -n 1 <<<"$out")"
    if [[ "$last" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        passed=$((passed + BASH_REMATCH[1]))
        failed=$((failed + BASH_REMATCH[2]))
        [ "$rc" -ne 0 ] && [ "${BASH_REMATCH[2]}" -eq 0 ] && failed=$((failed + 1))
    else
        echo "tests/multihost/$t.sh ended without a summary (exit $rc)"
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
