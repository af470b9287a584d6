"""Bad input: every backend raises :class:`flytecodec.DecodeError` (a ``ValueError``) saying which message failed
(``.index``) and where it starts in the input (``.offset``), and accepts exactly what upb accepts.

upb (the pb2 classes' ``FromString``) is the oracle for what is valid; the byte offsets are worked out here from
inputs built by hand, independently of the package's own framing code.
"""

from __future__ import annotations

import pickle
import re
import tracemalloc

import pytest
from flyteidl.admin import execution_pb2, node_execution_pb2, task_execution_pb2
from google.protobuf.message import DecodeError as PbDecodeError

import flytecodec
from flytecodec import DecodeError, decode
from flytecodec.models.admin.task_execution import TaskExecution
from flytecodec.models.execution import Execution, ExecutionClosure
from flytecodec.models.node_execution import NodeExecution
from flytecodec.testing import corpus

# -- building inputs -------------------------------------------------------------------------------------------


_varint = corpus.varint


def _tag(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return _tag(number, 2) + _varint(len(payload)) + payload


def _ser(message) -> bytes:
    return message.SerializeToString(deterministic=True)


def _small_executions() -> list:
    """Three small executions (a few dozen bytes each) with distinct names, phases and timestamps."""
    out = []
    for i, phase in enumerate([4, 5, 2]):
        record = execution_pb2.Execution()
        record.id.project, record.id.domain, record.id.name = "proj", "development", f"exec-{i}-\u00e9"
        record.closure.phase = phase
        record.closure.started_at.seconds = 1_700_000_000 + i
        record.closure.started_at.nanos = 123_456_789
        record.closure.duration.seconds = 60 * i
        out.append(record)
    return out


class Framed:
    """A ``*List`` response built field by field, remembering where each record's tag starts and ends."""

    def __init__(self, payloads, token: bytes = b"", list_field: int = 1):
        self.starts, self.ends = [], []
        data = bytearray()
        for payload in payloads:
            self.starts.append(len(data))
            data += _field(list_field, payload)
            self.ends.append(len(data))
        self.token_start = len(data)
        if token:
            data += _field(2, token)
        self.data = bytes(data)

    def record_at(self, cut: int):
        """The index of the record that byte position ``cut`` falls strictly inside, or None."""
        for k, (start, end) in enumerate(zip(self.starts, self.ends)):
            if start < cut < end:
                return k
        return None


def _upb(cls, data):
    """upb's verdict: the parsed message, or None when upb rejects ``data``."""
    try:
        return cls.FromString(bytes(data))
    except PbDecodeError:
        return None


def _check_error(error: DecodeError, index: int, offset: int) -> None:
    assert isinstance(error, DecodeError) and isinstance(error, ValueError)
    assert (error.index, error.offset) == (index, offset), str(error)
    _check_sentence(error)


def _check_sentence(error: DecodeError) -> None:
    """``str(error)`` is one human sentence naming the index and the offset."""
    text = str(error)
    assert text and "\n" not in text and not text.startswith(("b'", "<", "Traceback"))
    assert re.search(rf"\b{error.index}\b", text), text
    assert re.search(rf"offset {error.offset}\b", text), text


LISTS = {
    "execution": (Execution, corpus.executions, execution_pb2.ExecutionList, "executions"),
    "node_execution": (NodeExecution, corpus.node_executions, node_execution_pb2.NodeExecutionList, "node_executions"),
    "task_execution": (TaskExecution, corpus.task_executions, task_execution_pb2.TaskExecutionList, "task_executions"),
}


def test_decode_error_is_a_value_error():
    assert issubclass(DecodeError, ValueError)
    assert flytecodec.DecodeError is DecodeError
    error = DecodeError("bad tag", index=3, offset=17)
    assert (error.index, error.offset) == (3, 17)
    _check_sentence(error)


# -- list framing -----------------------------------------------------------------------------------------------


def _assert_truncations(model, list_class, field, framed: Framed) -> int:
    """Cut ``framed`` at every byte position; returns how many cuts raised."""
    errors = 0
    data = framed.data
    for cut in range(len(data) + 1):
        part = data[:cut]
        expected = _upb(list_class, part)
        try:
            batch = decode(model, part, framing="list")
        except DecodeError as e:
            errors += 1
            assert expected is None, f"cut {cut}: upb accepts what flytecodec rejects: {e}"
            k = framed.record_at(cut)
            if k is not None:
                _check_error(e, k, framed.starts[k])
            else:  # the cut falls inside the token, after every record
                assert cut > framed.token_start, cut
                _check_error(e, len(framed.starts), framed.token_start)
            continue
        assert expected is not None, f"cut {cut}: flytecodec accepts what upb rejects"
        assert batch.token == expected.token
        assert [m.to_flyte_idl() for m in batch] == list(getattr(expected, field)), cut
    return errors


def test_truncated_list_at_every_byte(backend):
    """Every prefix of a 3-record list either decodes as upb parses it or fails at the record the cut is in."""
    framed = Framed([_ser(r) for r in _small_executions()], token=b"next-page")
    errors = _assert_truncations(Execution, execution_pb2.ExecutionList, "executions", framed)
    # Only the cuts at record boundaries (and at 0 and the very end) decode.
    assert errors == len(framed.data) + 1 - 5


@pytest.mark.parametrize("name", sorted(LISTS))
def test_truncated_corpus_list_at_every_byte(backend, name):
    model, records, list_class, field = LISTS[name]
    framed = Framed([_ser(r) for r in records(3, seed=5)], token="tok-\u00fc".encode())
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
    payloads = [_ser(r) for r in _small_executions()]
    payloads[k] = garbage
    framed = Framed(payloads, token=b"t")
    assert _upb(execution_pb2.ExecutionList, framed.data) is None
    with pytest.raises(DecodeError) as info:
        decode(Execution, framed.data, framing="list")
    _check_error(info.value, k, framed.starts[k])


@pytest.mark.parametrize("k", [0, 1, 2])
def test_list_with_invalid_utf8_in_record_k(backend, k):
    records = _small_executions()
    payloads = [_ser(r) for r in records]
    name = records[k].id.name.encode()
    payloads[k] = payloads[k].replace(name, b"\xff" + name[1:])
    assert _upb(execution_pb2.Execution, payloads[k]) is None
    framed = Framed(payloads)
    with pytest.raises(DecodeError) as info:
        decode(Execution, framed.data, framing="list")
    _check_error(info.value, k, framed.starts[k])


def test_list_with_invalid_utf8_in_the_token(backend):
    framed = Framed([_ser(r) for r in _small_executions()], token=b"ok\xc3(")
    assert _upb(execution_pb2.ExecutionList, framed.data) is None
    with pytest.raises(DecodeError) as info:
        decode(Execution, framed.data, framing="list")
    assert info.value.index == 3  # past the three good records
    _check_sentence(info.value)


def test_list_with_an_unknown_group_before_a_bad_record(backend, request):
    """upb accepts a well-formed group as an unknown field of the list; the error is still at the bad record."""
    payloads = [_ser(r) for r in _small_executions()]
    group = _tag(7, 3) + _tag(1, 0) + b"\x05" + _tag(7, 4)
    data = _field(1, payloads[0]) + group + _field(1, payloads[1]) + _field(1, b"\x00\x01")
    assert _upb(execution_pb2.ExecutionList, data[: -len(_field(1, b"\x00\x01"))]) is not None  # the group is fine
    with pytest.raises(DecodeError) as info:
        decode(Execution, data, framing="list")
    _check_error(info.value, 2, len(data) - len(_field(1, b"\x00\x01")))


@pytest.mark.parametrize("length", [2**31, 2**31 + 7, 2**32 - 1, 2**32 + 1, 2**62, 2**64 - 1])
def test_list_with_a_huge_length_claim(backend, length):
    payloads = [_ser(r) for r in _small_executions()[:2]]
    good = Framed(payloads).data
    data = good + _tag(1, 2) + _varint(length) + b"\x0a\x00"
    assert _upb(execution_pb2.ExecutionList, data) is None
    with pytest.raises(DecodeError) as info:
        decode(Execution, data, framing="list")
    _check_error(info.value, 2, len(good))


# -- delimited framing -------------------------------------------------------------------------------------------


def _delimited_prefix() -> tuple:
    """Three good records as a delimited stream, and the offsets of their length prefixes."""
    offsets, data = [], b""
    for record in _small_executions():
        offsets.append(len(data))
        payload = _ser(record)
        data += _varint(len(payload)) + payload
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
        _varint(2**31 + 3) + b"\x0a\x00",  # 2 GiB claimed, 2 bytes there
        _varint(2**64 - 1) + b"\x0a\x00",
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
    _check_error(info.value, 3, len(good))


@pytest.mark.parametrize("k", [0, 1, 2])
@pytest.mark.parametrize(
    "garbage",
    [b"\x00\x01", b"\x0f", b"\x0a\x05abc", b"\x0b", b"\x0c", b"\x0a\x02\x22\xff"],
    ids=["field-0", "wire-type-7", "overlong-field", "open-group", "stray-end-group", "bad-utf8"],
)
def test_delimited_with_a_garbage_record(backend, k, garbage):
    records = _small_executions()
    payloads = [_ser(r) for r in records]
    payloads[k] = garbage
    assert _upb(execution_pb2.Execution, garbage) is None
    offsets, data = [], b""
    for payload in payloads:
        offsets.append(len(data))
        data += _varint(len(payload)) + payload
    with pytest.raises(DecodeError) as info:
        decode(Execution, data, framing="delimited")
    _check_error(info.value, k, offsets[k])


def test_delimited_garbage_record_in_a_long_stream(backend):
    """The offset of record k is found in a stream of multi-byte length prefixes (corpus records)."""
    records = corpus.task_executions(50, seed=9)
    payloads = [_ser(r) for r in records]
    payloads[37] += b"\x0f"  # an invalid tag after the record's fields
    offsets, data = [], b""
    for payload in payloads:
        offsets.append(len(data))
        data += _varint(len(payload)) + payload
    assert _upb(task_execution_pb2.TaskExecution, payloads[37]) is None
    with pytest.raises(DecodeError) as info:
        decode(TaskExecution, data, framing="delimited")
    _check_error(info.value, 37, offsets[37])


@pytest.mark.parametrize("cut_in", [0, 1, 2])
def test_truncated_delimited_stream(backend, cut_in):
    good, offsets = _delimited_prefix()
    ends = [*offsets[1:], len(good)]
    for cut in range(offsets[cut_in] + 1, ends[cut_in]):
        with pytest.raises(DecodeError) as info:
            decode(Execution, good[:cut], framing="delimited")
        _check_error(info.value, cut_in, offsets[cut_in])
    batch = decode(Execution, good[: ends[cut_in]], framing="delimited")
    assert [m.to_flyte_idl() for m in batch] == _small_executions()[: cut_in + 1]


# -- message and sequence inputs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [7, "abc", None, 1.5, [b""]], ids=["int", "str", "None", "float", "list"])
def test_sequence_with_a_non_bytes_item(backend, bad):
    items = [_ser(r) for r in _small_executions()]
    items.insert(2, bad)
    with pytest.raises(DecodeError) as info:
        decode(Execution, items)
    _check_error(info.value, 2, 0)


def test_sequence_with_an_invalid_message(backend):
    items = [_ser(r) for r in _small_executions()]
    items[1] = items[1][:-3]  # a truncated record
    assert _upb(execution_pb2.Execution, items[1]) is None
    with pytest.raises(DecodeError) as info:
        decode(Execution, items)
    _check_error(info.value, 1, 0)
    with pytest.raises(DecodeError) as info:
        decode(Execution, tuple(bytearray(i) for i in items), framing="sequence")
    _check_error(info.value, 1, 0)


def test_message_framing_error_is_message_0(backend):
    with pytest.raises(DecodeError) as info:
        decode(Execution, b"\x0a\x05abc", framing="message")
    _check_error(info.value, 0, 0)


def test_invalid_utf8_in_a_name(backend):
    """``Execution.id.name`` with bytes that are not UTF-8, in every framing."""
    record = _small_executions()[0]
    payload = _ser(record).replace(record.id.name.encode(), b"exec\xed\xa0\x80-0")  # an encoded surrogate
    assert _upb(execution_pb2.Execution, payload) is None
    with pytest.raises(DecodeError) as info:
        decode(Execution, payload, framing="message")
    _check_error(info.value, 0, 0)
    with pytest.raises(DecodeError) as info:
        decode(Execution, [_ser(record), payload])
    _check_error(info.value, 1, 0)
    prefix = _varint(len(_ser(record))) + _ser(record)
    with pytest.raises(DecodeError) as info:
        decode(Execution, prefix + _varint(len(payload)) + payload, framing="delimited")
    _check_error(info.value, 1, len(prefix))


def test_invalid_utf8_in_a_closure_column(backend):
    closure = execution_pb2.ExecutionClosure(abort_cause="stopped by operator")
    good = _ser(closure)
    bad = good.replace(b"operator", b"operat\xc0\xaf")  # an overlong encoding of "/"
    with pytest.raises(DecodeError) as info:
        decode(ExecutionClosure, [good, good, good, bad, good])
    _check_error(info.value, 3, 0)


# -- agreement with upb on odd wire formats ------------------------------------------------------------------------

_ODD_FIELDS = {
    # known fields with the wrong wire type: upb keeps them as unknown fields
    "id-as-varint": _tag(1, 0) + b"\x05",
    "id-as-fixed64": _tag(1, 1) + b"\x00" * 8,
    "id-as-fixed32": _tag(1, 5) + b"\x00" * 4,
    "closure-as-group": _tag(3, 3) + _tag(4, 0) + b"\x01" + _tag(3, 4),
    # field number 0
    "field-0-varint": _tag(0, 0) + b"\x01",
    "field-0-bytes": _tag(0, 2) + b"\x00",
    # groups
    "unknown-group": _tag(99, 3) + _tag(1, 2) + b"\x02hi" + _tag(99, 4),
    "nested-groups": _tag(99, 3) + _tag(98, 3) + _tag(98, 4) + _tag(99, 4),
    "open-group": _tag(99, 3) + _tag(1, 0) + b"\x01",
    "stray-end-group": _tag(99, 4),
    "mismatched-end-group": _tag(99, 3) + _tag(98, 4),
    # reserved wire types
    "wire-type-6": _tag(99, 6) + b"\x00",
    "wire-type-7": _tag(99, 7) + b"\x00",
    # truncations inside a field
    "cut-fixed64": _tag(99, 1) + b"\x00" * 3,
    "cut-fixed32": _tag(99, 5) + b"\x00",
    "cut-varint": _tag(99, 0) + b"\x80",
    "cut-tag": b"\x80",
    # scalars with odd but valid encodings
    "phase-overlong-varint": _field(3, _tag(4, 0) + b"\x84\x80\x80\x80\x00"),
    "phase-unknown-enum-value": _field(3, _tag(4, 0) + _varint(77)),
    "phase-negative": _field(3, _tag(4, 0) + _varint(2**64 - 1)),
    "phase-as-packed": _field(3, _field(4, b"\x01\x02")),
    "timestamp-huge-seconds": _field(3, _field(5, _tag(1, 0) + _varint(2**63 - 1))),
    # a message field whose payload is not a message
    "id-garbage-payload": _field(1, b"\x0f"),
    "id-huge-length": _tag(1, 2) + _varint(2**31 + 1) + b"\x00",
}


@pytest.mark.parametrize("where", ["message", "delimited", "list", "sequence"])
@pytest.mark.parametrize("odd", sorted(_ODD_FIELDS))
def test_odd_wire_format_agrees_with_upb(backend, odd, where):
    """Appended to record 1 of 3, an odd field is rejected exactly when upb rejects it; if accepted, it survives."""
    payloads = [_ser(r) for r in _small_executions()]
    payloads[1] += _ODD_FIELDS[odd]
    expected = _upb(execution_pb2.Execution, payloads[1])
    if where == "message":
        data, framing, index, offset = payloads[1], "message", 0, 0
    elif where == "sequence":
        data, framing, index, offset = payloads, None, 1, 0
    elif where == "delimited":
        first = _varint(len(payloads[0])) + payloads[0]
        data = b"".join(_varint(len(p)) + p for p in payloads)
        framing, index, offset = "delimited", 1, len(first)
    else:
        framed = Framed(payloads, token=b"t")
        data, framing, index, offset = framed.data, "list", 1, framed.starts[1]
        assert (_upb(execution_pb2.ExecutionList, data) is None) == (expected is None)
    if expected is None:
        with pytest.raises(DecodeError) as info:
            decode(Execution, data, framing=framing)
        _check_error(info.value, index, offset)
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
    payloads = [_ser(r) for r in _small_executions()]
    head = _field(1, payloads[0])
    data = head + _ODD_FIELDS[odd] + _field(1, payloads[1]) + _field(1, payloads[2])
    expected = _upb(execution_pb2.ExecutionList, data)
    if expected is None:
        with pytest.raises(DecodeError) as info:
            decode(Execution, data, framing="list")
        if odd in _BROKEN_AT_THEIR_TAG:
            _check_error(info.value, 1, len(head))
        else:  # a cut field swallows the bytes after it: where the walk stops depends on what it read
            assert info.value.index in (1, 2, 3)
            assert len(head) <= info.value.offset < len(data)
            _check_sentence(info.value)
        return
    batch = decode(Execution, data, framing="list")
    assert [m.to_flyte_idl() for m in batch] == list(expected.executions)
    assert batch.token == expected.token


def test_single_byte_corruptions_agree_with_upb(backend):
    """Flip bits in every byte of a small list: flytecodec accepts exactly what upb accepts, and equally."""
    framed = Framed([_ser(r) for r in _small_executions()], token=b"tok")
    data = framed.data
    rejected = 0
    for position in range(len(data)):
        for mask in (0x01, 0x80, 0xFF):
            corrupt = bytearray(data)
            corrupt[position] ^= mask
            expected = _upb(execution_pb2.ExecutionList, corrupt)
            try:
                batch = decode(Execution, corrupt, framing="list")
            except DecodeError as e:
                rejected += 1
                assert expected is None, f"byte {position} ^ {mask:#x}: upb accepts, flytecodec raises {e}"
                assert 0 <= e.index <= 3 and 0 <= e.offset < len(data)
                _check_sentence(e)
                continue
            assert expected is not None, f"byte {position} ^ {mask:#x}: upb rejects, flytecodec accepts"
            assert [m.to_flyte_idl() for m in batch] == list(expected.executions)
            assert batch.token == expected.token
    assert rejected  # the corruptions do reach the error paths


@pytest.mark.parametrize("length", [2**31, 2**31 + 1, 2**32, 2**40, 2**63, 2**64 - 1])
def test_huge_length_claim_inside_a_message_allocates_nothing(backend, length):
    """A nested field claiming 2 GiB or more fails at once, without reserving the memory it claims."""
    record = _ser(_small_executions()[0])
    payload = record + _tag(2, 2) + _varint(length) + b"\x0a\x02ab"
    assert _upb(execution_pb2.Execution, payload) is None
    inner = _field(3, _tag(13, 2) + _varint(length) + b"xyz")  # closure.output_data with a huge length
    assert _upb(execution_pb2.Execution, inner) is None
    tracemalloc.start()
    try:
        for data, framing, index, offset in (
            (payload, "message", 0, 0),
            ([record, payload], None, 1, 0),
            ([inner], None, 0, 0),
            (_field(1, record) + _field(1, payload), "list", 1, len(_field(1, record))),
        ):
            with pytest.raises(DecodeError) as info:
                decode(Execution, data, framing=framing)
            _check_error(info.value, index, offset)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20


# -- the error object ------------------------------------------------------------------------------------------------


def _errors() -> list:
    """Real DecodeErrors from each framing."""
    payloads = [_ser(r) for r in _small_executions()]
    inputs = [
        (Framed([payloads[0], payloads[1][:-2], payloads[2]]).data, "list"),
        (b"".join(_varint(len(p)) + p for p in payloads) + b"\x80", "delimited"),
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
        _check_sentence(again)


def test_decode_error_attributes_and_sentence(backend):
    records = [_ser(r) for r in _small_executions()]
    stream = sum(len(_varint(len(p))) + len(p) for p in records)
    expected = [(1, len(_field(1, records[0]))), (3, stream), (0, 0), (1, 0), (2, 0)]
    errors = _errors()
    assert [(e.index, e.offset) for e in errors] == expected
    for error in errors:
        assert isinstance(error.reason, str) and error.reason
        assert error.reason in str(error)
        _check_sentence(error)


def test_decode_error_is_caught_as_value_error(backend):
    with pytest.raises(ValueError):
        decode(Execution, b"\x0f", framing="message")
    try:
        decode(Execution, b"\x0f", framing="message")
    except ValueError as e:
        assert isinstance(e, DecodeError)
        assert not isinstance(e, PbDecodeError)
