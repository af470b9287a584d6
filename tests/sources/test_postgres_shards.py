"""flyteadmin's tables as shards (flytecodec.sources.postgres_shards) against a real PostgreSQL server: the planner
gives every row to exactly one shard for any row and shard count (hypothesis), also when rows are written after
planning; the shards read together equal the single-process source cell for cell, on both backends; a bad row
fails its shard naming the table, the id range and the row; the password never shows."""

from __future__ import annotations

import pickle

import _flyteadmin
import psycopg
import pyarrow as pa
import pytest
from _pgfixtures import bad_executions_db, source_table
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import flytecodec
from flytecodec import DecodeError, shards
from flytecodec.sources import SourceError, postgres, postgres_shards
from flytecodec.sources.postgres_shards import TableShard

ALL_KINDS = list(postgres.KINDS)


def canonical(table: pa.Table) -> list[dict]:
    """The rows in one order whatever order they were read in (rows are unique: their keys are)."""
    return sorted(table.to_pylist(), key=repr)


def read_all(planned, columns=None, **options) -> pa.Table:
    batches = [batch for shard in planned for batch in shards.read_shard(shard, columns, **options)]
    return pa.Table.from_batches(batches, schema=shards.schema(planned[0].kind, columns, source=planned[0].conninfo))


def check_partition(planned: list[TableShard]) -> None:
    """The ranges cover every id once: open at both ends, each ending where the next begins."""
    assert planned[0].low is None and planned[-1].high is None
    for before, after in zip(planned, planned[1:]):
        assert before.high == after.low is not None
    assert all(s.low < s.high for s in planned if s.low is not None and s.high is not None)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_shards_equal_the_single_process_source(flyteadmin_db, backend, kind):
    expected = canonical(source_table(flyteadmin_db.url, kind, archived=True))
    assert len(expected) > 300
    by_count = shards.plan(flyteadmin_db.url, kind, shards=3, archived=True)
    assert len(by_count) == 3
    check_partition(by_count)
    assert max(s.rows for s in by_count) - min(s.rows for s in by_count) <= 1  # ntile: equal row counts
    got = read_all(by_count, batch_size=64)
    assert got.schema == postgres.empty(kind).to_arrow().schema
    assert canonical(got) == expected
    by_rows = shards.plan(flyteadmin_db.url, kind, shard_rows=97, archived=True)
    check_partition(by_rows)
    assert len(by_rows) == -(-len(expected) // 97) and sum(s.rows for s in by_rows) == len(expected)
    assert canonical(read_all(by_rows)) == expected


def test_projection_filters_and_row_counts(flyteadmin_db, backend):
    url = flyteadmin_db.url
    one = next(r for r in flyteadmin_db.executions if r["deleted_at"] is None and r["state"] == 0)
    filters = {"project": one["execution_project"], "phase": ["FAILED", "SUCCEEDED"]}
    columns = ["row_updated_at", "name", "phase", "error_message"]
    planned = shards.plan(url, "execution", shards=4, **filters)
    got = read_all(planned, columns)
    assert got.column_names == columns
    assert canonical(got) == canonical(source_table(url, "execution", columns, **filters))
    assert 0 < got.num_rows < len(flyteadmin_db.executions) / 3
    counts = [b for s in planned for b in shards.read_shard(s, [])]
    assert all(b.num_columns == 0 for b in counts) and sum(b.num_rows for b in counts) == got.num_rows
    parts = shards.plan(url, "task-execution-closure", shards=2, since=_median_update(flyteadmin_db.task_executions))
    keys = ["project", "retry_attempt", "phase"]
    assert canonical(read_all(parts, keys)) == canonical(
        source_table(url, "task-execution-closure", keys, since=parts[0].filters.since)
    )
    with pytest.raises(ValueError, match="no column 'nope' in execution rows"):
        shards.plan(url, "execution")[0].empty_table(["nope"])
    with pytest.raises(ValueError, match="no column 'nope'"):
        list(shards.read_shard(planned[0], ["name", "nope"]))


def _median_update(rows: list[dict]):
    return sorted(r["updated_at"] for r in rows)[len(rows) // 2]


@pytest.fixture(scope="module")
def plan_db(pg_server):
    """An empty executions table for the planner's examples, and a connection to fill it."""
    url = _flyteadmin.create_database(pg_server, "flyteadmin_plan")
    with psycopg.connect(url, autocommit=True) as conn:
        yield url, conn


def _fill(conn, ids: list[int]) -> list[str]:
    """Executions with these ``id`` s (repeats allowed), names ``e<i>``; their names."""
    conn.execute("TRUNCATE executions")
    rows = [
        {"id": row_id, "execution_project": "p", "execution_domain": "d", "execution_name": f"e{i}", "spec": b"",
         "phase": "SUCCEEDED", "updated_at": _flyteadmin.BASE, "created_at": _flyteadmin.BASE}
        for i, row_id in enumerate(ids)
    ]  # fmt: skip
    with conn.transaction():
        _flyteadmin.insert(conn, "executions", rows)
    return [row["execution_name"] for row in rows]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ids=st.lists(st.integers(-3, 60), max_size=40), by_count=st.booleans(), size=st.integers(1, 12))
@example(ids=[], by_count=True, size=3)
@example(ids=[], by_count=False, size=1)
@example(ids=[7], by_count=True, size=5)
@example(ids=[7], by_count=False, size=1)
@example(ids=[4, 4, 4, 4], by_count=True, size=2)
def test_every_row_is_read_exactly_once(plan_db, ids, by_count, size):
    """Any number of rows (0, 1, …), ids with gaps and repeats, any shard count or size: the shards partition
    the ids and their rows are the table's, each once."""
    url, conn = plan_db
    names = _fill(conn, ids)
    planned = postgres_shards.plan(url, "execution", **({"shards": size} if by_count else {"shard_rows": size}))
    check_partition(planned)
    assert sum(s.rows for s in planned) == len(ids)
    if by_count:
        assert len(planned) <= max(1, size)
        if len(set(ids)) == len(ids) >= size:
            assert len(planned) == size and max(s.rows for s in planned) - min(s.rows for s in planned) <= 1
    read = [name for shard in planned for name in _names(shard)]
    assert sorted(read) == sorted(names)
    for shard in planned:  # each shard's rows are those whose id is in its range
        expected = {n for n, i in zip(names, ids) if (shard.low is None or i >= shard.low) and
                    (shard.high is None or i < shard.high)}  # fmt: skip
        assert set(_names(shard)) == expected


def _names(shard: TableShard) -> list[str]:
    return [name for batch in shards.read_shard(shard, ["name"]) for name in batch.column("name").to_pylist()]


def test_rows_written_after_planning(plan_db):
    """A shard reads the table as it is when it runs: rows inserted after planning are read once, by the shard of
    their id (new ids above the last bound: the last shard), deleted ones not at all, updated ones as updated."""
    url, conn = plan_db
    names = _fill(conn, list(range(10, 40)))
    planned = postgres_shards.plan(url, "execution", shards=3)
    assert [s.rows for s in planned] == [10, 10, 10]
    _fill_more(conn, [(5, "below"), (25, "inside"), (1000, "above")])
    conn.execute("UPDATE executions SET deleted_at = now() WHERE execution_name = 'e0'")
    conn.execute("UPDATE executions SET phase = 'FAILED' WHERE execution_name = 'e29'")
    read = {shard.low: _names(shard) for shard in planned}
    assert sorted(n for got in read.values() for n in got) == sorted([*names[1:], "below", "inside", "above"])
    assert "below" in read[None] and "above" in read[planned[-1].low]
    assert [b.column("name").to_pylist() for b in shards.read_shard(planned[-1], ["name"])] == [
        sorted(["above", *names[20:]])
    ]
    assert postgres_shards.plan(url, "execution", shards=3, phase="FAILED")[0].rows == 1


def _fill_more(conn, rows: list[tuple[int, str]]) -> None:
    more = [{"id": i, "execution_project": "p", "execution_domain": "d", "execution_name": name, "spec": b"",
             "phase": "SUCCEEDED", "created_at": _flyteadmin.BASE} for i, name in rows]  # fmt: skip
    with conn.transaction():
        _flyteadmin.insert(conn, "executions", more)


def test_an_empty_selection_is_one_shard_of_every_id(plan_db):
    url, conn = plan_db
    _fill(conn, [])
    (only,) = postgres_shards.plan(url, "execution", shards=4)
    assert (only.low, only.high, only.rows) == (None, None, 0) and str(only) == "executions, every id"
    _fill_more(conn, [(7, "late")])
    assert _names(only) == ["late"]


@pytest.fixture(scope="module")
def bad_rows_db(pg_server):
    return bad_executions_db(pg_server, "flyteadmin_bad_shards")


def test_a_bad_row_fails_its_shard_naming_table_range_and_row(bad_rows_db, backend):
    url, bad = bad_rows_db
    planned = shards.plan(url, "execution", shards=4)
    assert [(s.low, s.high) for s in planned] == [(None, 6), (6, 11), (11, 16), (16, None)]
    for shard in (planned[0], planned[1], planned[3]):
        assert sum(b.num_rows for b in shards.read_shard(shard)) == 5
    with pytest.raises(DecodeError) as raised:
        list(shards.read_shard(planned[2], batch_size=2))
    message = str(raised.value)
    assert "executions, rows with 11 <= id < 16: executions row (" in message
    assert f"execution_name={bad['execution_name']!r}" in message
    assert raised.value.index == _position_in_shard(url, planned[2], bad)  # counted in the shard, in key order
    assert pickle.loads(pickle.dumps(raised.value)).args == raised.value.args
    reader = flytecodec.dataset(url, kind="execution", columns=["name"], batch_size=5)
    with pytest.raises(DecodeError, match=r"executions, every id: executions row \("):
        reader.read_all()


def _position_in_shard(url: str, shard: TableShard, row: dict) -> int:
    with psycopg.connect(url) as conn:
        keys = conn.execute(
            "SELECT execution_project, execution_domain, execution_name FROM executions WHERE id >= %s AND id < %s "
            "ORDER BY 1, 2, 3",
            [shard.low, shard.high],
        ).fetchall()
    return keys.index(tuple(row[c] for c in postgres.EXECUTION_KEY))


def test_unreachable_database_and_the_password_never_shows(pg_server):
    secret = "s3cret-Passw0rd"
    closed = f"postgresql://flyte:{secret}@127.0.0.1:1/flyteadmin"
    with pytest.raises(SourceError, match="cannot connect to the database") as raised:
        shards.plan(closed, "execution")
    assert secret not in str(raised.value)
    shard = TableShard(closed, "execution", postgres_shards.Filters(), 5, 10)
    assert secret not in repr(shard) and "flyte:***@127.0.0.1:1" in repr(shard)
    assert secret not in str(shard) and str(shard) == "executions, rows with 5 <= id < 10"
    with pytest.raises(SourceError, match=r"^executions, rows with 5 <= id < 10: cannot connect") as raised:
        list(shards.read_shard(shard))
    assert secret not in str(raised.value)
    missing = f"postgresql://flyte@127.0.0.1:{pg_server.port}/no_such_database?password={secret}"
    with pytest.raises(SourceError, match="no_such_database") as raised:
        shards.plan(missing, "node-execution")
    assert secret not in str(raised.value)
    keywords = f"host=db user=flyte password='{secret}' dbname=x"
    assert postgres.masked(keywords) == "host=db user=flyte password=*** dbname=x"
    assert postgres.masked(f"postgresql://u:{secret}@h/db?sslmode=require&password={secret}") == (
        "postgresql://u:***@h/db?sslmode=require&password=***"
    )
    echoed = f'invalid option near "password={secret} port" and {secret}'
    assert secret not in postgres.hide_password(echoed, f"host=db password={secret}")


def test_shards_are_plain_data(flyteadmin_db):
    projects = [r["execution_project"] for r in flyteadmin_db.node_executions]
    project = max(set(projects), key=projects.count)
    planned = shards.plan(flyteadmin_db.url, "node-execution", shards=2, project=project, since="2026-01-01")
    assert pickle.loads(pickle.dumps(planned)) == planned and len({*planned}) == 2
    assert planned[0].filters.project == project and planned[0].filters.since.tzinfo is not None


def test_dataset_streams_a_database(flyteadmin_db, backend):
    duckdb = pytest.importorskip("duckdb")

    url = flyteadmin_db.url
    reader = flytecodec.dataset(url, kind="node-execution", batch_size=50)
    assert isinstance(reader, pa.RecordBatchReader)
    counts = duckdb.sql("select phase, count(*) from reader group by 1").fetchall()
    phases = source_table(url, "node-execution", ["phase"]).column("phase").to_pylist()
    assert sorted(counts) == sorted((phase, phases.count(phase)) for phase in set(phases))
    narrow = flytecodec.dataset(url, kind="execution-closure", columns=["execution_name", "phase"], domain="production")
    assert narrow.read_all() == source_table(url, "execution-closure", ["execution_name", "phase"], domain="production")


def test_engines_take_a_database_in_process(flyteadmin_db, backend):
    """dask's meta is the source's schema as pandas (without a cluster; engines_suite.py runs the real ones)."""
    import flytecodec.dask

    frame = flytecodec.dask.read(flyteadmin_db.url, kind="task-execution", shards=3, backend=backend, phase="FAILED")
    assert frame.npartitions == 3 and list(frame.columns) == postgres.column_names("task-execution")
    computed = frame.compute(scheduler="sync")
    assert computed.dtypes.to_dict() == frame.dtypes.to_dict()
    assert sorted(computed["task_name"]) == sorted(
        source_table(flyteadmin_db.url, "task-execution", ["task_name"], phase="FAILED").column("task_name").to_pylist()
    )


def test_bad_arguments(flyteadmin_db, tmp_path):
    url = flyteadmin_db.url
    with pytest.raises(ValueError, match="has no framing"):
        shards.plan(url, "execution", framing="list")
    with pytest.raises(ValueError, match="shard_rows= or shards="):
        shards.plan(url, "execution", shard_bytes=1000)
    with pytest.raises(ValueError, match="not both"):
        shards.plan(url, "execution", shards=2, shard_rows=10)
    with pytest.raises(ValueError, match="shards must be at least 1"):
        shards.plan(url, "execution", shards=0)
    with pytest.raises(TypeError, match="kind name"):
        shards.plan(url, flytecodec.models.execution.Execution)
    with pytest.raises(ValueError, match="unknown kind"):
        shards.plan(url, "executions")
    with pytest.raises(TypeError, match="projct"):
        shards.plan(url, "execution", projct="x")
    with pytest.raises(TypeError, match=r"project=, shard_rows= apply to a database source"):
        shards.plan(tmp_path, "execution", framing="list", project="p", shard_rows=5)
    with pytest.raises(ValueError, match="files need framing="):
        shards.plan(tmp_path, "execution")
