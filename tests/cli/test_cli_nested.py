"""``flytecodec decode --layout nested`` and ``flytecodec restore``: a dump to a nested table and back, byte for byte
as a deterministic serialization of each record, as a user runs them."""

from __future__ import annotations

import os

import pyarrow.parquet as pq
import pytest
from flyteidl.admin import execution_pb2, node_execution_pb2

import flytecodec
from flytecodec import layout
from support.cli import ok, run


@pytest.fixture(scope="module")
def dump(tmp_path_factory):
    path = tmp_path_factory.mktemp("dump") / "executions.bin"
    ok(f"sample -n 250 --seed 3 {path} -q")
    return path


def _originals(path) -> list[bytes]:
    records = execution_pb2.ExecutionList.FromString(path.read_bytes()).executions
    return [record.SerializeToString(deterministic=True) for record in records]


@pytest.mark.parametrize("suffix", ["parquet", "arrow"])
def test_decode_nested_then_restore_gives_the_records_back(dump, tmp_path, suffix, backend):
    table = tmp_path / f"history.{suffix}"
    ok(f"decode {dump} --kind execution --framing list --layout nested --to {table} -q", backend=backend)
    if suffix == "parquet":
        assert pq.read_schema(table).equals(layout.schema(execution_pb2.Execution.DESCRIPTOR))
    back = tmp_path / "back.bin"
    done = ok(f"restore {table} --to {back}", backend=backend)
    assert done.stderr.startswith("restored 250 executions in ")
    restored = flytecodec.decode_executions(back.read_bytes(), framing="delimited")
    assert [restored._records.raw(i) for i in range(len(restored))] == _originals(dump)


def test_restore_as_a_list_response_of_several_tables(dump, tmp_path):
    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"
    ok(f"decode {dump} --kind execution --framing list --layout nested --to {first} -q")
    ok(f"decode {dump} --kind execution --framing list --layout nested --to {second} -q --batch-size 7")
    back = tmp_path / "back.pb"
    ok(f"restore {first} {second} --to {back} --framing list --batch-size 33 -q")
    records = execution_pb2.ExecutionList.FromString(back.read_bytes()).executions
    assert [r.SerializeToString(deterministic=True) for r in records] == _originals(dump) * 2


def test_restore_takes_the_kind_when_the_table_does_not_say(tmp_path):
    dump = tmp_path / "nodes.bin"
    ok(f"sample --kind node-execution -n 40 --framing delimited {dump} -q")
    batch = flytecodec.decode(flytecodec.kinds.get("node-execution").load(), dump.read_bytes(), framing="delimited")
    table = batch.to_arrow(layout="nested").replace_schema_metadata(None)
    pq.write_table(table, tmp_path / "nodes.parquet")
    refused = run(f"restore {tmp_path / 'nodes.parquet'} --to {tmp_path / 'x.bin'}")
    assert refused.returncode == 1 and "give --kind" in refused.stderr
    back = tmp_path / "back.pb"
    ok(f"restore {tmp_path / 'nodes.parquet'} --kind node-execution --framing list --to {back} -q")
    records = node_execution_pb2.NodeExecutionList.FromString(back.read_bytes()).node_executions
    assert len(records) == 40


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ("{dump} --to {out}", 1, "neither a Parquet nor an Arrow IPC file"),
        ("{flat} --to {out}", 1, "no nested layout in its schema's metadata"),
        ("{flat} --kind execution --to {out}", 1, "needs a table from batch.to_arrow(layout='nested')"),
        ("{nested} --to {nested}", 2, "is one of the tables"),
        ("{nested} --kind execution-spec --framing list --to {out}", 2, "has no *List response"),
    ],
)
def test_restore_errors_say_what_to_do_and_leave_no_file(dump, tmp_path, args, code, message):
    flat, nested, out = tmp_path / "flat.parquet", tmp_path / "nested.parquet", tmp_path / "out.bin"
    ok(f"decode {dump} --kind execution --framing list --to {flat} -q")
    ok(f"decode {dump} --kind execution --framing list --layout nested --to {nested} -q")
    done = run("restore " + args.format(dump=dump, flat=flat, nested=nested, out=out))
    assert done.returncode == code, done.stderr
    assert message in done.stderr
    assert sorted(os.listdir(tmp_path)) == ["flat.parquet", "nested.parquet"]


def test_decode_nested_refuses_columns(dump, tmp_path):
    out = tmp_path / "x.csv"
    done = run(f"decode {dump} --kind execution --framing list --layout nested --columns name --to {out}")
    assert done.returncode == 2 and "--columns is for the flat layout" in done.stderr
    assert os.listdir(tmp_path) == []


def test_nested_rows_as_json_lines(dump, tmp_path):
    out = tmp_path / "rows.jsonl"
    ok(f"decode {dump} --kind execution --framing list --layout nested --to {out} -q")
    import json

    rows = [json.loads(line) for line in out.read_text().splitlines()]
    first = execution_pb2.ExecutionList.FromString(dump.read_bytes()).executions[0]
    assert len(rows) == 250
    assert rows[0]["id"]["name"] == first.id.name
    assert rows[0]["closure"]["phase"] == first.closure.phase
