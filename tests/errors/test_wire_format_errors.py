"""Odd wire formats (groups, odd varint encodings, wrong wire types, single-byte corruptions, huge length claims)
inside records and in the list itself: every backend accepts exactly what upb accepts and, where upb refuses,
raises :class:`flytecodec.DecodeError` at the record and offset worked out here (``support/bad_inputs.py``).
"""

from __future__ import annotations

import tracemalloc

import pytest
from flyteidl.admin import execution_pb2

from flytecodec import DecodeError, decode
from flytecodec.models.execution import Execution
from support.bad_inputs import Framed, check_error, check_sentence, field, ser, small_executions, tag, upb_parse, varint

# -- agreement with upb on odd wire formats ------------------------------------------------------------------------

_ODD_FIELDS = {
    # known fields with the wrong wire type: upb keeps them as unknown fields
    "id-as-varint": tag(1, 0) + b"\x05",
    "id-as-fixed64": tag(1, 1) + b"\x00" * 8,
    "id-as-fixed32": tag(1, 5) + b"\x00" * 4,
    "closure-as-group": tag(3, 3) + tag(4, 0) + b"\x01" + tag(3, 4),
    # field number 0
    "field-0-varint": tag(0, 0) + b"\x01",
    "field-0-bytes": tag(0, 2) + b"\x00",
    # groups
    "unknown-group": tag(99, 3) + tag(1, 2) + b"\x02hi" + tag(99, 4),
    "nested-groups": tag(99, 3) + tag(98, 3) + tag(98, 4) + tag(99, 4),
    "open-group": tag(99, 3) + tag(1, 0) + b"\x01",
    "stray-end-group": tag(99, 4),
    "mismatched-end-group": tag(99, 3) + tag(98, 4),
    # reserved wire types
    "wire-type-6": tag(99, 6) + b"\x00",
    "wire-type-7": tag(99, 7) + b"\x00",
    # truncations inside a field
    "cut-fixed64": tag(99, 1) + b"\x00" * 3,
    "cut-fixed32": tag(99, 5) + b"\x00",
    "cut-varint": tag(99, 0) + b"\x80",
    "cut-tag": b"\x80",
    # scalars with odd but valid encodings
    "phase-overlong-varint": field(3, tag(4, 0) + b"\x84\x80\x80\x80\x00"),
    "phase-unknown-enum-value": field(3, tag(4, 0) + varint(77)),
    "phase-negative": field(3, tag(4, 0) + varint(2**64 - 1)),
    "phase-as-packed": field(3, field(4, b"\x01\x02")),
    "timestamp-huge-seconds": field(3, field(5, tag(1, 0) + varint(2**63 - 1))),
    # a message field whose payload is not a message
    "id-garbage-payload": field(1, b"\x0f"),
    "id-huge-length": tag(1, 2) + varint(2**31 + 1) + b"\x00",
}


@pytest.mark.parametrize("where", ["message", "delimited", "list", "sequence"])
@pytest.mark.parametrize("odd", sorted(_ODD_FIELDS))
def test_odd_wire_format_agrees_with_upb(backend, odd, where):
    """Appended to record 1 of 3, an odd field is rejected exactly when upb rejects it; if accepted, it survives."""
    payloads = [ser(r) for r in small_executions()]
    payloads[1] += _ODD_FIELDS[odd]
    expected = upb_parse(execution_pb2.Execution, payloads[1])
    if where == "message":
        data, framing, index, offset = payloads[1], "message", 0, 0
    elif where == "sequence":
        data, framing, index, offset = payloads, None, 1, 0
    elif where == "delimited":
        first = varint(len(payloads[0])) + payloads[0]
        data = b"".join(varint(len(p)) + p for p in payloads)
        framing, index, offset = "delimited", 1, len(first)
    else:
        framed = Framed(payloads, token=b"t")
        data, framing, index, offset = framed.data, "list", 1, framed.starts[1]
        assert (upb_parse(execution_pb2.ExecutionList, data) is None) == (expected is None)
    if expected is None:
        with pytest.raises(DecodeError) as info:
            decode(Execution, data, framing=framing)
        check_error(info.value, index, offset)
        return
    batch = decode(Execution, data, framing=framing)
    model = batch[index]
    assert model.to_flyte_idl() == expected
    assert model.serialize_to_string() == payloads[1]  # the exact bytes, odd field where it stood
    assert model.id.name == expected.id.name
    assert model.closure.phase == expected.closure.phase


