"""The ``flytecodec`` command, end to end in subprocesses, on each backend (``FLYTECODEC_BACKEND``).

What the command writes is read back with pyarrow, json and csv and compared with the models that
``flytecodec.decode`` gives for the same records.
"""

from __future__ import annotations

import collections
import datetime
import json
import math
import os
import re
import sys

import pyarrow as pa
import pyarrow.csv
import pyarrow.ipc
import pyarrow.parquet as pq
import pytest
from flyteidl.core import execution_pb2 as core

import flytecodec
from flytecodec._stats import human_seconds
from flytecodec.models.execution import Execution
from flytecodec.models.node_execution import NodeExecution
from flytecodec.testing import corpus
from support.cli import ok, run

FORMATS = ("parquet", "arrow", "feather", "jsonl", "csv")


@pytest.fixture(scope="module")
def executions_dump(tmp_path_factory):
    path = tmp_path_factory.mktemp("dumps") / "executions.pb"
    path.write_bytes(corpus.execution_list(300, seed=7, token="next").SerializeToString(deterministic=True))
    return path


def _expected(models) -> list[dict]:
    """What a table row of each model should hold: set fields as the model gives them, unset ones as None."""
    rows = []
    for m in models:
        closure = m.to_flyte_idl().closure
        labels = m.spec.labels.values if m.spec.labels is not None else {}
        rows.append(
            {
                "name": m.id.name,
                "phase": core.WorkflowExecution.Phase.Name(m.closure.phase),
                "started_at": m.closure.started_at if closure.HasField("started_at") else None,
                "duration": m.closure.duration if closure.HasField("duration") else None,
                "labels": dict(labels) or None,
            }
        )
    return rows


def _read(path, fmt: str) -> list[dict]:
    """The rows of an output file, with the columns of :func:`_expected` in their Python form."""
    if fmt in ("parquet", "arrow", "feather"):
        table = pq.read_table(path) if fmt == "parquet" else pyarrow.ipc.open_file(path).read_all()
        rows = table.to_pylist()
        for row in rows:
            row["labels"] = dict(row["labels"]) if row["labels"] is not None else None
        return rows
    if fmt == "jsonl":
        with open(path, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f]
    else:
        types = {"started_at": pa.timestamp("us", tz="UTC"), "duration": pa.float64(), "labels": pa.string()}
        options = pyarrow.csv.ConvertOptions(column_types=types, strings_can_be_null=True)
        rows = pyarrow.csv.read_csv(path, convert_options=options).to_pylist()
    for row in rows:
        started = row["started_at"]
        if isinstance(started, str):
            row["started_at"] = datetime.datetime.fromisoformat(started)
        if row["duration"] is not None:
            row["duration"] = datetime.timedelta(seconds=row["duration"])
        if isinstance(row["labels"], str):
            row["labels"] = json.loads(row["labels"])
    return rows


def _same(rows: list[dict], expected: list[dict]) -> None:
    assert len(rows) == len(expected)
    for row, want in zip(rows, expected):
        for key, value in want.items():
            got = row[key]
            if isinstance(value, datetime.timedelta) and got is not None:  # seconds as a float in text formats
                assert math.isclose(got.total_seconds(), value.total_seconds(), rel_tol=1e-12, abs_tol=1e-6)
            else:
                assert got == value, (key, got, value)


# -- decode ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_decode_each_format(backend, fmt, executions_dump, tmp_path):
    out = tmp_path / f"executions.{fmt}"
    done = ok(f"decode {executions_dump} --kind execution --framing list --to {out} --batch-size 128", backend=backend)
    assert done.stdout == ""
    summary = done.stderr.strip().splitlines()
    assert len(summary) == 1
    assert "300 executions" in summary[0] and str(out) in summary[0] and f"{backend} backend" in summary[0]
    expected = _expected(flytecodec.decode(Execution, executions_dump, framing="list"))
    _same(_read(out, fmt), expected)
    assert os.listdir(tmp_path) == [out.name]  # no temporary file left behind


