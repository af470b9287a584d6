"""Which backend decodes: ``native`` (the Rust extension) or ``python`` (protobuf's upb).

``FLYTECODEC_BACKEND=python|native`` in the environment picks one at import; :func:`set_backend` and
:func:`using_backend` switch at run time (tests run everything under both).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

BACKENDS = ("native", "python")
_active: str = ""


def _native_decoder():
    """The extension's decoder, or None when the extension is missing or has no decoder."""
    try:
        from flytecodec import _native
    except ImportError:
        return None
    return getattr(_native, "decode_records", None)


def available_backends() -> list[str]:
    """The backends that can run here, preferred first."""
    return [b for b in BACKENDS if b == "python" or _native_decoder() is not None]


def backend() -> str:
    """The active backend's name."""
    global _active
    if not _active:
        _active = _initial()
    return _active


def _initial() -> str:
    wanted = os.environ.get("FLYTECODEC_BACKEND", "").strip().lower()
    if wanted:
        _check(wanted, source="FLYTECODEC_BACKEND")
        return wanted
    return available_backends()[0]


def _check(name: str, source: str) -> None:
    if name not in BACKENDS:
        raise ValueError(f"{source}: unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if name not in available_backends():
        raise ValueError(
            f"{source}: the {name} backend is not available here "
            f"(flytecodec._native is missing or has no decoder); available: {', '.join(available_backends())}"
        )


def set_backend(name: str) -> None:
    """Make ``name`` (``"native"`` or ``"python"``) the active backend."""
    global _active
    _check(name, source="set_backend")
    _active = name


@contextlib.contextmanager
def using_backend(name: str) -> Iterator[str]:
    """Run a block with ``name`` as the active backend, then restore the previous one."""
    previous = backend()
    set_backend(name)
    try:
        yield name
    finally:
        set_backend(previous)
