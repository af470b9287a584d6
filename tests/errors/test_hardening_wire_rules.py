"""Issue 10, "Hardening, round two": the decoding faults and traps, each pinned by a test that failed before its fix;
here the wire rules: tags inside unknown groups, the python backend's walk of a list, every length bound, the
same reason on both backends, and records too deep inside a list.

Every test runs on both backends (the ``backend`` fixture) or compares them directly.
"""

from __future__ import annotations

import os
import pickle

import pytest
from flyteidl.admin import execution_pb2
from google.protobuf.message import DecodeError as PbDecodeError

import flytecodec
from flytecodec import decode
from flytecodec import framing as framing_module
from flytecodec.models.execution import Execution, ExecutionClosure
from flytecodec.models.literals import Literal
from support import malformed as mf
from support.bad_inputs import BOTH, decode_error
from support.differential import literal_chain

needs_both = pytest.mark.skipif(len(BOTH) < 2, reason="needs both backends (the native one is not built here)")


def _upb_accepts(cls, data: bytes) -> bool:
    try:
        cls.FromString(data)
    except PbDecodeError:
        return False
    return True


def _errors_on_both(model, data, framing=None) -> dict[str, tuple]:
    out = {}
    for name in BOTH:
        with flytecodec.using_backend(name):
            e = decode_error(model, data, framing)
            out[name] = (e.index, e.offset, e.reason)
    return out


# -- 1. tags inside an unknown group follow upb's rules -------------------------------------------------------

GROUP_CONTENTS_UPB_ACCEPTS = [
    "5b00025c",  # a varint of field 0
    "5b000200025c",  # two of them
    "5b02005c",  # a length-delimited field 0
    "5b0d000000005c",  # a fixed32 of field 0
    "5b0900000000000000005c",  # a fixed64 of field 0
    "5b03045c",  # a group numbered 0, closed by its own end tag
    "5b8080808000005c",  # tag 0 written in 5 bytes
    "5b0b03040c5c",  # field 0 in a group in a group
]
GROUP_CONTENTS_UPB_REFUSES = [
    "5b045c",  # an end-group of field 0 inside group 11
    "5b075c",  # wire type 7
    "5b8080808010005c",  # a tag over 32 bits
    "5b0300",  # a group of field 0 never closed
]


@pytest.mark.parametrize("hexdata", GROUP_CONTENTS_UPB_ACCEPTS)
def test_field_zero_inside_an_unknown_group_is_accepted(backend, hexdata):
    data = bytes.fromhex(hexdata)
    assert _upb_accepts(execution_pb2.Execution, data)
    batch = decode(Execution, data, framing="message")
    assert batch[0].serialize_to_string() == data
    assert batch[0].to_flyte_idl() == execution_pb2.Execution.FromString(data)


@pytest.mark.parametrize("hexdata", GROUP_CONTENTS_UPB_REFUSES)
def test_bad_tags_inside_a_group_are_refused(backend, hexdata):
    data = bytes.fromhex(hexdata)
    assert not _upb_accepts(execution_pb2.Execution, data)
    assert decode_error(Execution, data, "message").reason == "wire format is corrupt"


# -- 2. the python backend's walk of a list follows upb's rules too ----------------------------------------


@pytest.mark.parametrize("hexdata", ["0b00020c0a00", "1b03041c0a00", "0a001b00021c0a00"])
def test_list_with_field_zero_in_a_group_serializes_and_pickles(backend, hexdata):
    data = bytes.fromhex(hexdata)
    upb = execution_pb2.ExecutionList.FromString(data)
    batch = decode(Execution, data, framing="list")
    assert len(batch) == len(upb.executions)
    for model, record in zip(batch, upb.executions):
        assert model.serialize_to_string() == record.SerializeToString()
    again = pickle.loads(pickle.dumps(batch))
    assert [m.serialize_to_string() for m in again] == [m.serialize_to_string() for m in batch]


# -- 3. every length bound is upb's --------------------------------------------------------------------------


def test_read_length_refuses_what_upb_refuses():
    view = memoryview(b"\xfe\xff\xff\xff\x07")  # 2^31 - 2: the largest upb takes
    assert framing_module.read_length(view, 0) == (2**31 - 2, 5)
    for prefix in (b"\xff\xff\xff\xff\x07", b"\x80\x80\x80\x80\x08"):  # 2^31 - 1, 2^31
        with pytest.raises(ValueError, match="2\\^31 - 1 bytes or more"):
            framing_module.read_length(memoryview(prefix), 0)


@pytest.mark.parametrize("length", [2**31 - 1, 2**31])
def test_a_list_field_of_2_gib_is_refused_for_its_length(backend, length):
    data = b"\x12" + mf.varint(length) + b"abc"  # the page token, claiming 2 GiB
    e = decode_error(Execution, data, "list")
    assert (e.index, e.offset, e.reason) == (0, 0, "length is 2^31 - 1 bytes or more")