def test_columns_subset(backend, executions_dump, tmp_path):
    out = tmp_path / "some.parquet"
    ok(f"decode {executions_dump} --kind execution --framing list --to {out} --columns phase,name", backend=backend)
    table = pq.read_table(out)
    assert table.column_names == ["phase", "name"]
    expected = _expected(flytecodec.decode(Execution, executions_dump, framing="list"))
    assert table["name"].to_pylist() == [row["name"] for row in expected]
    assert table["phase"].to_pylist() == [row["phase"] for row in expected]


def test_unknown_column_is_a_usage_error(executions_dump, tmp_path):
    done = run(f"decode {executions_dump} --kind execution --framing list --to {tmp_path}/x.csv --columns name,colour")
    assert done.returncode == 2
    assert "'colour'" in done.stderr and "launch_plan_name" in done.stderr
    assert not os.listdir(tmp_path)


def test_bad_input_is_one_line(backend, tmp_path):
    """A dump cut short in its second file: exit 1 and one line naming the file, the record and the byte."""
    records = corpus.executions(60, seed=2)
    first, second = tmp_path / "a.bin", tmp_path / "b.bin"
    first.write_bytes(corpus.delimited(records[:20]))
    second.write_bytes(corpus.delimited(records[20:])[:-100])
    with pytest.raises(flytecodec.DecodeError) as raised:
        for _ in flytecodec.iter_batches([first, second], Execution, framing="delimited", batch_size=16):
            pass
    out = tmp_path / "out.parquet"
    done = run(
        f"decode {first} {second} --kind execution --framing delimited --to {out} --batch-size 16", backend=backend
    )
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("flytecodec: error: ")
    assert str(second) in lines[0]
    assert f"message {raised.value.index} " in lines[0] and f"offset {raised.value.offset}:" in lines[0]
    assert raised.value.index > 20
    assert sorted(os.listdir(tmp_path)) == ["a.bin", "b.bin"]  # no output, complete or partial


def test_a_value_arrow_cannot_hold(backend, tmp_path):
    records = corpus.executions(5, seed=1)
    records[3].closure.started_at.seconds = 10**13  # the year 318 857: past Arrow's int64 microseconds
    dump = tmp_path / "far.bin"
    dump.write_bytes(corpus.delimited(records))
    out = tmp_path / "far.parquet"
    done = run(f"decode {dump} --kind execution --framing delimited --to {out} --batch-size 2", backend=backend)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("flytecodec: error: in the batch that starts at record 2: ")
    assert "started_at" in lines[0]
    assert os.listdir(tmp_path) == ["far.bin"]


def test_missing_file(tmp_path):
    done = run(f"decode {tmp_path}/nope.pb --kind execution --framing list --to {tmp_path}/x.csv")
    assert done.returncode == 2
    assert "nope.pb" in done.stderr and "does not exist" in done.stderr


def test_unknown_suffix(executions_dump, tmp_path):
    done = run(f"decode {executions_dump} --kind execution --framing list --to {tmp_path}/x.xlsx")
    assert done.returncode == 2
    assert ".xlsx" in done.stderr
    assert all(suffix in done.stderr for suffix in (".parquet", ".arrow", ".feather", ".ipc", ".jsonl", ".csv"))
    assert not os.listdir(tmp_path)


def test_list_framing_needs_a_list_kind(executions_dump, tmp_path):
    done = run(f"decode {executions_dump} --kind execution-closure --framing list --to {tmp_path}/x.csv")
    assert done.returncode == 2
    assert "--framing" in done.stderr


def test_quiet_prints_nothing(backend, executions_dump, tmp_path):
    out = tmp_path / "quiet.jsonl"
    done = ok(f"decode {executions_dump} --kind execution --framing list --to {out} --quiet", backend=backend)
    assert done.stdout == "" and done.stderr == ""
    assert len(out.read_text(encoding="utf-8").splitlines()) == 300


