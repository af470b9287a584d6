"""Columnar export: bytes of an ``ExecutionList`` to a ``pyarrow.Table``, against building it from flytekit's
models and against protarrow, on the same bytes in the same run.

- "executions: to Arrow (flytekit's columns)": the columns flytekit's models can give (``FLYTEKIT_COLUMNS``:
  the fields flytekit drops, such as ``closure.workflow_id``, are left out for every contender), built from
  flytekit models with one Python value per cell, against ``Batch.to_arrow(columns=...)``.
- "executions: to Arrow (all columns)": every column; the native backend on all cores and on one.
- "executions: protarrow": protarrow's ``messages_to_record_batch`` converts whole messages (every field,
  nested), about a millisecond per execution, so it runs on the first ``PROTARROW_N`` records only, and
  flytecodec on the same records beside it.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from flyteidl.admin import execution_pb2
from flytekit.models import execution as fk_execution

import flytecodec
from flytecodec.arrow import arrow_type
from flytecodec.columns import select
from flytecodec.models.execution import Execution

BACKENDS = flytecodec.available_backends()
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

    benchmark.pedantic(run, rounds=3, iterations=1)


@pytest.mark.benchmark(group="executions: to Arrow (flytekit's columns)")
@pytest.mark.parametrize("name", BACKENDS)
def test_arrow_subset_flytecodec(benchmark, execution_list_bytes, flytekit_columns, name):
    names = [c.name for c in flytekit_columns]

    def run():
        with flytecodec.using_backend(name):
            return flytecodec.decode_executions(execution_list_bytes, framing="list").to_arrow(names)

    benchmark.pedantic(run, rounds=5, iterations=1)


@pytest.mark.benchmark(group="executions: to Arrow (all columns)")
@pytest.mark.parametrize("name", BACKENDS)
def test_arrow_all_flytecodec(benchmark, execution_list_bytes, name):
    def run():
        with flytecodec.using_backend(name):
            return flytecodec.decode_executions(execution_list_bytes, framing="list").to_arrow()

    benchmark.pedantic(run, rounds=5, iterations=1)


@pytest.mark.benchmark(group="executions: to Arrow (all columns)")
@pytest.mark.skipif("native" not in BACKENDS, reason="the native backend is not built")
def test_arrow_all_native_1thread(benchmark, execution_list_bytes):
    """The columns built on one core (``to_arrow`` uses them all): the per-core throughput."""
    chosen = select(Execution, None)
    specs = [(c.name, c.numbers, c.kind, c.enum_numbers) for c in chosen]
    names = [list(c.enum_names) for c in chosen]

    def run():
        with flytecodec.using_backend("native"):
            batch = flytecodec.decode_executions(execution_list_bytes, framing="list")
        exported = batch._records.arrow_columns("flyteidl.admin.Execution", specs, names, 1)
        return pa.Table.from_batches([pa.record_batch(part) for part in exported])

    benchmark.pedantic(run, rounds=5, iterations=1)


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

    benchmark.pedantic(run, rounds=2, iterations=1)


@pytest.mark.benchmark(group="executions: protarrow")
@pytest.mark.parametrize("name", BACKENDS)
def test_arrow_protarrow_flytecodec(benchmark, protarrow_bytes, name):
    def run():
        with flytecodec.using_backend(name):
            return flytecodec.decode_executions(protarrow_bytes, framing="list").to_arrow()

    benchmark.pedantic(run, rounds=5, iterations=1)
