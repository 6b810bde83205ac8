#!/usr/bin/env bash
# The test command: formatting, lints, build, unit tests, the conformance
# suite (root; everything inside throwaway namespaces), the main job (the
# demo), the multi-host overlay, the real runtimes, and a short fuzzing run.
set -euo pipefail
cd "$(dirname "$0")/.."
LOG="$(mktemp /tmp/cnm-test.XXXXXX)"
trap 'rm -f "$LOG"' EXIT

cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace --bins --examples
# The fault-injection build lives apart so it never replaces the real binary.
cargo build -p simplebridge --features fault-injection --target-dir target/fault
cargo test --workspace -- --test-threads="${TEST_THREADS:-4}" 2>&1 | tee "$LOG"

echo "== the main job (scripts/demo.sh)"
PROFILE=debug bash scripts/demo.sh

extra_passed=1
if [ "${SKIP_MULTIHOST:-0}" != 1 ]; then
    # The overlay across three hosts (namespaces), etcd and node agents:
    # the demo, then every multi-host test (about 3 minutes).
    echo "== multi-host overlay (scripts/multihost-demo.sh, tests/multihost/run-all.sh)"
    bash scripts/multihost-demo.sh
    bash tests/multihost/run-all.sh
    extra_passed=$((extra_passed + 2))
fi
if [ -x tests/runtimes/run-all.sh ] && [ "${SKIP_RUNTIMES:-0}" != 1 ]; then
    echo "== real runtimes"
    bash tests/runtimes/run-all.sh
    extra_passed=$((extra_passed + 1))
fi
if [ -x scripts/fuzz.sh ] && [ "${SKIP_FUZZ:-0}" != 1 ]; then
    echo "== fuzzing (bounded)"
    bash scripts/fuzz.sh
    extra_passed=$((extra_passed + 1))
fi

passed=$(grep -Eo 'test result: ok\. [0-9]+ passed' "$LOG" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' "$LOG" | awk '{s+=$1} END {print s+0}')
echo "tests: $((passed + extra_passed)) passed, $failed failed"
