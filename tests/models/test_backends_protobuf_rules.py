"""The ``native`` (Rust) and ``python`` (upb) backends follow the protobuf rules identically, checked directly:
packed and unpacked repeated scalars, the depth limit, merged sub-messages, the last scalar and the last oneof
member winning, unknown fields kept, truncations, bad wire types and tags, invalid UTF-8.

The tests at the end pin the differences the differential tests once found (each fixed), with their minimal inputs.
"""

from __future__ import annotations

import datetime

import pytest
from flyteidl.admin import common_pb2, execution_pb2

import flytecodec
from flytecodec import DecodeError, decode
from flytecodec.models.execution import Execution, ExecutionClosure
from flytecodec.models.literals import Literal
from support import malformed as mf
from support.differential import (
    BACKENDS,
    Compare,
    Tally,
    check_input,
    decode_both,
    in_closure_outputs,
    literal_chain,
    needs_native,
    serialized,
)

pytestmark = needs_native


# -- the protobuf rules, directly ---------------------------------------------------------------------------


def _both(model, data, framing="message"):
    """The batch from each backend (failing the test on a DecodeError)."""
    out = {}
    for name in BACKENDS:
        with flytecodec.using_backend(name):
            out[name] = decode(model, data, framing=framing)
    return out


def _errors(model, data, framing="message") -> dict:
    out = {}
    for name in BACKENDS:
        with flytecodec.using_backend(name), pytest.raises(DecodeError) as info:
            decode(model, data, framing=framing)
        out[name] = (info.value.index, info.value.offset, info.value.model, info.value.reason)
    assert out["python"] == out["native"], out
    return out


def _identical(model, data, framing="message") -> dict:
    tally, compare = Tally(), Compare()
    check_input(model, data, framing, tally, compare, "direct")
    assert sum(tally.rejected.values()) == 0
    return _both(model, data, framing)


PHASE = 4  # ExecutionClosure.phase
NOTIFICATION = execution_pb2.ExecutionClosure.DESCRIPTOR.fields_by_name["notifications"].number


@pytest.mark.parametrize(
    "phases",
    [
        mf.tag(1, 0) + b"\x01" + mf.tag(1, 0) + b"\x04",  # not packed
        mf.ld(1, b"\x01\x04"),  # packed
        mf.ld(1, b"\x01") + mf.tag(1, 0) + b"\x04",  # both
        mf.ld(1, b"") + mf.ld(1, b"\x01\x04"),  # an empty packed run too
        mf.ld(1, b"\x81\x00\x04"),  # an overlong element (1 in two bytes)
    ],
)
def test_repeated_scalars_packed_and_not(phases):
    data = mf.ld(NOTIFICATION, phases + mf.ld(2, b""))
    for batch in _identical(ExecutionClosure, data).values():
        assert list(batch[0].notifications[0].phases) == [1, 4]


def test_malformed_packed_run_is_refused_by_both():
    _errors(ExecutionClosure, mf.ld(NOTIFICATION, mf.ld(1, b"\x01\x80")))
    _errors(ExecutionClosure, mf.ld(NOTIFICATION, mf.ld(1, b"\xff" * 10 + b"\x01")))


@pytest.mark.parametrize("levels", [99, 100, 101])
def test_depth_limit(levels):
    """Literal.collection -> LiteralCollection.literals -> Literal …: 100 levels pass, 101 fail; inside an
    ExecutionList the record is one level deeper, so a record of 100 levels fails there (reported as that record,
    at its tag) but passes alone."""
    chain = literal_chain(levels)
    if levels <= 100:
        assert [len(b) for b in _identical(Literal, chain).values()] == [1, 1]
    else:
        assert _errors(Literal, chain)["native"][:3] == (0, 0, "flyteidl.core.Literal")
    record = mf.ld(3, in_closure_outputs(literal_chain(levels - 5)))  # Execution: 5 levels above the chain
    listed = mf.ld(1, b"") + mf.ld(1, record)
    if levels <= 99:
        assert [len(b) for b in _identical(Execution, listed, "list").values()] == [2, 2]
    else:
        assert _errors(Execution, listed, "list")["native"][:2] == (1, 2)
    if levels <= 100:
        assert [len(b) for b in _identical(Execution, record).values()] == [1, 1]
    else:
        _errors(Execution, record)


