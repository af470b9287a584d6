#!/usr/bin/env bash
# The whole test suite: install the package (native extension included) with its test dependencies,
# then the Rust unit tests and the Python suite (every model and bulk test runs on each available backend).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet ".[test]"
cargo test --quiet
python -m pytest -q "$@"