def _enough_memory(gib: int) -> bool:
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f)
        return int(info["MemAvailable"].split()[0]) > gib * (1 << 20)
    except (OSError, KeyError, ValueError):
        return False


@pytest.mark.skipif(
    os.environ.get("FLYTECODEC_SLOW") != "1" or not _enough_memory(8),
    reason="slow, and needs 8 GiB of free memory for a 2 GiB input: set FLYTECODEC_SLOW=1 to run",
)
def test_a_field_of_exactly_2_gib_is_refused():
    data = b"\x9a\x06\x80\x80\x80\x80\x08" + bytes(2**31)  # an unknown field of 2^31 bytes
    for name in BOTH:
        with flytecodec.using_backend(name):
            e = decode_error(Execution, data, "message")
            assert (e.index, e.offset, e.reason) == (0, 0, "wire format is corrupt")
    del data


# -- 8. both backends give the same reason ------------------------------------------------------------------


REASONS = [
    (Execution, "0002", "message", "wire format is corrupt"),
    (Execution, "0a01ff", "message", "wire format is corrupt"),
    (Execution, "0a020a00" + "0002", "list", "field number 0"),
    (Execution, "0a00" + "0a05", "list", "length runs past the end of the input"),
    (Execution, "0a00" + "ff", "list", "truncated varint"),
    (Execution, "0a00" + "ffffffffff01", "list", "varint is longer than 5 bytes"),
    (Execution, "0a00" + "8080808010", "list", "tag is over 32 bits"),
    (Execution, "0a00" + "0f", "list", "unexpected wire type 7"),
    (Execution, "0a00" + "0c", "list", "unexpected wire type 4"),
    (Execution, "0a00" + "0b", "list", "group is not closed"),
    (Execution, "0a00" + "0b14", "list", "end-group tag does not match its group"),
    (Execution, "0a00" + "09aa", "list", "field runs past the end of the input"),
    (Execution, "0a00" + "0b" * 101 + "0c" * 101, "list", "nesting exceeds the maximum depth"),
    (Execution, "0a02" + "0002", "list", "wire format is corrupt"),
    (Execution, "00" + "80", "delimited", "bad length prefix: truncated varint"),
    (Execution, "ff" * 10 + "01", "delimited", "bad length prefix: varint is longer than 10 bytes"),
    (ExecutionClosure, "0002", None, "wire format is corrupt"),
]


@needs_both
@pytest.mark.parametrize(("model", "hexdata", "framing", "reason"), REASONS)
def test_same_reason_on_both_backends(model, hexdata, framing, reason):
    data = bytes.fromhex(hexdata)
    if framing is None:
        data = [b"", data]
    errors = _errors_on_both(model, data, framing)
    assert errors["python"] == errors["native"]
    assert errors["python"][2] == reason


@needs_both
def test_same_reason_for_invalid_utf8_and_depth():
    bad_name = mf.ld(1, mf.ld(4, b"\xff"))  # Execution.id.name
    assert {r[2] for r in _errors_on_both(Execution, bad_name, "message").values()} == {
        "string field has invalid UTF-8"
    }
    too_deep = literal_chain(101)
    assert {r[2] for r in _errors_on_both(Literal, too_deep, "message").values()} == {
        "nesting exceeds the maximum depth"
    }


# -- 9. a record too deep inside a list is named -----------------------------------------------------------


def _deep_record(levels: int) -> bytes:
    """An Execution whose closure outputs hold a literal chain: ``levels`` + 5 levels deep."""
    entry = mf.ld(1, b"o") + mf.ld(2, literal_chain(levels))
    closure = mf.ld(1, mf.ld(1, mf.ld(1, entry)))
    return mf.ld(3, closure)


def test_a_record_too_deep_inside_a_list_is_named(backend):
    deep = _deep_record(95)  # valid alone (100 levels), too deep one level down
    assert _upb_accepts(execution_pb2.Execution, deep)
    data = mf.ld(1, b"") + mf.ld(1, deep) + mf.ld(1, b"") + mf.ld(2, b"token")
    e = decode_error(Execution, data, "list")
    assert (e.index, e.offset) == (1, 2)
    assert e.reason == "nesting exceeds the maximum depth inside the list"


def test_a_too_deep_record_before_an_invalid_one_is_reported_first(backend):
    data = mf.ld(1, b"") + mf.ld(1, _deep_record(95)) + mf.ld(1, b"\x00\x02")
    e = decode_error(Execution, data, "list")
    assert (e.index, e.offset) == (1, 2)


def test_an_invalid_record_before_a_too_deep_one_is_reported_first(backend):
    data = mf.ld(1, b"\x00\x02") + mf.ld(1, _deep_record(95))
    e = decode_error(Execution, data, "list")
    assert (e.index, e.offset, e.reason) == (0, 0, "wire format is corrupt")
