"""``decode`` and the kind decoders over every framing: ``list``, ``delimited``, ``message`` and sequences of
bytes-like items; columns of closures and of specs.

Every test that decodes takes the ``backend`` fixture, so it runs once per available backend; the records come
from :mod:`flytecodec.testing.corpus` (``support/kinds.py``) or are built by hand where a test needs exact
control over the bytes.
"""

from __future__ import annotations

import datetime

import pytest
from flyteidl.admin import execution_pb2

from flytecodec import Batch, decode
from flytecodec.models._entity import model_for
from flytecodec.models.admin.task_execution import TaskExecutionClosure
from flytecodec.models.execution import Execution, ExecutionClosure, ExecutionSpec
from flytecodec.models.node_execution import NodeExecutionClosure
from flytecodec.testing import corpus
from support.kinds import KINDS, assert_records, delimited_stream, ser, varint

# -- framings ----------------------------------------------------------------------------------------------------


def test_list_framing(backend, kind):
    """A ``*List`` response: the records equal the pb2 records, the batch keeps the page token."""
    listing = kind.make_list(25, seed=3, token="page-2/\u00e9")
    batch = decode(kind.model, ser(listing), framing="list")
    assert isinstance(batch, Batch)
    assert batch.model is kind.model
    assert batch.token == "page-2/\u00e9"
    assert_records(batch, list(getattr(listing, kind.field)), kind)
    assert all(type(m) is kind.model for m in batch)


def test_kind_decoders_match_decode(backend, kind):
    listing = kind.make_list(10, seed=5, token="t")
    data = ser(listing)
    batch = kind.decoder(data, framing="list")
    assert batch.model is kind.model and batch.token == "t"
    assert_records(batch, list(getattr(listing, kind.field)), kind)
    records = list(getattr(listing, kind.field))
    assert_records(kind.decoder(delimited_stream(ser(r) for r in records), framing="delimited"), records, kind)
    assert_records(kind.decoder([ser(r) for r in records]), records, kind)


def test_list_framing_with_records_and_token_in_any_order(backend):
    """Protobuf allows fields in any order and repeated scalars to repeat: the last token wins, as in upb."""
    records = corpus.executions(3, seed=11)
    data = (
        b"\x12\x05first"
        + b"".join(b"\x0a" + varint(len(ser(r))) + ser(r) for r in records[:2])
        + b"\x12\x04last"
        + b"\x0a"
        + varint(len(ser(records[2])))
        + ser(records[2])
    )
    expected = execution_pb2.ExecutionList.FromString(data)
    batch = decode(Execution, data, framing="list")
    assert batch.token == expected.token == "last"
    assert_records(batch, records)


def test_delimited_framing(backend, kind):
    records = kind.records(40, seed=7)
    batch = decode(kind.model, corpus.delimited(records), framing="delimited")
    assert batch.token == ""
    assert_records(batch, records, kind)


def test_delimited_framing_with_empty_records(backend):
    """A zero-length record is a valid message with every field at its default."""
    records = corpus.executions(2, seed=1)
    data = delimited_stream([b"", ser(records[0]), b"", b"", ser(records[1]), b""])
    batch = decode(Execution, data, framing="delimited")
    empty = execution_pb2.Execution()
    assert_records(batch, [empty, records[0], empty, empty, records[1], empty])
    assert batch[0].closure.phase == 0
    assert batch[0].id.name == ""


def test_message_framing(backend, kind):
    record = kind.records(1, seed=9)[0]
    batch = decode(kind.model, ser(record), framing="message")
    assert len(batch) == 1 and batch.token == ""
    assert_records(batch, [record], kind)


def test_message_framing_reads_a_whole_list_as_one_message(backend):
    """Any model class decodes, including the generic model of a ``*List`` response itself."""
    listing = corpus.execution_list(4, seed=2, token="next")
    list_model = model_for("flyteidl.admin.ExecutionList")
    (whole,) = decode(list_model, ser(listing), framing="message")
    assert whole.token == "next"
    assert [e.to_flyte_idl() for e in whole.executions] == list(listing.executions)
    assert all(isinstance(e, Execution) for e in whole.executions)


_BYTES_LIKE = {
    "bytes": bytes,
    "bytearray": bytearray,
    "memoryview": memoryview,
    "memoryview-slice": lambda b: memoryview(b"<<" + b + b">>")[2:-2],
}


@pytest.mark.parametrize("framing", [None, "sequence"])
@pytest.mark.parametrize("item_type", sorted(_BYTES_LIKE))
@pytest.mark.parametrize("container", [list, tuple])
def test_sequence_input(backend, kind, item_type, framing, container):
    records = kind.records(12, seed=4)
    items = container(_BYTES_LIKE[item_type](ser(r)) for r in records)
    batch = decode(kind.model, items, framing=framing)
    assert batch.token == ""
    assert_records(batch, records, kind)


def test_sequence_of_mixed_bytes_like_items(backend):
    records = corpus.executions(4, seed=8)
    items = [ser(records[0]), bytearray(ser(records[1])), memoryview(ser(records[2])), ser(records[3])]
    assert_records(decode(Execution, items), records)


@pytest.mark.parametrize(
    "closure_model",
    [ExecutionClosure, NodeExecutionClosure, TaskExecutionClosure],
    ids=lambda c: c.__name__,
)
def test_a_column_of_closures(backend, closure_model):
    """flyteadmin's ``*.closure`` columns: one serialized closure per row, decoded as a sequence."""
    kind = next(k for k in KINDS.values() if k.closure_model is closure_model)
    closures = [r.closure for r in kind.records(60, seed=12)]
    batch = decode(closure_model, [ser(c) for c in closures])
    assert batch.model is closure_model
    assert_records(batch, closures)
    for model, source in zip(batch, closures):
        assert model.phase == source.phase
        started = model.started_at  # aware UTC, or naive UTC for task executions (as in flytekit)
        assert started.utcoffset() in (None, datetime.timedelta(0))
        assert started.replace(tzinfo=None) == source.started_at.ToDatetime()
    # The same column as a delimited dump decodes the same way.
    assert_records(decode(closure_model, delimited_stream(ser(c) for c in closures), framing="delimited"), closures)


def test_a_column_of_specs(backend):
    specs = [r.spec for r in corpus.executions(30, seed=13)]
    batch = decode(ExecutionSpec, [ser(s) for s in specs])
    assert_records(batch, specs)
    for model, source in zip(batch, specs):
        assert model.launch_plan.name == source.launch_plan.name
        assert model.metadata.principal == source.metadata.principal
