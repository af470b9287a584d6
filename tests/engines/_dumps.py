"""Dump sets for the engine tests, and the single-process answer they are compared with."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa

import flytecodec
from flytecodec.shards import model_for
from flytecodec.testing import corpus

# Columns that identify a record of each kind: results are sorted by them before comparing.
KEYS = {
    "execution": ["project", "domain", "name"],
    "node-execution": ["execution_project", "execution_domain", "execution_name", "node_id", "retry_group"],
    "task-execution": [
        "execution_project",
        "execution_domain",
        "execution_name",
        "node_id",
        "task_project",
        "task_domain",
        "task_name",
        "task_version",
        "retry_attempt",
    ],
}
PAGE_SIZES = (150, 0, 90, 61)  # an empty page among them


def write_dumps(root: Path) -> list[tuple[str, str, str, int | None]]:
    """A directory of list pages of each record kind and a delimited file of executions to split into byte
    ranges; ``(kind, source, framing, shards)`` of each."""
    cases = []
    for kind in KEYS:
        folder = root / kind
        folder.mkdir()
        _, response = corpus.KINDS[kind]
        for i, n in enumerate(PAGE_SIZES):
            (folder / f"page-{i:03}.pb").write_bytes(response(n, 40 + i, f"token-{i}").SerializeToString())
        cases.append((kind, str(folder), "list", None))
    big = root / "executions.bin"
    big.write_bytes(corpus.delimited(corpus.executions(700, seed=77)))
    cases.append(("execution", str(big), "delimited", 5))
    return cases


def expected_table(kind: str, source: str, framing: str, columns=None) -> pa.Table:
    """What one process gives: each file decoded whole and turned into a table, on the active backend."""
    model = model_for(kind)
    paths = [os.path.join(source, name) for name in sorted(os.listdir(source))] if os.path.isdir(source) else [source]
    tables = [flytecodec.decode(model, path, framing=framing).to_arrow(columns) for path in paths]
    return pa.concat_tables(tables)


def sorted_rows(table: pa.Table, kind: str) -> list[dict]:
    """The rows as dicts, sorted by the kind's key (then by the whole row, should a key repeat)."""
    rows = table.to_pylist()
    keys = [key for key in KEYS[kind] if key in table.column_names]
    return sorted(rows, key=lambda row: (tuple(_sortable(row[k]) for k in keys), repr(row)))


def _sortable(value):
    return (value is not None, value if value is not None else 0)