def test_empty_input_gives_an_empty_file_with_the_schema(backend, tmp_path):
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    schema = flytecodec.decode(NodeExecution, []).to_arrow().schema
    for fmt in ("parquet", "arrow", "jsonl", "csv"):
        out = tmp_path / f"out.{fmt}"
        done = ok(f"decode {empty} --kind node-execution --framing delimited --to {out}", backend=backend)
        assert "0 node executions" in done.stderr
        if fmt == "parquet":
            table = pq.read_table(out)
            assert table.num_rows == 0 and table.schema.equals(schema)
        elif fmt == "arrow":
            table = pyarrow.ipc.open_file(out).read_all()
            assert table.num_rows == 0 and table.schema.equals(schema)
        elif fmt == "jsonl":
            assert out.read_bytes() == b""
        else:
            assert out.read_text(encoding="utf-8").strip() == ",".join(f'"{name}"' for name in schema.names)


def test_several_files_and_a_directory_of_pages(backend, tmp_path):
    pages = tmp_path / "pages"
    pages.mkdir()
    for i in range(3):
        page = corpus.execution_list(90, seed=20 + i, token=f"page-{i + 1}")
        (pages / f"page-{i}.pb").write_bytes(page.SerializeToString())
    extra = tmp_path / "extra.pb"
    extra.write_bytes(corpus.execution_list(40, seed=30).SerializeToString())
    out = tmp_path / "all.jsonl"
    ok(f"decode {pages} {extra} --kind execution --framing list --to {out} --batch-size 50", backend=backend)
    expected = [m for i in range(3) for m in corpus.executions(90, seed=20 + i)] + corpus.executions(40, seed=30)
    assert [row["name"] for row in _read(out, "jsonl")] == [m.id.name for m in expected]


def test_one_message_per_file(backend, tmp_path):
    closures = [e.closure for e in corpus.executions(12, seed=4)]
    (tmp_path / "closures").mkdir()
    for i, closure in enumerate(closures):
        (tmp_path / "closures" / f"{i:02}.pb").write_bytes(closure.SerializeToString())
    out = tmp_path / "closures.csv"
    columns = "--columns phase,error_code"
    ok(f"decode {tmp_path}/closures --kind execution-closure --framing message --to {out} {columns}", backend=backend)
    rows = pyarrow.csv.read_csv(out, convert_options=pyarrow.csv.ConvertOptions(strings_can_be_null=True)).to_pylist()
    assert [row["phase"] for row in rows] == [core.WorkflowExecution.Phase.Name(c.phase) for c in closures]
    assert [row["error_code"] for row in rows] == [c.error.code or None for c in closures]


# -- stats -------------------------------------------------------------------------------------------------------


