"""Honest counts: distinct values compared with an oracle, per oracle, backend and source of the models.

A value is counted once per (oracle, backend, source, record, path): comparing the same record's field again in
another test, or the same flytekit value once per backend under the same backend, does not count twice. The
record is named by a digest of its bytes, so two tests that decode the same corpus count it once.

Sources: ``decoded`` (models that ``flytecodec.decode`` made from corpus bytes), ``hypothesis`` (models decoded
from generated messages) and ``constructed`` (models built by their constructor or ``from_flyte_idl``, not by
the decoder). ``tests/conftest.py`` prints the table at the end of the session.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

import flytecodec

SOURCES = ("decoded", "hypothesis", "constructed")
_SEEN: dict[tuple[str, str, str], set[int]] = defaultdict(set)


def record_key(data: bytes) -> bytes:
    """A short digest naming a record by its bytes."""
    return hashlib.blake2b(bytes(data), digest_size=12).digest()


def add(oracle: str, source: str, record: bytes, path: str) -> None:
    """Count one compared value: ``path`` of the record whose key is ``record``, under the active backend."""
    assert source in SOURCES, source
    _SEEN[(oracle, flytecodec.backend(), source)].add(hash((record, path)))


def table() -> list[tuple[str, str, str, int]]:
    """``(oracle, backend, source, distinct values)`` rows, sorted."""
    return sorted((oracle, backend, source, len(seen)) for (oracle, backend, source), seen in _SEEN.items())
