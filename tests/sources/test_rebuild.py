"""flytecodec.sources._rebuild's scan of a closure's top-level fields: its walk of the common fields gives what the
general walk gives — on corpus closures and on the encodings it leaves to the general walk — and the same error
on broken bytes."""

from __future__ import annotations

import pytest

from flytecodec.sources import _rebuild
from flytecodec.testing import corpus

ONEOFS = [_rebuild.EXECUTION_CLOSURE_ONEOF, _rebuild.NODE_CLOSURE_ONEOF, _rebuild.TASK_CLOSURE_ONEOF]


def test_corpus_closures_without_the_general_walk(monkeypatch):
    closures = [m.closure.SerializeToString() for m in corpus.executions(300, seed=3)]
    assert any(len(c) > 127 for c in closures)
    expected = [[_rebuild._scan(closure, oneof) for oneof in ONEOFS] for closure in closures]
    monkeypatch.setattr(_rebuild, "_scan", None)  # corpus closures are all common fields: never called
    assert [[_rebuild.scan(closure, oneof) for oneof in ONEOFS] for closure in closures] == expected


ERROR = _rebuild.field(2, _rebuild.field(2, b"x" * 200))  # a two-byte length
CASES = {
    "empty": b"",
    "errors then outputs then error": ERROR + _rebuild.field(1, b"") + ERROR + ERROR,
    "varints": _rebuild.uint(4, 3) + _rebuild.uint(4, 1 << 62) + ERROR + _rebuild.uint(15, 1),
    "three-byte length": _rebuild.field(2, b"y" * 20_000) + _rebuild.field(14, b""),
    "two-byte tag": _rebuild.field(14, b"") + bytes([0x82, 0x01, 0x00]) + ERROR,
    "fixed64 and fixed32": b"\x09" + bytes(8) + b"\x15" + bytes(4) + ERROR,
}


@pytest.mark.parametrize("closure", CASES.values(), ids=CASES.keys())
@pytest.mark.parametrize("oneof", ONEOFS)
def test_encodings(closure, oneof):
    assert _rebuild.scan(closure, oneof) == _rebuild._scan(closure, oneof)


BROKEN = {
    "length past the end": b"\x0a\xff\xff",
    "two-byte length past the end": b"\x12\x80\x02" + bytes(10),
    "varint cut": b"\x20\x80",
    "tag alone": ERROR + b"\x12",
    "field zero": b"\x02\x00",
    "group": b"\x0b",
}


@pytest.mark.parametrize("closure", BROKEN.values(), ids=BROKEN.keys())
def test_broken_bytes(closure):
    with pytest.raises(_rebuild.Malformed) as fast:
        _rebuild.scan(closure, _rebuild.EXECUTION_CLOSURE_ONEOF)
    with pytest.raises(_rebuild.Malformed) as general:
        _rebuild._scan(closure, _rebuild.EXECUTION_CLOSURE_ONEOF)
    assert fast.value.args == general.value.args