def test_split_sub_message_merges():
    started = mf.ld(5, mf.tag(1, 0) + mf.varint(1_700_000_000))
    nanos = mf.ld(5, mf.tag(2, 0) + mf.varint(5_000))
    data = mf.ld(3, mf.tag(PHASE, 0) + b"\x04" + started) + mf.ld(3, nanos)
    for batch in _identical(Execution, data).values():
        closure = batch[0].closure
        assert closure.phase == 4
        assert closure.started_at == datetime.datetime(2023, 11, 14, 22, 13, 20, 5, tzinfo=datetime.timezone.utc)


def test_last_scalar_wins():
    data = mf.tag(PHASE, 0) + b"\x02" + mf.tag(PHASE, 0) + b"\x04" + mf.tag(PHASE, 0) + mf.padded_varint(3, 10)
    for batch in _identical(ExecutionClosure, data).values():
        assert batch[0].phase == 3


@pytest.mark.parametrize(
    ("data", "expect"),
    [
        (mf.ld(1, mf.ld(2, b"s3://o")) + mf.ld(2, mf.ld(1, b"E")), "error"),  # outputs, then error
        (mf.ld(2, mf.ld(1, b"E")) + mf.ld(1, mf.ld(2, b"s3://o")), "outputs"),  # error, then outputs
        (mf.ld(2, mf.ld(1, b"E")) + mf.ld(10, b"cause"), "abort_cause"),
        (mf.ld(10, b"cause") + mf.ld(2, mf.ld(1, b"E")) + mf.tag(1, 0) + b"\x01", "error"),  # wrong wire: unknown
        (mf.ld(1, mf.ld(2, b"a")) + mf.ld(2, b"") + mf.ld(1, mf.ld(2, b"b")), "outputs"),  # no merge across
    ],
)
def test_oneof_last_member_wins(data, expect):
    for batch in _identical(ExecutionClosure, data).values():
        closure = batch[0]
        set_members = [m for m in ("outputs", "error", "abort_cause", "abort_metadata") if getattr(closure, m)]
        assert set_members == [expect]
        if expect == "outputs":
            assert closure.outputs.uri == "s3://o" or closure.outputs.uri == "b"


@pytest.mark.parametrize(
    "extra",
    [
        mf.tag(1000, 0) + b"\x96\x01",
        mf.tag(1000, 1) + b"12345678",
        mf.ld(1000, b"\xff\xfe"),
        mf.tag(1000, 5) + b"1234",
        mf.tag(1000, 3) + mf.tag(1, 0) + b"\x01" + mf.tag(1000, 4),
        mf.tag(PHASE, 2) + b"\x01\x02",  # a known field with the wrong wire type
    ],
)
def test_unknown_fields_are_kept(extra):
    data = mf.tag(PHASE, 0) + b"\x04" + extra
    record = mf.ld(3, data) + extra
    for model, raw in ((ExecutionClosure, data), (Execution, record)):
        for batch in _identical(model, raw).values():
            assert batch[0].serialize_to_string() == raw
            assert batch[0].to_flyte_idl() == model._pb_class.FromString(raw)


@pytest.mark.parametrize("cut", range(1, 12))
def test_truncation(cut):
    data = mf.ld(1, mf.ld(4, b"name") + mf.ld(1, b"proj"))
    if cut < len(data):
        _errors(Execution, data[:cut])
        _errors(Execution, mf.ld(1, b"") + mf.tag(1, 2) + mf.varint(len(data)) + data[:cut], "list")


@pytest.mark.parametrize(
    "bad", [b"\x0e", b"\x0f", b"\x0c", mf.tag(1, 3) + mf.tag(2, 4), mf.tag(1, 3), b"\x00", b"\x80\x80\x80\x80\x10\x00"]
)
def test_bad_wire_types_and_tags(bad):
    _errors(Execution, mf.ld(1, b"") + bad)
    _errors(Execution, mf.ld(1, bad))


@pytest.mark.parametrize("bad", mf.BAD_UTF8)
def test_invalid_utf8_is_refused_by_both(bad):
    name = mf.ld(1, mf.ld(4, b"ok" + bad))  # Execution.id.name
    label = mf.ld(2, mf.ld(7, mf.ld(1, mf.ld(1, b"k") + mf.ld(2, bad))))  # spec.labels value
    key = mf.ld(2, mf.ld(8, mf.ld(1, mf.ld(1, bad) + mf.ld(2, b"v"))))  # spec.annotations key
    message = mf.ld(3, mf.ld(2, mf.ld(2, b"boom" + bad)))  # closure.error.message
    for data in (name, label, key, message):
        _errors(Execution, data)
        _errors(Execution, [mf.ld(1, b""), data], None)
        _errors(Execution, mf.ld(1, mf.ld(1, b"")) + mf.ld(1, data), "list")


