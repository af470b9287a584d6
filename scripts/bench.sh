#!/usr/bin/env bash
# Run the benchmarks (flytecodec vs flytekit vs raw upb, same bytes, same run) and print the README table.
# FLYTECODEC_BENCH_N sets the corpus size (default 20000; the README's figures use 100000).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .benchmarks
python -m pytest benches -q -p no:cacheprovider --benchmark-only --benchmark-json=.benchmarks/run.json "$@"
python benches/report.py .benchmarks/run.json
echo
python benches/memory.py "${FLYTECODEC_BENCH_N:-20000}"