def _table_rows(text: str, heading: str) -> list[list[str]]:
    """The body rows of the rich table after the line starting with ``heading``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    rows = []
    for line in lines[start + 4 :]:  # heading, top rule, header, header rule
        if not line.startswith("│"):
            break
        rows.append([cell.strip() for cell in line.strip("│").split("│")])
    return rows


def _linear_quantile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def test_stats(backend, tmp_path):
    records = corpus.node_executions(1_000, seed=9)
    dump = tmp_path / "nodes.bin"
    dump.write_bytes(corpus.delimited(records))
    done = ok(f"stats {dump} --kind node-execution --framing delimited --batch-size 300", backend=backend)
    assert "\x1b[" not in done.stdout  # no colours when piped
    assert done.stdout.startswith("records: 1000 node executions")

    phases = collections.Counter(core.NodeExecution.Phase.Name(r.closure.phase) for r in records)
    shown = {row[0]: int(row[1]) for row in _table_rows(done.stdout, "node executions by phase")}
    assert shown == phases

    # whole µs, as the duration column keeps them
    durations = [r.closure.duration.ToMicroseconds() for r in records if r.closure.HasField("duration")]
    overall = _table_rows(done.stdout, "duration by node_id")[0]
    assert overall[:2] == ["(all)", str(len(durations))]
    assert overall[2] == human_seconds(_linear_quantile(durations, 0.5) / 1e6)
    assert overall[5] == human_seconds(max(durations) / 1e6)
    by_node = collections.Counter(r.id.node_id for r in records if r.closure.HasField("duration"))
    groups = {row[0]: int(row[1]) for row in _table_rows(done.stdout, "duration by node_id")[1:]}
    assert groups == dict(sorted(by_node.items(), key=lambda item: (-item[1], item[0]))[:20])

    errors = collections.Counter(r.closure.error.code for r in records if r.closure.error.code)
    shown_errors = {row[0]: int(row[1]) for row in _table_rows(done.stdout, "error codes")}
    assert shown_errors == dict(sorted(errors.items(), key=lambda item: (-item[1], item[0]))[:20])


def test_stats_of_no_records(tmp_path):
    empty = tmp_path / "empty.pb"
    empty.write_bytes(b"")
    done = ok(f"stats {empty} --kind task-execution --framing list")
    assert done.stdout == "records: 0 task executions\n(the input holds no records: nothing to count)\n"


# -- sample, demo, bench, the rest -----------------------------------------------------------------------------------


def test_sample_writes_a_dump_that_decodes(tmp_path):
    listed, delimited = tmp_path / "tasks.pb", tmp_path / "tasks.bin"
    done = ok(f"sample --kind task-execution -n 150 --framing list --seed 3 {listed}")
    assert "150 task executions" in done.stdout and str(listed) in done.stdout
    quiet = ok(f"sample --kind task-execution -n 150 --framing delimited --seed 3 {delimited} -q")
    assert quiet.stdout == "" and quiet.stderr == ""
    expected = corpus.task_executions(150, seed=3)
    for path, framing in ((listed, "list"), (delimited, "delimited")):
        batch = flytecodec.decode_task_executions(path, framing=framing)
        assert [m.to_flyte_idl() for m in batch] == expected


def test_demo_leaves_a_parquet_file(tmp_path):
    done = run("-n 400", command=[sys.executable, "-m", "flytecodec"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    parquet = tmp_path / "flytecodec-sample" / "executions.parquet"
    assert pq.read_table(parquet).num_rows == 400
    for command in ("sample", "decode", "stats"):
        assert f"$ flytecodec {command} " in done.stdout
    assert "decoded 400 executions" in done.stdout and "records: 400 executions" in done.stdout


def test_version_and_help():
    assert ok("--version").stdout.strip() == f"flytecodec {flytecodec.__version__}"
    for command in ("decode", "stats", "sample", "bench", "demo"):
        assert ok(f"{command} --help").stdout.startswith(f"Usage: flytecodec {command} ")


def test_backend_option(executions_dump, tmp_path):
    out = tmp_path / "x.csv"
    done = ok(f"--backend python decode {executions_dump} --kind execution --framing list --to {out}")
    assert "python backend" in done.stderr
    assert run("--backend fast --help").returncode == 2


def test_without_the_cli_extra():
    code = "import sys; sys.modules['rich'] = None; from flytecodec.cli import main; main(['--help'])"
    done = run("", command=[sys.executable, "-c", code])
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == ["flytecodec: the command line needs rich: pip install 'flytecodec[cli]'"]


def test_bench(tmp_path):
    pytest.importorskip("flytekit")
    chart = tmp_path / "chart.png"
    done = run(f"bench -n 60 --repeat 1 --chart {chart}")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert done.returncode == 1
        assert done.stderr.splitlines() == [
            "flytecodec: error: --chart needs matplotlib: pip install 'flytecodec[chart]'"
        ]
        done = ok("bench -n 60 --repeat 1")
    else:
        assert done.returncode == 0, done.stderr
        assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for contender in ["flytekit", "raw upb", *(f"flytecodec {b}" for b in flytecodec.available_backends())]:
        assert re.search(rf"│ {contender} +│ +[0-9.]+ │", done.stdout), contender


def test_arrow_file_of_batches_with_different_dictionaries(tmp_path):
    """An IPC file cannot replace a column's dictionary between batches; the writer grows one instead."""
    from flytecodec._writers import IpcWriter

    batches = [["RUNNING", "QUEUED", None], ["FAILED", "RUNNING"], ["QUEUED"], []]
    writer = IpcWriter(tmp_path / "phases.arrow")
    for phases in batches:
        writer.write(pa.table({"phase": pa.array(phases, pa.string()).dictionary_encode()}))
    writer.finish(pa.schema([("phase", pa.dictionary(pa.int32(), pa.string()))]))
    table = pyarrow.ipc.open_file(tmp_path / "phases.arrow").read_all()
    assert table["phase"].to_pylist() == [phase for phases in batches for phase in phases]
