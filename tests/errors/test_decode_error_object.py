""":class:`flytecodec.DecodeError`: a ``ValueError`` saying which message failed (``.index``), where it starts in
the input (``.offset``) and why (``.reason``), in one sentence; it pickles, on each backend.
"""

from __future__ import annotations

import pickle

import pytest
from google.protobuf.message import DecodeError as PbDecodeError

import flytecodec
from flytecodec import DecodeError, decode
from flytecodec.models.execution import Execution
from support.bad_inputs import Framed, check_sentence, field, ser, small_executions, varint


def test_decode_error_is_a_value_error():
    assert issubclass(DecodeError, ValueError)
    assert flytecodec.DecodeError is DecodeError
    error = DecodeError("bad tag", index=3, offset=17)
    assert (error.index, error.offset) == (3, 17)
    check_sentence(error)


# -- the error object ------------------------------------------------------------------------------------------------


def _errors() -> list:
    """Real DecodeErrors from each framing."""
    payloads = [ser(r) for r in small_executions()]
    inputs = [
        (Framed([payloads[0], payloads[1][:-2], payloads[2]]).data, "list"),
        (b"".join(varint(len(p)) + p for p in payloads) + b"\x80", "delimited"),
        (b"\x0f", "message"),
        ([payloads[0], 12], None),
        ([payloads[0], payloads[1], b"\x00"], None),
    ]
    out = []
    for data, framing in inputs:
        with pytest.raises(DecodeError) as info:
            decode(Execution, data, framing=framing)
        out.append(info.value)
    return out


def test_decode_error_pickles(backend):
    for error in [*_errors(), DecodeError("custom reason", index=5, offset=99, model="flyteidl.admin.Execution")]:
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is DecodeError
        assert (again.index, again.offset) == (error.index, error.offset)
        assert getattr(again, "reason", None) == getattr(error, "reason", None)
        assert getattr(again, "model", None) == getattr(error, "model", None)
        assert str(again) == str(error)
        assert again.args == error.args
        check_sentence(again)


def test_decode_error_attributes_and_sentence(backend):
    records = [ser(r) for r in small_executions()]
    stream = sum(len(varint(len(p))) + len(p) for p in records)
    expected = [(1, len(field(1, records[0]))), (3, stream), (0, 0), (1, 0), (2, 0)]
    errors = _errors()
    assert [(e.index, e.offset) for e in errors] == expected
    for error in errors:
        assert isinstance(error.reason, str) and error.reason
        assert error.reason in str(error)
        check_sentence(error)


def test_decode_error_is_caught_as_value_error(backend):
    with pytest.raises(ValueError):
        decode(Execution, b"\x0f", framing="message")
    try:
        decode(Execution, b"\x0f", framing="message")
    except ValueError as e:
        assert isinstance(e, DecodeError)
        assert not isinstance(e, PbDecodeError)
