#!/usr/bin/env bash
# The test command: formatting, lints, build, unit tests and the conformance
# suite (which needs root and runs everything inside throwaway namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace --bins
cargo test --workspace -- --test-threads="${TEST_THREADS:-4}"
