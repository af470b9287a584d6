"""Columnar export: bytes of an ``ExecutionList`` to a ``pyarrow.Table``, against building it from flytekit's
models and against protarrow, on the same bytes in the same run.

- "executions: to Arrow (flytekit's columns)": the columns flytekit's models can give (``FLYTEKIT_COLUMNS``:
  the fields flytekit drops, such as ``closure.workflow_id``, are left out for every contender), built from
  flytekit models with one Python value per cell, against ``Batch.to_arrow(columns=...)``. Like for like: the
  same table, checked equal before timing.
- "executions: to Arrow (all columns)": every column (49 flat columns); the native backend on all cores and on
  one, and the python backend; their tables are checked equal before timing.
- "executions: protarrow": NOT like for like. protarrow's ``messages_to_record_batch`` converts whole messages
  (every field, nested: hundreds of struct, list and map columns), about a millisecond per execution;
  flytecodec builds its 49 flat columns of the same records. Neither side can do the other's work (protarrow
  has no column selection, flytecodec no nested whole-message output), so the ratio says how much cheaper the
  flat columns are than the whole conversion, not that one converter is faster at the same job. It runs on
  the first ``PROTARROW_N`` records only. Before timing, the columns both sides have (the execution id's
  project, domain and name, the phase's number) are checked equal.
"""

from __future__ import annotations

import datetime

import pyarrow as pa
import pytest
from flyteidl.admin import execution_pb2
from flytekit.models import execution as fk_execution

import flytecodec
from flytecodec.arrow import arrow_type
from flytecodec.columns import select
from flytecodec.models.execution import Execution

BACKENDS = flytecodec.available_backends()
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
EPOCH_NAIVE = EPOCH.replace(tzinfo=None)
ZERO = datetime.timedelta(0)
PROTARROW_N = 2000


def _flytekit_reader(column):
    """Read ``column`` from a flytekit ``Execution`` through its properties (``None`` for a missing message)."""
    names = [f.name for f in column.fields]
    kind = column.kind
    enum_names = dict(zip(column.enum_numbers, column.enum_names))

    def read(model):
        value = model
        for name in names:
            value = getattr(value, name)
            if value is None:
                return None
        if kind == "string":
            return value or None
        if kind == "enum":
            return enum_names.get(value)
        if kind == "map":
            return sorted(value.items()) or None
        if kind == "list":
            return list(value) or None
        if kind in ("timestamp", "duration") and value in (EPOCH, EPOCH_NAIVE, ZERO):
            return None  # flytekit gives the epoch (zero) for a time that is not set; the column has null
        return value

    return read


def _flytekit_columns(sample) -> list:
    """The columns flytekit's models have a property path for."""
    chosen = []
    for column in select(Execution, None):
        read = _flytekit_reader(column)
        try:
            for model in sample:
                read(model)
        except AttributeError:
            continue
        chosen.append(column)
    return chosen


@pytest.fixture(scope="module")
def flytekit_columns(execution_list_bytes):
    pbs = execution_pb2.ExecutionList.FromString(execution_list_bytes).executions
    return _flytekit_columns([fk_execution.Execution.from_flyte_idl(pb) for pb in pbs[:500]])


@pytest.mark.benchmark(group="executions: to Arrow (flytekit's columns)")
def test_arrow_flytekit(benchmark, execution_list_bytes, flytekit_columns):
    readers = [_flytekit_reader(c) for c in flytekit_columns]
    schema = pa.schema([pa.field(c.name, arrow_type(c)) for c in flytekit_columns])

    def run():
        pbs = execution_pb2.ExecutionList.FromString(execution_list_bytes).executions
        models = [fk_execution.Execution.from_flyte_idl(pb) for pb in pbs]
        columns = [[read(m) for m in models] for read in readers]
        return pa.Table.from_arrays([pa.array(v, f.type) for v, f in zip(columns, schema)], schema=schema)

    theirs = benchmark.pedantic(run, rounds=3, iterations=1)
    names = [c.name for c in flytekit_columns]
    ours = flytecodec.decode_executions(execution_list_bytes, framing="list").to_arrow(names)
    assert theirs.to_pylist() == ours.to_pylist(), "flytekit's table and flytecodec's differ"


