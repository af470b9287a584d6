"""flytecodec's PEP 517 build backend: maturin's, except that it never downloads a Rust toolchain by itself.

maturin's backend, finding no ``cargo`` on PATH, silently downloads a whole Rust toolchain (hundreds of MB) into
the user's cache and builds with it, or fails obscurely where that download site cannot be reached. Building
flytecodec from source needs Rust; most users want a wheel instead. So every hook here first checks for
``cargo`` and, without it, stops with a message saying what to do. ``FLYTECODEC_DOWNLOAD_RUST=1`` restores
maturin's download for those who want it.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from typing import Any

import maturin

_NO_CARGO = """
flytecodec: building from source needs a Rust toolchain, and no `cargo` is on PATH.
Either
  * install a wheel: `pip install flytecodec-<version>-cp3XX-...-manylinux...whl` (one per CPython 3.9-3.13,
    Linux x86_64), or let pip pick one from an index with `pip install --only-binary flytecodec flytecodec`;
  * or install Rust (https://rustup.rs, Rust >= 1.85) so that `cargo` is on PATH, and run pip again;
  * or set FLYTECODEC_DOWNLOAD_RUST=1 to let maturin download a temporary Rust toolchain (several hundred MB).
"""


def _require_cargo() -> None:
    """Stop the build with a clear message when no Rust toolchain is on PATH (unless the download is wanted)."""
    if os.environ.get("FLYTECODEC_DOWNLOAD_RUST") == "1":
        return
    os.environ["MATURIN_NO_INSTALL_RUST"] = "1"
    if shutil.which("cargo") is None:
        sys.stderr.write(_NO_CARGO)
        raise SystemExit(1)


def get_requires_for_build_wheel(config_settings: Mapping[str, Any] | None = None) -> list[str]:
    """PEP 517 hook: maturin's, after the cargo check."""
    _require_cargo()
    return maturin.get_requires_for_build_wheel(config_settings)


def get_requires_for_build_editable(config_settings: Mapping[str, Any] | None = None) -> list[str]:
    """PEP 660 hook: maturin's, after the cargo check."""
    _require_cargo()
    return maturin.get_requires_for_build_editable(config_settings)


def get_requires_for_build_sdist(config_settings: Mapping[str, Any] | None = None) -> list[str]:
    """PEP 517 hook: maturin's, after the cargo check (maturin reads the crate with cargo to write an sdist)."""
    _require_cargo()
    return maturin.get_requires_for_build_sdist(config_settings)


def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: Mapping[str, Any] | None = None) -> str:
    """PEP 517 hook: maturin's, after the cargo check."""
    _require_cargo()
    return maturin.prepare_metadata_for_build_wheel(metadata_directory, config_settings)


def prepare_metadata_for_build_editable(
    metadata_directory: str, config_settings: Mapping[str, Any] | None = None
) -> str:
    """PEP 660 hook: maturin's, after the cargo check."""
    _require_cargo()
    return maturin.prepare_metadata_for_build_editable(metadata_directory, config_settings)


def build_wheel(
    wheel_directory: str, config_settings: Mapping[str, Any] | None = None, metadata_directory: str | None = None
) -> str:
    """PEP 517 hook: maturin's, after the cargo check."""
    _require_cargo()
    return maturin.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_editable(
    wheel_directory: str, config_settings: Mapping[str, Any] | None = None, metadata_directory: str | None = None
) -> str:
    """PEP 660 hook: maturin's, after the cargo check."""
    _require_cargo()
    return maturin.build_editable(wheel_directory, config_settings, metadata_directory)


def build_sdist(sdist_directory: str, config_settings: Mapping[str, Any] | None = None) -> str:
    """PEP 517 hook: maturin's, after the cargo check."""
    _require_cargo()
    return maturin.build_sdist(sdist_directory, config_settings)
