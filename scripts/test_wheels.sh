#!/usr/bin/env bash
# Installs each built wheel as a user without Rust would, and smoke-tests it (scripts/smoke_wheel.py).
#
#   bash scripts/test_wheels.sh                 # every wheel in dist/ (WHEEL_DIR), then the sdist's no-Rust check
#   bash scripts/test_wheels.sh dist/X.whl ...  # these wheels (and sdists: flytecodec-*.tar.gz)
#
# Per wheel: a fresh venv of the wheel's CPython (pyenv's, or python3.X on PATH), in an environment with no Rust:
# PATH is the venv's bin, /usr/bin and /bin (checked to hold no cargo/rustc), CARGO=/nonexistent, CARGO_HOME and
# RUSTUP_HOME empty directories, HOME a new directory. pip installs the wheel with the cli and arrow extras and
# --only-binary :all:, so it cannot build anything; its output is checked for any build step all the same. Then
# scripts/smoke_wheel.py runs from an empty directory.
# Per sdist, in the same kind of environment: `pip install` of it must stop with flytecodec's message that Rust
# (or a wheel) is needed, having downloaded no toolchain. With SDIST_BUILD=1 and cargo on the caller's PATH it
# must also build and pass the smoke test (a full release build: minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${WHEEL_DIR:-dist}
pip_cache=${PIP_CACHE_DIR:-$HOME/.cache/pip}

if [ "$#" -gt 0 ]; then
    files=("$@")
else
    shopt -s nullglob
    files=("$out"/flytecodec-*.whl "$out"/flytecodec-*.tar.gz)
    shopt -u nullglob
fi
if [ "${#files[@]}" -eq 0 ]; then
    echo "test_wheels: nothing to test in $out (run scripts/build_wheels.sh)" >&2
    exit 2
fi

for tool in cargo rustc rustup; do
    if PATH=/usr/bin:/bin command -v "$tool" >/dev/null; then
        echo "test_wheels: $tool is in /usr/bin or /bin; cannot make an environment without Rust" >&2
        exit 2
    fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/flytecodec-wheels.XXXXXX")
trap 'rm -rf "$work"' EXIT

interpreter() {  # the CPython X.Y (or X.Yt) for a wheel's abi tag
    local version=$1 found
    found=$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"${version%t}"*/bin/python"$version" 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$found" ]; then found=$(command -v "python$version" || true); fi
    if [ -z "$found" ]; then
        echo "test_wheels: no CPython $version here (pyenv or python$version on PATH)" >&2
        return 1
    fi
    echo "$found"
}

no_rust() {  # runs a command in an environment without Rust, with the venv $1's bin first on PATH
    local venv=$1
    shift
    env -i HOME="$work/home" PATH="$venv/bin:/usr/bin:/bin" LANG=C.UTF-8 TMPDIR="$work/tmp" \
        CARGO=/nonexistent CARGO_HOME="$work/empty-cargo" RUSTUP_HOME="$work/empty-rustup" \
        PIP_CACHE_DIR="$pip_cache" PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 "$@"
}

mkdir -p "$work/home" "$work/tmp" "$work/empty-cargo" "$work/empty-rustup" "$work/run"
results=()
failed=0

for file in "${files[@]}"; do
    file=$(cd "$(dirname "$file")" && pwd)/$(basename "$file")
    name=$(basename "$file")
    case $name in
        *.whl)
            # flytecodec-VERSION-cpXY-cpXY[t]-PLATFORM.whl: CPython X.Y, free-threaded (X.Yt) for an abi tag with t
            tag=$(sed -E 's/^flytecodec-[^-]+-cp[0-9]+-cp([0-9])([0-9]+)(t?)-.*/\1.\2\3/' <<<"$name")
            python=$(interpreter "$tag")
            venv=$work/venv-$tag
            start=$SECONDS
            "$python" -m venv "$venv"
            if ! no_rust "$venv" sh -c '! command -v cargo && ! command -v rustc' >/dev/null; then
                echo "test_wheels: cargo or rustc is reachable in the test environment" >&2
                exit 1
            fi
            log=$work/pip-$tag.log
            if ! no_rust "$venv" python -m pip install --only-binary :all: "$file[cli,arrow]" >"$log" 2>&1; then
                cat "$log" >&2
                results+=("FAIL  $name: pip install failed")
                failed=1
                continue
            fi
            if grep -Eiq 'building wheel|preparing metadata|running setup\.py|installing build dependencies' "$log"; then
                cat "$log" >&2
                results+=("FAIL  $name: pip built something")
                failed=1
                continue
            fi
            installed=$((SECONDS - start))
            start=$SECONDS
            if smoke=$(cd "$work/run" && no_rust "$venv" python "$root/scripts/smoke_wheel.py" 2>&1); then
                results+=("PASS  $name (install ${installed} s, smoke $((SECONDS - start)) s): ${smoke##*$'\n'}")
            else
                echo "$smoke" >&2
                results+=("FAIL  $name: smoke test")
                failed=1
            fi
            rm -rf "$venv"
            ;;
        *.tar.gz)
            python=$(command -v python3)
            venv=$work/venv-sdist
            "$python" -m venv "$venv"
            log=$work/pip-sdist.log
            if no_rust "$venv" python -m pip install --only-binary :all: --no-binary flytecodec "$file" >"$log" 2>&1; then
                cat "$log" >&2
                results+=("FAIL  $name: installed without Rust (a toolchain was downloaded?)")
                failed=1
            elif ! grep -q 'flytecodec: building from source needs a Rust toolchain' "$log" \
                || grep -Eiq 'puccinialin|installing into a temporary directory' "$log"; then
                cat "$log" >&2
                results+=("FAIL  $name: no clear message without Rust")
                failed=1
            else
                results+=("PASS  $name without Rust: pip stops with flytecodec's message, no toolchain downloaded")
            fi
            rm -rf "$venv"
            if [ "${SDIST_BUILD:-0}" = 1 ]; then
                venv=$work/venv-sdist-build
                "$python" -m venv "$venv"
                start=$SECONDS
                # With Rust: the caller's PATH (cargo on it); only-binary for the dependencies, the sdist itself
                # is built from source.
                if PIP_CACHE_DIR="$pip_cache" "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
                    --only-binary :all: --no-binary flytecodec "$file[cli,arrow]" \
                    && smoke=$(cd "$work/run" && "$venv/bin/python" "$root/scripts/smoke_wheel.py" 2>&1); then
                    results+=("PASS  $name with Rust: built and passed (${smoke##*$'\n'}) in $((SECONDS - start)) s")
                else
                    echo "${smoke:-}" >&2
                    results+=("FAIL  $name with Rust")
                    failed=1
                fi
                rm -rf "$venv"
            fi
            ;;
        *)
            echo "test_wheels: $name is neither a wheel nor an sdist" >&2
            exit 2
            ;;
    esac
done

printf '%s\n' "${results[@]}"
exit "$failed"