@pytest.mark.benchmark(group="executions: to Arrow (flytekit's columns)")
@pytest.mark.parametrize("name", BACKENDS)
def test_arrow_subset_flytecodec(benchmark, execution_list_bytes, flytekit_columns, name):
    names = [c.name for c in flytekit_columns]

    def run():
        with flytecodec.using_backend(name):
            return flytecodec.decode_executions(execution_list_bytes, framing="list").to_arrow(names)

    ours = benchmark.pedantic(run, rounds=5, iterations=1)
    with flytecodec.using_backend("python"):
        assert ours.equals(flytecodec.decode_executions(execution_list_bytes, framing="list").to_arrow(names))


@pytest.fixture(scope="module")
def python_table(execution_list_bytes) -> pa.Table:
    """Every column, built by the python backend from upb's messages: what every contender must give."""
    with flytecodec.using_backend("python"):
        return flytecodec.decode_executions(execution_list_bytes, framing="list").to_arrow()


@pytest.mark.benchmark(group="executions: to Arrow (all columns)")
@pytest.mark.parametrize("name", BACKENDS)
def test_arrow_all_flytecodec(benchmark, execution_list_bytes, name, python_table):
    def run():
        with flytecodec.using_backend(name):
            return flytecodec.decode_executions(execution_list_bytes, framing="list").to_arrow()

    assert benchmark.pedantic(run, rounds=5, iterations=1).equals(python_table)


@pytest.mark.benchmark(group="executions: to Arrow (all columns)")
@pytest.mark.skipif("native" not in BACKENDS, reason="the native backend is not built")
def test_arrow_all_native_1thread(benchmark, execution_list_bytes, python_table):
    """The columns built on one core (``to_arrow`` uses them all): the per-core throughput."""
    chosen = select(Execution, None)
    specs = [(c.name, c.numbers, c.kind, c.enum_numbers) for c in chosen]
    names = [list(c.enum_names) for c in chosen]

    def run():
        with flytecodec.using_backend("native"):
            batch = flytecodec.decode_executions(execution_list_bytes, framing="list")
        exported = batch._records.arrow_columns("flyteidl.admin.Execution", specs, names, 1)
        return pa.Table.from_batches([pa.record_batch(part) for part in exported])

    assert benchmark.pedantic(run, rounds=5, iterations=1).equals(python_table)


@pytest.fixture(scope="module")
def protarrow_bytes(execution_list_bytes):
    pbs = execution_pb2.ExecutionList.FromString(execution_list_bytes).executions
    return execution_pb2.ExecutionList(executions=pbs[:PROTARROW_N]).SerializeToString()


@pytest.mark.benchmark(group="executions: protarrow")
def test_arrow_protarrow(benchmark, protarrow_bytes):
    protarrow = pytest.importorskip("protarrow")
    config = protarrow.ProtarrowConfig(skip_recursive_messages=True)

    def run():
        pbs = execution_pb2.ExecutionList.FromString(protarrow_bytes).executions
        return protarrow.messages_to_record_batch(pbs, execution_pb2.Execution, config)

    theirs = benchmark.pedantic(run, rounds=2, iterations=1)
    ours = flytecodec.decode_executions(protarrow_bytes, framing="list").to_arrow(["project", "domain", "name"])
    ids = theirs.column("id")
    for name in ("project", "domain", "name"):
        assert ids.field(name).to_pylist() == ours.column(name).to_pylist(), name
    phases = theirs.column("closure").field("phase").to_pylist()
    number = flytecodec.decode_executions(protarrow_bytes, framing="list").to_arrow(["phase_number"])
    assert phases == number.column("phase_number").to_pylist()


@pytest.mark.benchmark(group="executions: protarrow")
@pytest.mark.parametrize("name", BACKENDS)
def test_arrow_protarrow_flytecodec(benchmark, protarrow_bytes, name):
    def run():
        with flytecodec.using_backend(name):
            return flytecodec.decode_executions(protarrow_bytes, framing="list").to_arrow()

    benchmark.pedantic(run, rounds=5, iterations=1)
