"""Columnar export: ``Batch.to_arrow()`` and friends.

Values are checked against flytekit's models (the oracle) on the realistic corpus, the two backends against
each other on the corpus, on hypothesis-generated messages and on damaged-but-valid records (merged
sub-messages, oneof rivals, wrong wire types, odd encodings), and the documented null and time rules on
hand-made records.
"""

from __future__ import annotations

import datetime
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from flyteidl.core import execution_pb2 as core_pb2
from flytekit.models import execution as fk_execution
from flytekit.models import node_execution as fk_node_execution
from flytekit.models.admin import task_execution as fk_task_execution
from google.protobuf import timestamp_pb2
from hypothesis import given

import flytecodec
from flytecodec import arrow as fc_arrow
from flytecodec import columns as cols
from flytecodec.models.admin.task_execution import TaskExecution, TaskExecutionClosure
from flytecodec.models.execution import Execution, ExecutionClosure, ExecutionSpec
from flytecodec.models.node_execution import NodeExecution, NodeExecutionClosure
from flytecodec.testing import corpus, strategies
from support.differential import mutated, seed_pool
from support.examples import SETTINGS
from support.malformed import ld, tag
from support.oracle import for_flytekit

NATIVE = "native" in flytecodec.available_backends()
needs_native = pytest.mark.skipif(not NATIVE, reason="the native backend is not built")

TOP = {
    "execution": (Execution, corpus.executions, strategies.executions),
    "node-execution": (NodeExecution, corpus.node_executions, strategies.node_executions),
    "task-execution": (TaskExecution, corpus.task_executions, strategies.task_executions),
}
PARTS = {  # a part of each record, as flyteadmin keeps it in a bytes column
    "execution-spec": (ExecutionSpec, lambda r: r.spec),
    "execution-closure": (ExecutionClosure, lambda r: r.closure),
    "node-execution-closure": (NodeExecutionClosure, lambda r: r.closure),
    "task-execution-closure": (TaskExecutionClosure, lambda r: r.closure),
}
PART_OF = {
    "execution-spec": "execution",
    "execution-closure": "execution",
    "node-execution-closure": "node-execution",
    "task-execution-closure": "task-execution",
}


def _records(kind: str, n: int = 600) -> list[bytes]:
    _, make, _ = TOP[kind]
    return [r.SerializeToString() for r in make(n, seed=11)]


def _table(model, items, backend: str, columns=None) -> pa.Table:
    with flytecodec.using_backend(backend):
        return flytecodec.decode(model, items).to_arrow(columns)


def _assert_same_tables(model, items) -> pa.Table:
    """The table of ``items`` on every backend; they must be equal, schema included."""
    tables = {b: _table(model, items, b) for b in flytecodec.available_backends()}
    python = tables["python"]
    for backend, table in tables.items():
        assert table.schema.equals(python.schema), backend
        for name in python.column_names:
            assert table[name].equals(python[name]), (backend, name, table[name][:5], python[name][:5])
    return python


# -- the schema ------------------------------------------------------------------------------------------------


def test_every_kind_has_a_documented_schema():
    import pathlib

    doc = (pathlib.Path(__file__).parents[2] / "docs" / "columns.md").read_text()
    for model in (Execution, ExecutionSpec, ExecutionClosure, NodeExecution, NodeExecutionClosure, TaskExecution):
        assert model._pb_class.DESCRIPTOR.full_name in cols.COLUMNS
        schema = fc_arrow.schema(model)
        assert schema.names == cols.column_names(model)
        for name in schema.names:
            assert f"`{name}`" in doc, name
    assert cols.docs_markdown() == doc, "docs/columns.md is stale: python scripts/columns_doc.py"


