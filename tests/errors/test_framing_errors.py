"""Bad input in each framing (``list``, ``delimited``, ``message``, sequences): every backend raises
:class:`flytecodec.DecodeError` naming the message that failed (``.index``) and where it starts in the input
(``.offset``), and accepts exactly what upb accepts.

upb (the pb2 classes' ``FromString``) is the oracle for what is valid; the byte offsets are worked out from
inputs built by hand (``support/bad_inputs.py``), independently of the package's own framing code.
"""

from __future__ import annotations

import pytest
from flyteidl.admin import execution_pb2, task_execution_pb2

from flytecodec import DecodeError, decode
from flytecodec.models.admin.task_execution import TaskExecution
from flytecodec.models.execution import Execution, ExecutionClosure
from flytecodec.testing import corpus
from support.bad_inputs import (
    LISTS,
    Framed,
    check_error,
    check_sentence,
    field,
    ser,
    small_executions,
    tag,
    upb_parse,
    varint,
)

# -- list framing -----------------------------------------------------------------------------------------------


def _assert_truncations(model, list_class, field, framed: Framed) -> int:
    """Cut ``framed`` at every byte position; returns how many cuts raised."""
    errors = 0
    data = framed.data
    for cut in range(len(data) + 1):
        part = data[:cut]
        expected = upb_parse(list_class, part)
        try:
            batch = decode(model, part, framing="list")
        except DecodeError as e:
            errors += 1
            assert expected is None, f"cut {cut}: upb accepts what flytecodec rejects: {e}"
            k = framed.record_at(cut)
            if k is not None:
                check_error(e, k, framed.starts[k])
            else:  # the cut falls inside the token, after every record
                assert cut > framed.token_start, cut
                check_error(e, len(framed.starts), framed.token_start)
            continue
        assert expected is not None, f"cut {cut}: flytecodec accepts what upb rejects"
        assert batch.token == expected.token
        assert [m.to_flyte_idl() for m in batch] == list(getattr(expected, field)), cut
    return errors


def test_truncated_list_at_every_byte(backend):
    """Every prefix of a 3-record list either decodes as upb parses it or fails at the record the cut is in."""
    framed = Framed([ser(r) for r in small_executions()], token=b"next-page")
    errors = _assert_truncations(Execution, execution_pb2.ExecutionList, "executions", framed)
    # Only the cuts at record boundaries (and at 0 and the very end) decode.
    assert errors == len(framed.data) + 1 - 5


@pytest.mark.parametrize("name", sorted(LISTS))
def test_truncated_corpus_list_at_every_byte(backend, name):
    model, records, list_class, field = LISTS[name]
    framed = Framed([ser(r) for r in records(3, seed=5)], token="tok-\u00fc".encode())
    assert list_class.FromString(framed.data) == list_class(**{field: records(3, seed=5)}, token="tok-\u00fc")
    _assert_truncations(model, list_class, field, framed)


@pytest.mark.parametrize("k", [0, 1, 2])
@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00\x01",  # field number 0
        b"\x0f",  # wire type 7
        b"\x0a\x05abc",  # a field longer than the record
        b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",  # an 11-byte varint
        b"\x0b",  # an unterminated group
        b"\x0c",  # an end-group without a start
    ],
    ids=["field-0", "wire-type-7", "overlong-field", "overlong-varint", "open-group", "stray-end-group"],
)
def test_list_with_a_bad_record(backend, k, garbage):
    payloads = [ser(r) for r in small_executions()]
    payloads[k] = garbage
    framed = Framed(payloads, token=b"t")
    assert upb_parse(execution_pb2.ExecutionList, framed.data) is None
    with pytest.raises(DecodeError) as info:
        decode(Execution, framed.data, framing="list")
    check_error(info.value, k, framed.starts[k])


