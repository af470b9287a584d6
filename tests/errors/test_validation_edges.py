"""The edges of the native validation's fast paths, against upb and across backends: a one-byte tag (fields 1 to
15) and a two-byte one, a one-byte length (up to 127) and a two-byte one, strings checked as ASCII a word at a
time (every length around 4, 8 and 32 bytes, a non-ASCII byte first, in the middle or last), and a varint found
with a word load that must not run past the end of its sub-message into its parent's bytes.

Each input is an ``Execution`` decoded with ``framing="message"``: upb's verdict decides whether it decodes, and
a refused one has the same reason on both backends.
"""

from __future__ import annotations

import pytest
from flyteidl.admin import execution_pb2
from google.protobuf.message import DecodeError as PbDecodeError

from flytecodec import decode
from flytecodec.models.execution import Execution
from support import malformed as mf
from support.bad_inputs import decode_error

CORRUPT = "wire format is corrupt"
BAD_UTF8 = "string field has invalid UTF-8"


def _field(tag: bytes, payload: bytes) -> bytes:
    return tag + mf.varint(len(payload)) + payload


def _upb_accepts(data: bytes) -> bool:
    try:
        execution_pb2.Execution.FromString(data)
    except PbDecodeError:
        return False
    return True


def _check(data: bytes, reason: str | None) -> None:
    """upb accepts ``data`` when ``reason`` is None, else refuses it; the backend agrees, with that reason."""
    assert _upb_accepts(data) is (reason is None)
    if reason is None:
        assert decode(Execution, data, framing="message")[0].serialize_to_string() == data
    else:
        assert decode_error(Execution, data, "message").reason == reason


def _name(value: bytes) -> bytes:
    """An Execution whose id's name (field 4 of WorkflowExecutionIdentifier, a string) is ``value``."""
    return _field(b"\x0a", _field(b"\x22", value))


STRING_LENGTHS = [*range(0, 41), 63, 64, 65, 126, 127, 128, 129]


@pytest.mark.parametrize("length", STRING_LENGTHS)
def test_ascii_strings_of_every_length_around_the_word_loads(backend, length):
    _check(_name(b"n" * length), None)


@pytest.mark.parametrize("length", [n for n in STRING_LENGTHS if n > 0])
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_a_bad_byte_anywhere_in_a_string(backend, length, where):
    at = {"first": 0, "middle": length // 2, "last": length - 1}[where]
    value = bytearray(b"n" * length)
    value[at] = 0xFF
    _check(_name(bytes(value)), BAD_UTF8)


@pytest.mark.parametrize("length", [n for n in STRING_LENGTHS if n > 1])
@pytest.mark.parametrize("where", ["first", "last"])
def test_valid_utf8_anywhere_in_a_string(backend, length, where):
    at = 0 if where == "first" else length - 2
    value = bytearray(b"n" * length)
    value[at : at + 2] = "é".encode()
    _check(_name(bytes(value)), None)


def _closure(started_at: bytes, after: bytes = b"\x20\x01") -> bytes:
    """An Execution whose closure holds ``started_at`` (a Timestamp's bytes), then ``after`` (phase 1)."""
    return _field(b"\x1a", _field(b"\x2a", started_at) + after)


@pytest.mark.parametrize("nanos", [1, 2, 4, 5, 8, 9, 10])
def test_a_timestamp_ending_in_a_varint_of_every_length(backend, nanos):
    value = b"\x80" * (nanos - 1) + b"\x01"
    _check(_closure(b"\x08" + b"\xff" * 4 + b"\x05" + b"\x10" + value), None)


@pytest.mark.parametrize("cut", [1, 2, 4, 7, 8, 9])
def test_a_varint_cut_at_its_sub_message_end_does_not_run_into_the_parent(backend, cut):
    # the Timestamp ends inside its nanos; the closure's next bytes (phase = 1) would end the varint
    _check(_closure(b"\x10" + b"\x80" * cut), CORRUPT)
    _check(_closure(b"\x10" + b"\x80" * cut, after=b""), CORRUPT)


def _spec(fields: bytes) -> bytes:
    """An Execution whose spec (an ExecutionSpec) is ``fields``."""
    return _field(b"\x12", fields)


@pytest.mark.parametrize(
    "fields, reason",
    [
        (_field(b"\x7a", b"\xff"), None),  # field 15 (one-byte tag), unknown: not looked into
        (_field(b"\x82\x01", b"\x08\x01"), None),  # auth_role (16, two-byte tag), a message
        (_field(b"\x82\x01", b"\x08\x80"), CORRUPT),  # auth_role with a truncated varint inside
        (_field(b"\xc2\x01", "é".encode()), None),  # tags (24, two-byte tag), a string
        (_field(b"\xc2\x01", b"\xff"), BAD_UTF8),  # tags with bad UTF-8
        (b"\x90\x01\x80", CORRUPT),  # max_parallelism (18) with a truncated varint
        (b"\x90\x01\x80\x01", None),  # max_parallelism = 128
    ],
)
def test_one_and_two_byte_tags(backend, fields, reason):
    _check(_spec(fields), reason)


@pytest.mark.parametrize("length", [126, 127, 128, 129, 16383, 16384])
def test_one_and_two_byte_lengths_of_a_sub_message(backend, length):
    # the spec's labels (field 7) hold an unknown field 9 of `length` - 3 bytes, so the labels are `length` long
    inner = _field(b"\x4a", b"x" * (length - 2 - len(mf.varint(length - 3)) + 1))
    assert len(inner) == length
    _check(_spec(_field(b"\x3a", inner)), None)
    _check(_spec(_field(b"\x3a", inner))[:-1], CORRUPT)