def test_types_are_the_documented_ones():
    schema = fc_arrow.schema(Execution)
    assert schema.field("phase").type == pa.dictionary(pa.int32(), pa.string())
    assert schema.field("phase_number").type == pa.int32()
    assert schema.field("started_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("duration").type == pa.duration("us")
    assert schema.field("labels").type == pa.map_(pa.string(), pa.string())
    assert schema.field("tags").type == pa.list_(pa.string())
    assert schema.field("nesting").type == pa.uint32()
    assert schema.field("interruptible").type == pa.bool_()
    assert all(field.nullable for field in schema)


# -- values against flytekit -----------------------------------------------------------------------------------


def _phase_name(enum):
    """The name of a phase number (flyteidl's: flytekit's phase classes miss newer phases)."""
    return lambda number: enum.Name(number)


def _opt(value):
    return value or None


def _when(read, holder, field):
    """A time flytekit gives even when the field is not set (the epoch, zero): ours is null then. Where
    flytekit's datetime is naive (task executions), it is UTC."""

    def expected(fk, pb):
        if not holder(pb).HasField(field):
            return None
        value = read(fk)
        if isinstance(value, datetime.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value

    return expected


EXPECTED = {  # column -> what flytekit's model of the record says it is
    "execution": (
        fk_execution.Execution,
        {
            "project": lambda e, _: e.id.project,
            "name": lambda e, _: e.id.name,
            "launch_plan_name": lambda e, _: _opt(e.spec.launch_plan.name),
            "launch_plan_version": lambda e, _: _opt(e.spec.launch_plan.version),
            "principal": lambda e, _: _opt(e.spec.metadata.principal),
            "nesting": lambda e, _: e.spec.metadata.nesting,
            "labels": lambda e, _: sorted(e.spec.labels.values.items()) or None,
            "annotations": lambda e, _: sorted(e.spec.annotations.values.items()) or None,
            "phase": lambda e, _: _phase_name(core_pb2.WorkflowExecution.Phase)(e.closure.phase),
            "phase_number": lambda e, _: e.closure.phase,
            "started_at": _when(lambda e: e.closure.started_at, lambda pb: pb.closure, "started_at"),
            "duration": _when(lambda e: e.closure.duration, lambda pb: pb.closure, "duration"),
            "created_at": _when(lambda e: e.closure.created_at, lambda pb: pb.closure, "created_at"),
            "updated_at": _when(lambda e: e.closure.updated_at, lambda pb: pb.closure, "updated_at"),
            "error_code": lambda e, _: e.closure.error.code if e.closure.error else None,
            "error_message": lambda e, _: _opt(e.closure.error.message) if e.closure.error else None,
            "outputs_uri": lambda e, _: _opt(e.closure.outputs.uri) if e.closure.outputs else None,
        },
    ),
    "node-execution": (
        fk_node_execution.NodeExecution,
        {
            "node_id": lambda n, _: n.id.node_id,
            "execution_name": lambda n, _: n.id.execution_id.name,
            "input_uri": lambda n, _: _opt(n.input_uri),
            "phase": lambda n, _: _phase_name(core_pb2.NodeExecution.Phase)(n.closure.phase),
            "started_at": _when(lambda n: n.closure.started_at, lambda pb: pb.closure, "started_at"),
            "duration": _when(lambda n: n.closure.duration, lambda pb: pb.closure, "duration"),
            "output_uri": lambda n, _: _opt(n.closure.output_uri),
            "error_code": lambda n, _: n.closure.error.code if n.closure.error else None,
            "deck_uri": lambda n, _: _opt(n.closure.deck_uri),
            "retry_group": lambda n, _: _opt(n.metadata.retry_group),
            "is_parent_node": lambda n, _: n.metadata.is_parent_node,
            "spec_node_id": lambda n, _: _opt(n.metadata.spec_node_id),
        },
    ),
    "task-execution": (
        fk_task_execution.TaskExecution,
        {
            "task_name": lambda t, _: t.id.task_id.name,
            "task_version": lambda t, _: _opt(t.id.task_id.version),
            "node_id": lambda t, _: t.id.node_execution_id.node_id,
            "retry_attempt": lambda t, _: t.id.retry_attempt,
            "phase": lambda t, _: _phase_name(core_pb2.TaskExecution.Phase)(t.closure.phase),
            "phase_number": lambda t, _: t.closure.phase,
            "started_at": _when(lambda t: t.closure.started_at, lambda pb: pb.closure, "started_at"),
            "duration": _when(lambda t: t.closure.duration, lambda pb: pb.closure, "duration"),
            "error_code": lambda t, _: t.closure.error.code if t.closure.error else None,
            "output_uri": lambda t, _: _opt(t.closure.output_uri),
            "is_parent": lambda t, _: t.is_parent,
        },
    ),
}


@pytest.mark.parametrize("kind", sorted(TOP))
def test_values_are_flytekits(backend, kind):
    model, make, _ = TOP[kind]
    fk_model, expected = EXPECTED[kind]
    records = make(400, seed=5)
    table = flytecodec.decode(model, [r.SerializeToString() for r in records]).to_arrow(list(expected))
    rows = table.to_pylist()
    for record, row in zip(records, rows):
        readable, _inline_outputs = for_flytekit(record)  # flytekit crashes on inline outputs (not read here)
        oracle = fk_model.from_flyte_idl(readable)
        for name, read in expected.items():
            assert row[name] == read(oracle, record), (name, row[name], read(oracle, record))


# -- the backends agree ----------------------------------------------------------------------------------------


@needs_native
@pytest.mark.parametrize("kind", sorted(TOP))
def test_backends_same_table(kind):
    model, _, _ = TOP[kind]
    table = _assert_same_tables(model, _records(kind))
    assert table.num_rows == 600
    assert table.column("phase").null_count == 0


@needs_native
@pytest.mark.parametrize("part", sorted(PARTS))
def test_backends_same_table_of_parts(part):
    model, take = PARTS[part]
    _, make, _ = TOP[PART_OF[part]]
    items = [take(r).SerializeToString() for r in make(400, seed=12)]
    _assert_same_tables(model, items)


@needs_native
def test_backends_same_table_across_threads():
    """Enough records for the native backend to build the columns on several threads, in chunks."""
    data = corpus.execution_list(9000, seed=3).SerializeToString()
    tables = {}
    for backend in flytecodec.available_backends():
        with flytecodec.using_backend(backend):
            tables[backend] = flytecodec.decode(Execution, data, framing="list").to_arrow()
    assert tables["native"].equals(tables["python"])


@needs_native
@pytest.mark.parametrize("kind", sorted(TOP))
def test_backends_same_table_on_odd_encodings(kind):
    """Valid records written oddly (sub-messages split in pieces, oneof members overriding each other, repeated
    singular fields, wrong wire types, unknown fields…) read the same on both backends."""
    model, _, _ = TOP[kind]
    rng = random.Random(f"arrow-{kind}")
    desc = model._pb_class.DESCRIPTOR
    records = seed_pool(kind.replace("-", "_"))
    good, refused = [], 0
    for _ in range(3000):
        data, _label = mutated(rng, rng.choice(records), desc, [])
        try:
            model._pb_class.FromString(data)
        except Exception:
            continue
        try:  # times out of Arrow's range are refused, with the same error on both backends
            _table(model, [data], "python")
        except ValueError as e:
            with pytest.raises(ValueError) as native:
                _table(model, [data], "native")
            assert str(native.value) == str(e)
            refused += 1
            continue
        good.append(data)
    assert len(good) > 1000 and refused > 0
    _assert_same_tables(model, good)


@needs_native
@pytest.mark.parametrize("kind", sorted(TOP))
def test_backends_same_table_on_generated_messages(kind):
    model, _, strategy = TOP[kind]

    @SETTINGS
    @given(strategy())
    def check(message):
        _assert_same_tables(model, [message.SerializeToString()])

    check()


# -- nulls, merges, times: the documented rules ----------------------------------------------------------------


def _ts(seconds: int, nanos: int = 0) -> bytes:
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos).SerializeToString()


def _closure_row(payload: bytes, columns) -> dict:
    rows = {}
    for backend in flytecodec.available_backends():
        with flytecodec.using_backend(backend):
            rows[backend] = flytecodec.decode(ExecutionClosure, [payload]).to_arrow(columns).to_pylist()[0]
    assert all(row == rows["python"] for row in rows.values()), rows
    return rows["python"]


def test_absent_messages_and_empty_strings_are_null(backend):
    row = flytecodec.decode(Execution, [b""]).to_arrow().to_pylist()[0]
    assert row["name"] is None  # empty string
    assert row["phase"] is None and row["phase_number"] is None  # the closure is not set
    assert row["nesting"] is None and row["mode"] is None  # spec.metadata is not set
    assert row["started_at"] is None and row["duration"] is None
    assert row["labels"] is None and row["tags"] is None and row["interruptible"] is None
    closure = flytecodec.decode(ExecutionClosure, [b""]).to_arrow(["phase", "phase_number"]).to_pylist()
    assert closure == [{"phase": "UNDEFINED", "phase_number": 0}]  # the record itself is always set


def test_set_message_gives_defaults_for_numbers_and_null_for_strings():
    row = _closure_row(ld(2, b""), ["error_code", "error_kind", "phase_number", "outputs_uri"])
    assert row == {"error_code": None, "error_kind": "UNKNOWN", "phase_number": 0, "outputs_uri": None}


def test_oneof_member_clears_the_others():
    error = ld(2, ld(1, b"USER:Boom"))
    abort = ld(10, b"stopped")
    assert _closure_row(error + abort, ["error_code", "abort_cause"]) == {"error_code": None, "abort_cause": "stopped"}
    assert _closure_row(abort + error, ["error_code", "abort_cause"]) == {
        "error_code": "USER:Boom",
        "abort_cause": None,
    }


def test_split_sub_messages_merge():
    data = ld(2, ld(1, b"USER:Boom")) + ld(2, ld(2, b"it broke"))
    row = _closure_row(data, ["error_code", "error_message"])
    assert row == {"error_code": "USER:Boom", "error_message": "it broke"}


def test_last_scalar_wins_and_wrong_wire_types_are_ignored():
    data = tag(4, 0) + b"\x04" + tag(4, 0) + b"\x06" + ld(4, b"\x01")
    assert _closure_row(data, ["phase", "phase_number"]) == {"phase": "FAILED", "phase_number": 6}


def test_unknown_enum_number_has_no_name():
    row = _closure_row(tag(4, 0) + b"\x63", ["phase", "phase_number"])
    assert row == {"phase": None, "phase_number": 99}


def test_times_keep_microseconds_cut_toward_zero():
    data = ld(5, _ts(1_700_000_000, 123_456_789)) + ld(6, _ts(-2, -999))
    row = _closure_row(data, ["started_at", "duration"])
    assert row["started_at"].isoformat() == "2023-11-14T22:13:20.123456+00:00"
    assert row["duration"] == datetime.timedelta(seconds=-2)  # -999 ns is less than a microsecond


def test_time_outside_int64_microseconds_raises_on_both_backends():
    data = ld(5, _ts(2**62))
    messages = set()
    for backend in flytecodec.available_backends():
        with flytecodec.using_backend(backend):
            batch = flytecodec.decode(ExecutionClosure, [b"", data])
            with pytest.raises(ValueError, match="record 1: column started_at") as info:
                batch.to_arrow(["started_at"])
            messages.add(str(info.value))
    assert len(messages) == 1


def test_maps_sorted_by_key_last_duplicate_wins():
    def entry(key: bytes, value: bytes) -> bytes:
        return ld(1, ld(1, key) + ld(2, value))

    labels = ld(7, entry(b"team", b"a") + entry(b"env", b"prod") + entry(b"team", b"b"))
    tables = {b: _table(ExecutionSpec, [labels], b, ["labels"]) for b in flytecodec.available_backends()}
    assert all(t.equals(tables["python"]) for t in tables.values())
    assert tables["python"].to_pylist() == [{"labels": [("env", "prod"), ("team", "b")]}]


# -- the API ---------------------------------------------------------------------------------------------------


def test_columns_selects_and_orders(backend):
    batch = flytecodec.decode(Execution, _records("execution", 50))
    table = batch.to_arrow(["phase", "name", "duration"])
    assert table.column_names == ["phase", "name", "duration"]
    assert table.equals(batch.to_arrow().select(["phase", "name", "duration"]))


def test_bad_columns(backend):
    batch = flytecodec.decode(Execution, _records("execution", 5))
    with pytest.raises(ValueError, match=r"unknown column 'nope'.*the columns are: project, domain"):
        batch.to_arrow(["nope"])
    with pytest.raises(ValueError, match="twice"):
        batch.to_arrow(["name", "name"])
    with pytest.raises(TypeError, match="list of column names"):
        batch.to_arrow("name")
    from flytecodec.models.core.identifier import Identifier

    with pytest.raises(TypeError, match="no columns for 'Identifier'"):
        flytecodec.decode(Identifier, [b""]).to_arrow()


def test_empty_batch_has_the_schema(backend):
    table = flytecodec.decode(Execution, b"", framing="list").to_arrow()
    assert table.num_rows == 0
    assert table.schema.equals(fc_arrow.schema(Execution))


def test_slices_and_streamed_batches(backend):
    data = corpus.execution_list(300, seed=2).SerializeToString()
    whole = flytecodec.decode(Execution, data, framing="list").to_arrow()
    batch = flytecodec.decode(Execution, data, framing="list")
    assert batch[100:250:3].to_arrow().equals(whole.take(list(range(100, 250, 3))))
    parts = [b.to_arrow() for b in flytecodec.iter_batches(data, Execution, framing="list", batch_size=64)]
    assert pa.concat_tables(parts).equals(whole)


def test_parquet_pandas_polars(backend, tmp_path):
    batch = flytecodec.decode(Execution, _records("execution", 200))
    table = batch.to_arrow()
    pq.write_table(table, tmp_path / "x.parquet")
    assert pq.read_table(tmp_path / "x.parquet").equals(table)
    frame = batch.to_pandas(["name", "phase", "started_at", "duration"])
    assert list(frame["name"]) == table["name"].to_pylist()
    assert str(frame["started_at"].dtype) == "datetime64[us, UTC]"
    polars = batch.to_polars(["name", "duration", "labels"])
    assert polars["name"].to_list() == table["name"].to_pylist()
    assert polars.shape == (200, 3)


@needs_native
def test_native_crosses_through_the_pycapsule_protocol():
    with flytecodec.using_backend("native"):
        batch = flytecodec.decode(Execution, _records("execution", 10))
    chosen = cols.select(Execution, ["name", "phase"])
    exported = batch._records.arrow_columns(
        "flyteidl.admin.Execution",
        [(c.name, c.numbers, c.kind, c.enum_numbers) for c in chosen],
        [list(c.enum_names) for c in chosen],
    )
    assert len(exported) == 1 and len(exported[0]) == 10
    capsules = exported[0].__arrow_c_array__()
    assert [type(c).__name__ for c in capsules] == ["PyCapsule", "PyCapsule"]
    assert pa.record_batch(exported[0]).column_names == ["name", "phase"]


def test_without_pyarrow_the_error_says_what_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name == "pyarrow" or name.startswith("pyarrow."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(ImportError, match=r"pip install 'flytecodec\[arrow\]'"):
        flytecodec.decode(Execution, [b""]).to_arrow()
