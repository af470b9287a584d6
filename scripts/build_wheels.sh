#!/usr/bin/env bash
# Release wheels and the sdist: one wheel per CPython version (the extension uses the full, per-version C API),
# built by maturin with the release profile, stripped, linked by zig against glibc 2.17 so that the wheel is
# manylinux2014 (manylinux_2_17_x86_64) whatever glibc this machine has; `auditwheel show` must agree.
#
#   bash scripts/build_wheels.sh                      # CPython 3.9-3.13 from pyenv, and the sdist
#   bash scripts/build_wheels.sh "$(command -v python)"   # only these interpreters, and the sdist
#
# Environment: WHEEL_DIR (output, default dist/), CARGO_TARGET_DIR (default target/), NO_SDIST=1 to skip the
# sdist. The build tools (maturin, ziglang, auditwheel) are installed, pinned, into build/wheel-tools.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${WHEEL_DIR:-dist}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}

if [ "$#" -gt 0 ]; then
    pythons=("$@")
else
    pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
    pythons=()
    for minor in 9 10 11 12 13; do
        found=$(ls -d "$pyenv_root"/versions/3."$minor".*/bin/python3."$minor" 2>/dev/null | sort -V | tail -n 1 || true)
        if [ -z "$found" ]; then
            echo "build_wheels: no CPython 3.$minor under $pyenv_root/versions; name the interpreters to use" >&2
            exit 2
        fi
        pythons+=("$found")
    done
fi

tools=$root/build/wheel-tools
if [ ! -x "$tools/bin/python" ]; then
    python3 -m venv "$tools"
fi
"$tools/bin/python" -m pip install --quiet --disable-pip-version-check \
    "maturin==1.16.0" "ziglang==0.17.1" "auditwheel==6.8.2"
# maturin finds zig as `python3 -m ziglang`, with the python3 first on PATH.
export PATH="$tools/bin:$PATH"
mkdir -p "$out"

for python in "${pythons[@]}"; do
    # cpXY, and cpXYt for a free-threaded CPython (see docs/free-threading.md)
    tag=$("$python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
    abi=$tag$("$python" -c 'import sys; print(sys.abiflags)')
    rm -f "$out"/flytecodec-*-"$tag"-"$abi"-*.whl
    echo "build_wheels: $abi ($python)"
    start=$SECONDS
    maturin build --quiet --release --strip --zig --compatibility manylinux2014 \
        --interpreter "$python" --out "$out"
    wheel=$(ls "$out"/flytecodec-*-"$tag"-"$abi"-*.whl)
    # auditwheel reads the symbols the extension needs; the tag must hold for them.
    report=$(auditwheel show "$wheel")
    if ! grep -q '"manylinux_2_17_x86_64"' <<<"$report"; then
        echo "$report" >&2
        echo "build_wheels: $wheel is not manylinux_2_17 by auditwheel" >&2
        exit 1
    fi
    echo "build_wheels: $(basename "$wheel"): manylinux_2_17_x86_64 by auditwheel, $((SECONDS - start)) s"
done

if [ "${NO_SDIST:-0}" != 1 ]; then
    rm -f "$out"/flytecodec-*.tar.gz
    maturin sdist --out "$out"
fi

echo "build_wheels: in $out:"
for f in "$out"/flytecodec-*.whl "$out"/flytecodec-*.tar.gz; do
    [ -e "$f" ] && printf '  %-90s %7d KiB\n' "$(basename "$f")" "$(($(stat -c %s "$f") / 1024))"
done
