#!/usr/bin/env bash
# The whole test suite: install the package (native extension included) with its test dependencies,
# lint (ruff, clippy, rustfmt), then the Rust unit tests and the Python suite (every model and bulk test runs
# on each available backend).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet ".[test]"
python -m ruff check python tests benches scripts fuzz build_backend
python -m ruff format --check python tests benches scripts fuzz build_backend
if cargo clippy --version >/dev/null 2>&1; then cargo clippy --quiet --all-targets -- -D warnings; fi
if cargo fmt --version >/dev/null 2>&1; then cargo fmt --check; fi
cargo test --quiet
python -m pytest -q "$@"
