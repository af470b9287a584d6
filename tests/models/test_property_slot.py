"""A native property is read through a `tp_descr_get` slot of the extension's own (not PyO3's wrapper): the
same values and errors as its `__get__` called by name, and an error raised from it leaks nothing."""

from __future__ import annotations

import datetime
import sys

import pytest

import flytecodec
from flytecodec.models.execution import ExecutionClosure
from support import malformed as mf
from support.differential import needs_native

pytestmark = needs_native

# started_at (field 5) at a second past the largest Timestamp: reading it raises ValueError
BAD_STARTED_AT = mf.tag(4, 0) + mf.varint(4) + mf.ld(5, mf.tag(1, 0) + mf.varint(253_402_300_800))
GOOD = mf.tag(4, 0) + mf.varint(4) + mf.ld(5, mf.tag(1, 0) + mf.varint(1_700_000_000))


def _closure(data: bytes) -> ExecutionClosure:
    with flytecodec.using_backend("native"):
        return flytecodec.decode(ExecutionClosure, data, framing="message")[0]


def test_attribute_read_and_dunder_get_agree():
    prop = vars(ExecutionClosure)["started_at"]
    closure = _closure(GOOD)
    expected = datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=datetime.timezone.utc)
    assert type(prop).__get__(prop, _closure(GOOD), ExecutionClosure) == expected
    assert closure.started_at == expected
    assert closure.started_at is type(prop).__get__(prop, closure, ExecutionClosure)
    assert ExecutionClosure.started_at is prop
    assert type(prop).__get__(prop, None, ExecutionClosure) is prop


def test_an_error_is_raised_as_by_the_python_backend_and_leaks_nothing():
    with flytecodec.using_backend("python"):
        reference = flytecodec.decode(ExecutionClosure, BAD_STARTED_AT, framing="message")[0]
    with pytest.raises(ValueError) as python_error:
        reference.started_at
    closure = _closure(BAD_STARTED_AT)
    assert closure.phase == 4
    before = sys.getrefcount(ValueError)
    for _ in range(1000):
        with pytest.raises(ValueError) as native_error:
            closure.started_at
    assert str(native_error.value) == str(python_error.value)
    del native_error
    assert sys.getrefcount(ValueError) - before < 10


def test_decoded_models_made_after_the_first_take_instance_attributes():
    # the first model of a process is made through PyO3's path, the others by the class's tp_alloc alone
    closures = [_closure(GOOD) for _ in range(3)]
    for i, closure in enumerate(closures):
        assert vars(closure) == {}
        closure.note = f"n{i}"
        assert (closure.phase, closure.note, closure.started_at.year) == (4, f"n{i}", 2023)
        assert vars(closure) == {"note": f"n{i}"}
        assert closure.to_flyte_idl().phase == 4
