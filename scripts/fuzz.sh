#!/usr/bin/env bash
# Bounded fuzzing of the input parsers (cargo-fuzz, libFuzzer): network config,
# CNI_ARGS, result conversion between versions, the host-local store's files,
# the name resolver's DNS packet path and record files.
#
#   scripts/fuzz.sh                      # every target, 15 s each (about a minute)
#   FUZZ_SECONDS=600 scripts/fuzz.sh     # longer runs
#   scripts/fuzz.sh netconf cni_args     # some targets only
#
# Works on the stable toolchain: without a sanitizer (FUZZ_SANITIZER=none, the
# default) cargo-fuzz needs no nightly flag. FUZZ_SANITIZER=address uses
# RUSTC_BOOTSTRAP=1 for -Zsanitizer. New inputs go to fuzz/corpus/<target>
# (git-ignored); fuzz/seeds/<target> is the committed seed corpus. A crash
# leaves its input in fuzz/artifacts/<target>/ and makes this script exit 1;
# turn it into a regression test in the crate that owns the code.
set -uo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH="${FUZZ_SECONDS:-15}"
SANITIZER="${FUZZ_SANITIZER:-none}"
ALL_TARGETS=(netconf cni_args result_convert store_parse dns_packet)
if [ "$#" -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz"
    cargo install cargo-fuzz --locked || { echo "fuzz.sh: cannot install cargo-fuzz" >&2; exit 2; }
fi
if [ "$SANITIZER" != none ]; then export RUSTC_BOOTSTRAP=1; fi

cargo fuzz build -s "$SANITIZER" || { echo "fuzz.sh: build failed" >&2; exit 2; }

failed=()
for t in "${TARGETS[@]}"; do
    mkdir -p "fuzz/corpus/$t"
    echo "== fuzz $t for ${SECONDS_EACH}s"
    if ! cargo fuzz run -s "$SANITIZER" "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1; then
        failed+=("$t")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz.sh: crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz.sh: ${#TARGETS[@]} targets, ${SECONDS_EACH}s each, no crash"
