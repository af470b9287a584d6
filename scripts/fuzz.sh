#!/usr/bin/env bash
# Bounded fuzzing, for CI and by hand: the fuzz targets' checks replayed over their seed corpora and mutations of
# them under a plain `cargo test` (fuzz/tests/replay.rs: the fuzz crate is its own workspace, so the root
# `cargo test` does not run it), each cargo-fuzz target (fuzz/fuzz_targets) for FUZZ_SECONDS (default 60)
# from its seed corpus, then the hypothesis fuzz test of the public Python API on both backends for
# FLYTECODEC_FUZZ_SECONDS (default: FUZZ_SECONDS). Any crash, panic, hang (an input running over 10 s), broken
# invariant or backend difference fails the script; libFuzzer leaves the input in fuzz/artifacts/<target>/.
#
# Runs on the stable toolchain: `--sanitizer none` needs no nightly (the fuzzed code has no `unsafe`, so
# AddressSanitizer would add little). New inputs libFuzzer finds go to a scratch directory, so the committed
# corpora are only read; to grow them, run `cargo fuzz run <target> fuzz/corpus/<target>` and `cargo fuzz cmin`.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
targets=(framing wire columns)

echo "fuzz: replaying the seed corpora (fuzz/tests/replay.rs)"
(cd fuzz && cargo test --release --quiet)

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi
cargo fuzz build --sanitizer none

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for target in "${targets[@]}"; do
    mkdir -p "$scratch/$target"
    echo "fuzz: $target for ${seconds}s"
    # -timeout: an input running this long is a hang; -rss_limit_mb: the default, said out loud. The progress
    # lines (one per new input) are dropped; the final stats give executions per second.
    set +e
    cargo fuzz run --sanitizer none "$target" "$scratch/$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 2>&1 |
        grep -v '^#[0-9]*[[:space:]]*\(NEW\|REDUCE\|pulse\)'
    status="${PIPESTATUS[0]}"
    set -e
    if [ "$status" -ne 0 ]; then
        echo "fuzz: $target failed; reproduce with: cargo fuzz run --sanitizer none $target fuzz/artifacts/$target/<file>" >&2
        exit 1
    fi
done

echo "fuzz: python API on both backends for ${FLYTECODEC_FUZZ_SECONDS:-$seconds}s"
FLYTECODEC_FUZZ_SECONDS="${FLYTECODEC_FUZZ_SECONDS:-$seconds}" python -m pytest -q -p no:cacheprovider tests/errors/test_fuzz_python.py