# Odd fields that are broken from their own tag on: between records of a list, the error is "record 1, at this tag".
_BROKEN_AT_THEIR_TAG = {
    "field-0-varint",
    "field-0-bytes",
    "open-group",
    "stray-end-group",
    "mismatched-end-group",
    "wire-type-6",
    "wire-type-7",
    "id-garbage-payload",
    "id-huge-length",
}


@pytest.mark.parametrize("odd", sorted(_ODD_FIELDS))
def test_odd_wire_format_in_the_list_itself_agrees_with_upb(backend, odd):
    """The odd field sits between records of the ``*List`` response, outside any record."""
    payloads = [ser(r) for r in small_executions()]
    head = field(1, payloads[0])
    data = head + _ODD_FIELDS[odd] + field(1, payloads[1]) + field(1, payloads[2])
    expected = upb_parse(execution_pb2.ExecutionList, data)
    if expected is None:
        with pytest.raises(DecodeError) as info:
            decode(Execution, data, framing="list")
        if odd in _BROKEN_AT_THEIR_TAG:
            check_error(info.value, 1, len(head))
        else:  # a cut field swallows the bytes after it: where the walk stops depends on what it read
            assert info.value.index in (1, 2, 3)
            assert len(head) <= info.value.offset < len(data)
            check_sentence(info.value)
        return
    batch = decode(Execution, data, framing="list")
    assert [m.to_flyte_idl() for m in batch] == list(expected.executions)
    assert batch.token == expected.token


def test_single_byte_corruptions_agree_with_upb(backend):
    """Flip bits in every byte of a small list: flytecodec accepts exactly what upb accepts, and equally."""
    framed = Framed([ser(r) for r in small_executions()], token=b"tok")
    data = framed.data
    rejected = 0
    for position in range(len(data)):
        for mask in (0x01, 0x80, 0xFF):
            corrupt = bytearray(data)
            corrupt[position] ^= mask
            expected = upb_parse(execution_pb2.ExecutionList, corrupt)
            try:
                batch = decode(Execution, corrupt, framing="list")
            except DecodeError as e:
                rejected += 1
                assert expected is None, f"byte {position} ^ {mask:#x}: upb accepts, flytecodec raises {e}"
                assert 0 <= e.index <= 3 and 0 <= e.offset < len(data)
                check_sentence(e)
                continue
            assert expected is not None, f"byte {position} ^ {mask:#x}: upb rejects, flytecodec accepts"
            assert [m.to_flyte_idl() for m in batch] == list(expected.executions)
            assert batch.token == expected.token
    assert rejected  # the corruptions do reach the error paths


@pytest.mark.parametrize("length", [2**31, 2**31 + 1, 2**32, 2**40, 2**63, 2**64 - 1])
def test_huge_length_claim_inside_a_message_allocates_nothing(backend, length):
    """A nested field claiming 2 GiB or more fails at once, without reserving the memory it claims."""
    record = ser(small_executions()[0])
    payload = record + tag(2, 2) + varint(length) + b"\x0a\x02ab"
    assert upb_parse(execution_pb2.Execution, payload) is None
    inner = field(3, tag(13, 2) + varint(length) + b"xyz")  # closure.output_data with a huge length
    assert upb_parse(execution_pb2.Execution, inner) is None
    tracemalloc.start()
    try:
        for data, framing, index, offset in (
            (payload, "message", 0, 0),
            ([record, payload], None, 1, 0),
            ([inner], None, 0, 0),
            (field(1, record) + field(1, payload), "list", 1, len(field(1, record))),
        ):
            with pytest.raises(DecodeError) as info:
                decode(Execution, data, framing=framing)
            check_error(info.value, index, offset)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20
