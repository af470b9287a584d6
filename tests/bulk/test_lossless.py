"""Lossless decoding: every model gives back its record field for field, ``serialize_to_string()`` gives back the
input bytes, and unknown fields survive every framing.

Every test that decodes takes the ``backend`` fixture, so it runs once per available backend; the records come
from :mod:`flytecodec.testing.corpus` (``support/kinds.py``) or are built by hand where a test needs exact
control over the bytes.
"""

from __future__ import annotations

import pickle

import pytest
from flyteidl.admin import execution_pb2

from flytecodec import DecodeError, decode
from flytecodec.models.execution import Execution
from flytecodec.testing import corpus
from support.kinds import delimited_stream, get_path, has_multi_entry_map, ser, varint

# -- lossless ----------------------------------------------------------------------------------------------------------


def test_lossless_round_trip_of_corpus_records(backend, kind):
    """A few hundred realistic records: every model gives back its record, field for field and byte for byte.

    Bytes are compared exactly for records without multi-entry maps; the others must re-parse to the record
    (see ``test_serialize_to_string_is_the_input_bytes_for_every_record`` for exact bytes there).
    """
    records = kind.records(300, seed=61)
    payloads = [ser(r) for r in records]
    for batch in (
        decode(kind.model, delimited_stream(payloads), framing="delimited"),
        decode(kind.model, payloads),
        decode(kind.model, ser(kind.list_class(**{kind.field: records})), framing="list"),
    ):
        assert len(batch) == len(records)
        for i, (model, record, payload) in enumerate(zip(batch, records, payloads)):
            assert model.to_flyte_idl() == record, i
            out = model.serialize_to_string()
            assert type(record).FromString(out) == record, i
            if not has_multi_entry_map(record):
                assert out == payload, i
            # Reading a few properties changes nothing.
            for path in kind.paths:
                get_path(model, path)
            assert model.to_flyte_idl() == record, i
            assert model == kind.model.from_flyte_idl(record)


def _reordered_unknown_field_record() -> bytes:
    """An execution whose unknown field comes before the known ones (valid: fields may come in any order)."""
    record = execution_pb2.Execution()
    record.id.name = "n"
    record.closure.phase = 4
    return b"\xb8\x3e\x01" + ser(record)


def _many_labels_record() -> bytes:
    record = execution_pb2.Execution()
    record.id.name = "labelled"
    for i in range(24):
        record.spec.labels.values[f"key-{i:02d}"] = f"value-{i}"
    return ser(record)


@pytest.mark.parametrize(
    "payload",
    [_many_labels_record(), _reordered_unknown_field_record(), None],
    ids=["map-with-24-entries", "unknown-field-first", "corpus"],
)
def test_serialize_to_string_is_the_input_bytes_for_every_record(backend, request, payload):
    """Lossless means byte for byte: ``serialize_to_string()`` of an unmodified decoded model is its input."""
    payloads = [payload] if payload is not None else [ser(r) for r in corpus.executions(300, seed=62)]
    for framing_input, framing in ((delimited_stream(payloads), "delimited"), (payloads, None)):
        batch = decode(Execution, framing_input, framing=framing)
        assert [m.serialize_to_string() for m in batch] == payloads


_UNKNOWN_FIELDS = (
    varint(1000 << 3 | 0)
    + varint(123456789)  # varint
    + varint(1001 << 3 | 1)
    + b"\x01\x02\x03\x04\x05\x06\x07\x08"  # fixed64
    + varint(1002 << 3 | 2)
    + varint(5)
    + b"hello"  # length-delimited
    + varint(1003 << 3 | 5)
    + b"\xaa\xbb\xcc\xdd"  # fixed32
    + varint(1004 << 3 | 3)
    + varint(1 << 3 | 0)
    + b"\x07"
    + varint(1004 << 3 | 4)  # a group holding a varint
)


def _with_unknown_fields() -> tuple:
    """An execution with unknown fields at the top level and inside its closure, and its bytes."""
    record = execution_pb2.Execution()
    record.id.project, record.id.domain, record.id.name = "p", "d", "unknown-keeper"
    record.closure.phase = 3
    record.closure.started_at.seconds = 1_700_000_000
    closure = ser(record.closure) + _UNKNOWN_FIELDS
    head = ser(execution_pb2.Execution(id=record.id))
    payload = head + b"\x1a" + varint(len(closure)) + closure + _UNKNOWN_FIELDS
    parsed = execution_pb2.Execution.FromString(payload)
    assert parsed.closure.phase == 3 and parsed.id.name == "unknown-keeper"
    assert parsed.SerializeToString() == payload  # upb itself keeps them in place here
    return parsed, payload


@pytest.mark.parametrize("framing", ["message", "delimited", "list", "sequence"])
def test_unknown_fields_survive(backend, framing):
    parsed, payload = _with_unknown_fields()
    if framing == "message":
        data = payload
    elif framing == "delimited":
        data = delimited_stream([payload, payload])
    elif framing == "list":
        data = (b"\x0a" + varint(len(payload)) + payload) * 2 + b"\x12\x01t"
    else:
        data, framing = [payload, bytearray(payload)], None
    batch = decode(Execution, data, framing=framing)
    for model in batch:
        assert model.closure.phase == 3  # read fields first: lazy conversion must not drop anything
        assert model.closure.started_at.year == 2023
        assert model.id.name == "unknown-keeper"
        assert model.serialize_to_string() == payload
        assert model.to_flyte_idl().SerializeToString() == payload
        assert model.to_flyte_idl() == parsed
        assert model.closure.serialize_to_string() == ser(parsed.closure)
        assert model.closure.serialize_to_string().endswith(_UNKNOWN_FIELDS)
        assert pickle.loads(pickle.dumps(model)).serialize_to_string() == payload
    if framing == "list":
        assert batch.token == "t"
        assert batch.serialize_to_string() == data


def test_from_bytes_takes_any_bytes_like(backend):
    record = corpus.executions(1, seed=71)[0]
    for data in (ser(record), bytearray(ser(record)), memoryview(ser(record))):
        model = Execution.from_bytes(data)
        assert type(model) is Execution
        assert model.to_flyte_idl() == record
    with pytest.raises(DecodeError):
        Execution.from_bytes(b"\x0a\x05abc")