@pytest.mark.parametrize("k", [0, 1, 2])
def test_list_with_invalid_utf8_in_record_k(backend, k):
    records = small_executions()
    payloads = [ser(r) for r in records]
    name = records[k].id.name.encode()
    payloads[k] = payloads[k].replace(name, b"\xff" + name[1:])
    assert upb_parse(execution_pb2.Execution, payloads[k]) is None
    framed = Framed(payloads)
    with pytest.raises(DecodeError) as info:
        decode(Execution, framed.data, framing="list")
    check_error(info.value, k, framed.starts[k])


def test_list_with_invalid_utf8_in_the_token(backend):
    framed = Framed([ser(r) for r in small_executions()], token=b"ok\xc3(")
    assert upb_parse(execution_pb2.ExecutionList, framed.data) is None
    with pytest.raises(DecodeError) as info:
        decode(Execution, framed.data, framing="list")
    assert info.value.index == 3  # past the three good records
    check_sentence(info.value)


def test_list_with_an_unknown_group_before_a_bad_record(backend, request):
    """upb accepts a well-formed group as an unknown field of the list; the error is still at the bad record."""
    payloads = [ser(r) for r in small_executions()]
    group = tag(7, 3) + tag(1, 0) + b"\x05" + tag(7, 4)
    data = field(1, payloads[0]) + group + field(1, payloads[1]) + field(1, b"\x00\x01")
    assert upb_parse(execution_pb2.ExecutionList, data[: -len(field(1, b"\x00\x01"))]) is not None  # the group is fine
    with pytest.raises(DecodeError) as info:
        decode(Execution, data, framing="list")
    check_error(info.value, 2, len(data) - len(field(1, b"\x00\x01")))


@pytest.mark.parametrize("length", [2**31, 2**31 + 7, 2**32 - 1, 2**32 + 1, 2**62, 2**64 - 1])
def test_list_with_a_huge_length_claim(backend, length):
    payloads = [ser(r) for r in small_executions()[:2]]
    good = Framed(payloads).data
    data = good + tag(1, 2) + varint(length) + b"\x0a\x00"
    assert upb_parse(execution_pb2.ExecutionList, data) is None
    with pytest.raises(DecodeError) as info:
        decode(Execution, data, framing="list")
    check_error(info.value, 2, len(good))


# -- delimited framing -------------------------------------------------------------------------------------------


def _delimited_prefix() -> tuple:
    """Three good records as a delimited stream, and the offsets of their length prefixes."""
    offsets, data = [], b""
    for record in small_executions():
        offsets.append(len(data))
        payload = ser(record)
        data += varint(len(payload)) + payload
    return data, offsets


@pytest.mark.parametrize(
    "tail",
    [
        b"\x80",  # a length prefix cut after its first byte
        b"\xff\xff\xff",  # ... after three
        b"\x05abc",  # a length pointing past the end
        b"\x7f",  # a length of 127 and nothing after it
        b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01",  # an 11-byte (overlong) varint
        b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f",  # 10 bytes that overflow 64 bits
        varint(2**31 + 3) + b"\x0a\x00",  # 2 GiB claimed, 2 bytes there
        varint(2**64 - 1) + b"\x0a\x00",
    ],
    ids=[
        "cut-prefix-1",
        "cut-prefix-3",
        "past-the-end",
        "nothing-after-prefix",
        "overlong-prefix",
        "overflowing-prefix",
        "2GiB",
        "2**64-1",
    ],
)
def test_delimited_with_a_broken_fourth_record(backend, tail):
    good, _ = _delimited_prefix()
    with pytest.raises(DecodeError) as info:
        decode(Execution, good + tail, framing="delimited")
    check_error(info.value, 3, len(good))


@pytest.mark.parametrize("k", [0, 1, 2])
@pytest.mark.parametrize(
    "garbage",
    [b"\x00\x01", b"\x0f", b"\x0a\x05abc", b"\x0b", b"\x0c", b"\x0a\x02\x22\xff"],
    ids=["field-0", "wire-type-7", "overlong-field", "open-group", "stray-end-group", "bad-utf8"],
)
def test_delimited_with_a_garbage_record(backend, k, garbage):
    records = small_executions()
    payloads = [ser(r) for r in records]
    payloads[k] = garbage
    assert upb_parse(execution_pb2.Execution, garbage) is None
    offsets, data = [], b""
    for payload in payloads:
        offsets.append(len(data))
        data += varint(len(payload)) + payload
    with pytest.raises(DecodeError) as info:
        decode(Execution, data, framing="delimited")
    check_error(info.value, k, offsets[k])