# -- differences found: each pinned with its minimal input -----------------------------------------------------


def _outcomes(model, data, framing):
    py, nat = decode_both(model, data, framing)
    show = lambda r: (r.index, r.offset, r.model) if isinstance(r, DecodeError) else len(r)  # noqa: E731
    return show(py), show(nat)


@pytest.mark.parametrize(
    "data",
    [
        bytes.fromhex("0a00" + "8080808010" + "00"),  # a tag over 32 bits: python (1, 0), native (1, 2)
        bytes.fromhex("0a00" + "8a8080808000" + "00"),  # a 6-byte tag for field 1: python (2, 0), native (1, 2)
    ],
)
def test_same_list_long_tag(data):
    py, nat = _outcomes(Execution, data, "list")
    assert py == nat


def test_same_duration_overflow_message():
    data = bytes.fromhex("320a08ffffffffffffffff7f")  # ExecutionClosure.duration.seconds = 2**63 - 1
    errors = {}
    for name, batch in _both(ExecutionClosure, data).items():
        with pytest.raises(OverflowError) as info:
            batch[0].duration
        errors[name] = str(info.value)
    # python: "Python int too large to convert to C int"; native: "days=106751991167300; must have ..."
    assert errors["python"] == errors["native"]


@pytest.mark.parametrize("data", [bytes.fromhex("2000"), bytes.fromhex("1a022000")])
def test_same_is_empty(data):
    model = ExecutionClosure if data[0] == 0x20 else Execution
    got = {}
    for name, batch in _both(model, data).items():
        m = batch[0] if model is ExecutionClosure else batch[0].closure
        got[name] = m.is_empty  # python True (ByteSize() == 0), native False (2 bytes)
    assert got["python"] == got["native"]


@pytest.mark.parametrize("data", [bytes.fromhex("1a022000"), bytes.fromhex("1a0420012002")])
def test_same_nested_serialize_to_string(data):
    got = {name: batch[0].closure.serialize_to_string() for name, batch in _both(Execution, data).items()}
    assert got["python"] == got["native"]  # python b"" / b" \x02"; native the original b" \x00" / b" \x01 \x02"


def test_same_nested_serialize_to_string_of_a_map():
    labels = common_pb2.Labels(values={f"k{i}": "v" for i in range(12)})
    data = mf.ld(2, mf.ld(7, labels.SerializeToString(deterministic=True)))  # Execution.spec.labels
    got = {name: batch[0].spec.labels.serialize_to_string() for name, batch in _both(Execution, data).items()}
    assert got["python"] == got["native"]


@pytest.mark.parametrize("data", [bytes.fromhex("0800" + "0a00"), bytes.fromhex("0b0c" + "0a00")])
def test_same_list_records_field_with_another_wire_type(data):
    got = {name: [m.serialize_to_string() for m in batch] for name, batch in _both(Execution, data, "list").items()}
    assert got["python"] == got["native"]  # python [b"\x00"] / [b"\x0c"], native [b""]


def test_same_list_10_byte_varint_before_a_bad_record():
    data = bytes.fromhex("18" + "ff" * 9 + "7f" + "0a05" + "0a032201ff")  # unknown field 3, then a bad record
    py, nat = _outcomes(Execution, data, "list")
    assert py == nat  # python (0, 0) "varint overflows 64 bits"; native (0, 11)


def test_same_list_10_byte_varint_then_serialize_to_string():
    data = bytes.fromhex("18" + "ff" * 9 + "7f" + "0a00")
    got = {}
    for name, batch in _both(Execution, data, "list").items():
        got[name] = serialized(batch[0])[0]  # python raises ValueError('varint overflows 64 bits', 0)
    assert got["python"] == got["native"] == b""


def test_same_delimited_10_byte_prefix():
    data = bytes.fromhex("80" * 9 + "02")  # length 2**64 mod 2**64 = 0 as protobuf reads it
    py, nat = _outcomes(Execution, data, "delimited")
    assert py == nat  # python DecodeError (0, 0); native one empty record


@pytest.mark.parametrize(
    ("data", "framing"),
    [
        (bytes.fromhex("0a808080808000"), "message"),  # Execution.id, length 0 in 6 bytes: python (0, 0), native ok
        (bytes.fromhex("0a808080808000"), None),  # the same, as a one-item sequence
        (bytes.fromhex("0a8280808080000a00"), "list"),  # a record of 2 bytes, its length in 6: python (1, 0)
    ],
)
def test_same_long_length_prefix(data, framing):
    py, nat = _outcomes(Execution, [data] if framing is None else data, framing)
    assert py == nat
