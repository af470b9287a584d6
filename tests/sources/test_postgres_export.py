"""``flytecodec export postgresql://...`` end to end in subprocesses, on each backend, against the real server:
the file holds what ``flytecodec.sources.postgres.read`` gives; watermarks; one-line errors and no partial
output on bad data, an unreachable database and a lost connection."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import time

import _flyteadmin
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import flytecodec
from flytecodec.sources import postgres

COMMAND = [sys.executable, "-m", "flytecodec.cli"]


def export(url: str, *args: str, backend: str | None = None, wait: bool = True):
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("FLYTECODEC_BACKEND", None)
    if backend:
        env["FLYTECODEC_BACKEND"] = backend
    argv = [*COMMAND, "export", url, *args]
    if not wait:
        return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(argv, env=env, capture_output=True, text=True)


def expected_table(url: str, kind: str, columns=None, **options) -> pa.Table:
    with flytecodec.using_backend("python"):
        tables = [rows.to_arrow(columns) for rows in postgres.read(url, kind, **options)]
    return pa.concat_tables(tables) if tables else postgres.empty(kind).to_arrow(columns)


@pytest.mark.parametrize("kind", ["execution", "node-execution", "task-execution", "execution-closure"])
def test_export_to_parquet_holds_what_read_gives(flyteadmin_db, backend, tmp_path, kind):
    out = tmp_path / "out.parquet"
    done = export(flyteadmin_db.url, "--kind", kind, "--to", str(out), "--batch-size", "150", backend=backend)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    table = pq.read_table(out)
    assert table.equals(expected_table(flyteadmin_db.url, kind))
    assert f"exported {table.num_rows} " in done.stderr and f"{backend} backend: wrote {out}" in done.stderr
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".part")]


@pytest.mark.parametrize("suffix", ["arrow", "jsonl", "csv"])
def test_export_writes_every_format_decode_writes(flyteadmin_db, tmp_path, suffix):
    out = tmp_path / f"out.{suffix}"
    done = export(flyteadmin_db.url, "--kind", "task-execution", "--to", str(out), "-q", "--trim-errors")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    rows = len(out.read_text(encoding="utf-8").splitlines()) if suffix != "arrow" else None
    expected = expected_table(flyteadmin_db.url, "task-execution").num_rows
    if suffix == "jsonl":
        assert rows == expected
    elif suffix == "csv":
        assert rows >= expected + 1  # the header; quoted values may span lines
    else:
        assert pa.ipc.open_file(out).read_all().num_rows == expected


def test_filters_and_columns(flyteadmin_db, tmp_path):
    out = tmp_path / "out.parquet"
    first = flyteadmin_db.executions[0]
    since = "2025-06-01T00:00:00Z"
    done = export(flyteadmin_db.url, "--kind", "execution", "--to", str(out), "--project", first["execution_project"],
                  "--phase", "SUCCEEDED", "--phase", "FAILED", "--since", since, "--archived", "-q",
                  "--columns", "name,phase,error_message,row_updated_at")  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = expected_table(flyteadmin_db.url, "execution", ["name", "phase", "error_message", "row_updated_at"],
                              project=first["execution_project"], phase=["SUCCEEDED", "FAILED"], since=since,
                              archived=True)  # fmt: skip
    table = pq.read_table(out)
    assert table.equals(expected) and table.num_rows > 0
    assert set(table.column("phase").to_pylist()) <= {"SUCCEEDED", "FAILED"}
    bad = export(flyteadmin_db.url, "--kind", "execution-closure", "--to", str(tmp_path / "x.parquet"),
                 "--columns", "execution_name,nope")  # fmt: skip
    assert bad.returncode == 2 and "no column 'nope'" in bad.stderr
    assert not (tmp_path / "x.parquet").exists()


def test_watermark_exports_only_what_changed(pg_server, tmp_path):
    url = _flyteadmin.create_database(pg_server, "flyteadmin_watermark")
    rows = _flyteadmin.execution_rows(30, seed=9)
    for row in rows:
        row["state"], row["deleted_at"] = 0, None
    with psycopg.connect(url) as conn:
        _flyteadmin.insert(conn, "executions", rows)
    mark, out = tmp_path / "executions.watermark", tmp_path / "out.parquet"
    args = ("--kind", "execution", "--to", str(out), "--watermark", str(mark), "--columns", "name,row_updated_at")
    done = export(url, *args)
    assert done.returncode == 0, done.stderr
    latest = max(r["updated_at"] for r in rows)
    assert datetime.datetime.fromisoformat(mark.read_text().strip()) == latest
    assert pq.read_table(out).num_rows == len(rows)
    later = latest + datetime.timedelta(minutes=5)
    changed = rows[4]
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE executions SET updated_at = %s WHERE execution_name = %s",
                     [later, changed["execution_name"]])  # fmt: skip
    done = export(url, *args)
    assert done.returncode == 0, done.stderr
    table = pq.read_table(out)
    at_mark = [r["execution_name"] for r in rows if r["updated_at"] == latest]  # at the watermark: again
    assert sorted(table.column("name").to_pylist()) == sorted([*at_mark, changed["execution_name"]])
    assert max(table.column("row_updated_at").to_pylist()) == later
    assert datetime.datetime.fromisoformat(mark.read_text().strip()) == later
    done = export(url, *args)  # nothing newer: the row at the watermark again, the watermark kept
    assert done.returncode == 0 and pq.read_table(out).num_rows == 1
    assert datetime.datetime.fromisoformat(mark.read_text().strip()) == later
    mark.write_text("last tuesday\n")
    done = export(url, *args)
    assert done.returncode == 1 and "not an ISO 8601 time" in done.stderr


def test_corrupt_row_is_one_line_and_no_output(pg_server, tmp_path, backend):
    url = _flyteadmin.create_database(pg_server, f"flyteadmin_corrupt_{backend}")
    rows = _flyteadmin.execution_rows(5, seed=4)[:2]
    for row in rows:
        row["state"], row["deleted_at"] = 0, None
    rows[1]["closure"] = b"\x22\x05\x08"
    with psycopg.connect(url) as conn:
        _flyteadmin.insert(conn, "executions", rows)
    out = tmp_path / "out.parquet"
    done = export(url, "--kind", "execution", "--to", str(out), backend=backend)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flytecodec: error: cannot decode flyteidl.admin.Execution")
    assert f"execution_name={rows[1]['execution_name']!r}" in lines[0]
    assert os.listdir(tmp_path) == []


def test_unreachable_database_is_one_line_and_no_output(pg_server, tmp_path):
    out = tmp_path / "out.parquet"
    done = export(f"postgresql://flyte@127.0.0.1:{pg_server.port}/missing", "--kind", "execution", "--to", str(out))
    assert done.returncode == 1
    assert done.stderr.startswith("flytecodec: error: cannot connect to the database:")
    assert len(done.stderr.strip().splitlines()) == 1
    assert os.listdir(tmp_path) == []
    wrong = export("mysql://x/y", "--kind", "execution", "--to", str(out))
    assert wrong.returncode == 2 and "postgresql://" in wrong.stderr


def test_lost_connection_is_one_line_and_no_output(flyteadmin_db, tmp_path):
    marker = "flytecodec-export-lost"
    out = tmp_path / "out.parquet"
    process = export(flyteadmin_db.url + f"?application_name={marker}", "--kind", "node-execution", "--to",
                     str(out), "--batch-size", "1", wait=False)  # fmt: skip
    killed = 0
    with psycopg.connect(flyteadmin_db.url, autocommit=True) as admin:
        deadline = time.monotonic() + 60
        while not killed and process.poll() is None and time.monotonic() < deadline:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = %s AND state = 'idle in transaction'",
                [marker],
            ).fetchone()[0]
            time.sleep(0.01)
    _, stderr = process.communicate(timeout=60)
    assert killed == 1, "the export ended before its connection could be cut"
    assert process.returncode == 1
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flytecodec: error: lost the connection to the database after")
    assert os.listdir(tmp_path) == []