def test_delimited_garbage_record_in_a_long_stream(backend):
    """The offset of record k is found in a stream of multi-byte length prefixes (corpus records)."""
    records = corpus.task_executions(50, seed=9)
    payloads = [ser(r) for r in records]
    payloads[37] += b"\x0f"  # an invalid tag after the record's fields
    offsets, data = [], b""
    for payload in payloads:
        offsets.append(len(data))
        data += varint(len(payload)) + payload
    assert upb_parse(task_execution_pb2.TaskExecution, payloads[37]) is None
    with pytest.raises(DecodeError) as info:
        decode(TaskExecution, data, framing="delimited")
    check_error(info.value, 37, offsets[37])


@pytest.mark.parametrize("cut_in", [0, 1, 2])
def test_truncated_delimited_stream(backend, cut_in):
    good, offsets = _delimited_prefix()
    ends = [*offsets[1:], len(good)]
    for cut in range(offsets[cut_in] + 1, ends[cut_in]):
        with pytest.raises(DecodeError) as info:
            decode(Execution, good[:cut], framing="delimited")
        check_error(info.value, cut_in, offsets[cut_in])
    batch = decode(Execution, good[: ends[cut_in]], framing="delimited")
    assert [m.to_flyte_idl() for m in batch] == small_executions()[: cut_in + 1]


# -- message and sequence inputs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [7, "abc", None, 1.5, [b""]], ids=["int", "str", "None", "float", "list"])
def test_sequence_with_a_non_bytes_item(backend, bad):
    items = [ser(r) for r in small_executions()]
    items.insert(2, bad)
    with pytest.raises(DecodeError) as info:
        decode(Execution, items)
    check_error(info.value, 2, 0)


def test_sequence_with_an_invalid_message(backend):
    items = [ser(r) for r in small_executions()]
    items[1] = items[1][:-3]  # a truncated record
    assert upb_parse(execution_pb2.Execution, items[1]) is None
    with pytest.raises(DecodeError) as info:
        decode(Execution, items)
    check_error(info.value, 1, 0)
    with pytest.raises(DecodeError) as info:
        decode(Execution, tuple(bytearray(i) for i in items), framing="sequence")
    check_error(info.value, 1, 0)


def test_message_framing_error_is_message_0(backend):
    with pytest.raises(DecodeError) as info:
        decode(Execution, b"\x0a\x05abc", framing="message")
    check_error(info.value, 0, 0)


def test_invalid_utf8_in_a_name(backend):
    """``Execution.id.name`` with bytes that are not UTF-8, in every framing."""
    record = small_executions()[0]
    payload = ser(record).replace(record.id.name.encode(), b"exec\xed\xa0\x80-0")  # an encoded surrogate
    assert upb_parse(execution_pb2.Execution, payload) is None
    with pytest.raises(DecodeError) as info:
        decode(Execution, payload, framing="message")
    check_error(info.value, 0, 0)
    with pytest.raises(DecodeError) as info:
        decode(Execution, [ser(record), payload])
    check_error(info.value, 1, 0)
    prefix = varint(len(ser(record))) + ser(record)
    with pytest.raises(DecodeError) as info:
        decode(Execution, prefix + varint(len(payload)) + payload, framing="delimited")
    check_error(info.value, 1, len(prefix))


def test_invalid_utf8_in_a_closure_column(backend):
    closure = execution_pb2.ExecutionClosure(abort_cause="stopped by operator")
    good = ser(closure)
    bad = good.replace(b"operator", b"operat\xc0\xaf")  # an overlong encoding of "/"
    with pytest.raises(DecodeError) as info:
        decode(ExecutionClosure, [good, good, good, bad, good])
    check_error(info.value, 3, 0)
