"""Every column of ``Batch.to_arrow()`` against upb's message of the same record, value by value.

The expected value of a column is worked out here from its documented path (``flytecodec.columns.COLUMNS``:
the column names and proto paths, nothing of how they are read) and the documented null rules
(docs/columns.md), on the message upb parsed. Runs on each backend: the native one builds the table in Rust
from the record bytes, the python one from protobuf messages; both must give upb's values.
"""

from __future__ import annotations

import pytest
from hypothesis import given

import flytecodec
from flytecodec.columns import COLUMNS
from flytecodec.models import execution, node_execution
from flytecodec.models.admin import task_execution
from flytecodec.testing import corpus, strategies
from support import tally
from support.upb import SETTINGS, expected_column

pa = pytest.importorskip("pyarrow")

MODELS = {
    "flyteidl.admin.Execution": (execution.Execution, corpus.executions, strategies.executions),
    "flyteidl.admin.NodeExecution": (node_execution.NodeExecution, corpus.node_executions, strategies.node_executions),
    "flyteidl.admin.TaskExecution": (task_execution.TaskExecution, corpus.task_executions, strategies.task_executions),
}
PARTS = {
    "flyteidl.admin.ExecutionSpec": (execution.ExecutionSpec, "flyteidl.admin.Execution", "spec"),
    "flyteidl.admin.ExecutionClosure": (execution.ExecutionClosure, "flyteidl.admin.Execution", "closure"),
    "flyteidl.admin.NodeExecutionClosure": (
        node_execution.NodeExecutionClosure,
        "flyteidl.admin.NodeExecution",
        "closure",
    ),
    "flyteidl.admin.TaskExecutionClosure": (
        task_execution.TaskExecutionClosure,
        "flyteidl.admin.TaskExecution",
        "closure",
    ),
}


def check_table(message: str, model, pbs: list, source: str) -> None:
    """Decode ``pbs``' bytes on the active backend and compare every column of every row with upb's values."""
    items = [pb.SerializeToString(deterministic=True) for pb in pbs]
    table = flytecodec.decode(model, items).to_arrow()
    columns = COLUMNS[message]
    assert table.column_names == [c.name for c in columns]
    rows = table.to_pylist()
    assert len(rows) == len(pbs)
    for data, row in zip(items, rows):
        parsed = type(pbs[0]).FromString(data)
        key = tally.record_key(data)
        for column in columns:
            expected = expected_column(parsed, column.path, column.number)
            got = row[column.name]
            assert got == expected, f"{message} column {column.name} ({column.path}): {got!r} != upb's {expected!r}"
            tally.add("upb-column", source, key, column.name)


@pytest.mark.parametrize("message", sorted(MODELS))
def test_corpus_columns_match_upb(backend, message):
    model, make, _ = MODELS[message]
    check_table(message, model, make(800, seed=13), "decoded")


@pytest.mark.parametrize("message", sorted(PARTS))
def test_corpus_part_columns_match_upb(backend, message):
    model, holder, field = PARTS[message]
    records = MODELS[holder][1](400, seed=17)
    check_table(message, model, [getattr(pb, field) for pb in records], "decoded")


@pytest.mark.parametrize("message", sorted(MODELS))
def test_generated_columns_match_upb(backend, message):
    model, _, make = MODELS[message]

    @SETTINGS
    @given(make())
    def check(pb):
        check_table(message, model, [pb], "hypothesis")

    check()
