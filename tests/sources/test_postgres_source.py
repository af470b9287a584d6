"""flytecodec.sources.postgres against a real PostgreSQL server holding flyteadmin's tables: every rebuilt
message equals what an independent implementation of flyteadmin's rules (upb parse + set fields) gives for
its row, on both backends; filters, archived and soft-deleted rows, bad data and a lost connection."""

from __future__ import annotations

import datetime
import re
import subprocess
import sys

import _flyteadmin
import psycopg
import pytest

from flytecodec import DecodeError
from flytecodec.sources import SourceError, postgres

KEYS = {
    "executions": postgres.EXECUTION_KEY,
    "node_executions": postgres.NODE_KEY,
    "task_executions": postgres.TASK_KEY,
}


def key(row: dict, table: str) -> tuple:
    return tuple(row[c] for c in KEYS[table])


def live(rows: list[dict]) -> list[dict]:
    return [row for row in rows if row["deleted_at"] is None]


def read_all(url, kind, **options) -> tuple[list, list]:
    """(models, keys) of every row ``postgres.read`` gives."""
    models, keys = [], []
    for rows in postgres.read(url, kind, **options):
        assert len(rows) == len(rows.keys) == len(rows.updated_at)
        models.extend(rows)
        keys.extend(rows.keys)
    return models, keys


def children_of(db, column: str) -> dict[int, int]:
    counts: dict[int, int] = {}
    for row in live(db.node_executions):
        parent = row.get(column)
        if parent is not None:
            counts[parent] = counts.get(parent, 0) + 1
    return counts


@pytest.mark.parametrize("trim", [False, True], ids=["whole-errors", "trimmed-errors"])
def test_executions_rebuilt_as_flyteadmin_does(flyteadmin_db, backend, trim):
    models, keys = read_all(flyteadmin_db.url, "execution", archived=True, trim_errors=trim, batch_size=97)
    expected = sorted(live(flyteadmin_db.executions), key=lambda r: key(r, "executions"))
    assert keys == [key(r, "executions") for r in expected]
    assert len(models) > 500
    for model, row in zip(models, expected):
        assert model.to_flyte_idl() == _flyteadmin.oracle_execution(row, trim=trim)


def test_the_cases_the_rules_cover_are_in_the_data(flyteadmin_db):
    """The corpus rows exercise every rule: backfilled state details, abort metadata from the column, long
    error messages (some with a multi-byte character across the 100-byte cut), NULL closures, archived rows."""
    from flyteidl.admin import execution_pb2

    rows = live(flyteadmin_db.executions)
    closures = [execution_pb2.ExecutionClosure.FromString(r["closure"] or b"") for r in rows]
    assert sum(not c.HasField("state_change_details") for c in closures) > 50
    assert sum(r["phase"] == "ABORTED" and not c.HasField("abort_metadata") for r, c in zip(rows, closures)) > 3
    assert sum(len(c.error.message.encode()) > 100 for c in closures) > 20
    assert sum(r["closure"] is None for r in rows) > 3
    assert sum(r["state"] == 1 for r in rows) > 3


@pytest.mark.parametrize("trim", [False, True], ids=["whole-errors", "trimmed-errors"])
def test_node_executions_rebuilt_as_flyteadmin_does(flyteadmin_db, backend, trim):
    models, keys = read_all(flyteadmin_db.url, "node-execution", trim_errors=trim, batch_size=128)
    expected = sorted(live(flyteadmin_db.node_executions), key=lambda r: key(r, "node_executions"))
    assert keys == [key(r, "node_executions") for r in expected]
    children = children_of(flyteadmin_db, "parent_id")
    derived = 0
    for model, row in zip(models, expected):
        oracle = _flyteadmin.oracle_node_execution(row, children.get(row["id"], 0), trim=trim)
        assert model.to_flyte_idl() == oracle
        derived += oracle.metadata.is_parent_node and row["parent_id"] is None and row["id"] in children
    assert derived > 3


@pytest.mark.parametrize("trim", [False, True], ids=["whole-errors", "trimmed-errors"])
def test_task_executions_rebuilt_as_flyteadmin_does(flyteadmin_db, backend, trim):
    models, keys = read_all(flyteadmin_db.url, "task-execution", trim_errors=trim, batch_size=1000)
    expected = sorted(live(flyteadmin_db.task_executions), key=lambda r: key(r, "task_executions"))
    assert keys == [key(r, "task_executions") for r in expected]
    children = children_of(flyteadmin_db, "parent_task_execution_id")
    parents = 0
    for model, row in zip(models, expected):
        assert model.to_flyte_idl() == _flyteadmin.oracle_task_execution(row, children.get(row["id"], 0), trim=trim)
        parents += model.is_parent
    assert parents > 3


@pytest.mark.parametrize(
    ("kind", "table", "column"),
    [
        ("execution-spec", "executions", "spec"),
        ("execution-closure", "executions", "closure"),
        ("node-execution-closure", "node_executions", "closure"),
        ("task-execution-closure", "task_executions", "closure"),
    ],
)
def test_parts_are_the_stored_bytes_with_their_keys(flyteadmin_db, backend, kind, table, column):
    rows = {"executions": flyteadmin_db.executions, "node_executions": flyteadmin_db.node_executions,
            "task_executions": flyteadmin_db.task_executions}[table]  # fmt: skip
    stored = {key(r, table): r for r in live(rows) if table != "executions" or r["state"] == 0}
    models, keys = read_all(flyteadmin_db.url, kind, batch_size=200)
    assert sorted(keys) == sorted(stored) and keys == sorted(keys)
    for model, k in zip(models, keys):
        assert model.serialize_to_string() == (stored[k][column] or b"")
    last = next(iter(postgres.read(flyteadmin_db.url, kind, batch_size=10_000)))
    table_ = last.to_arrow()
    assert table_.column_names == postgres.column_names(kind)
    assert table_.column(KEYS[table][0]).to_pylist() == [k[0] for k in keys]
    assert table_.column("row_updated_at").to_pylist() == [stored[k]["updated_at"] for k in keys]
    assert (last.to_arrow([]).num_rows, last.to_arrow([]).num_columns) == (len(keys), 0)


def test_filters(flyteadmin_db, backend):
    rows = [r for r in live(flyteadmin_db.executions) if r["state"] == 0]
    project, domain, phase = rows[0]["execution_project"], rows[0]["execution_domain"], "FAILED"
    since = sorted(r["updated_at"] for r in rows)[len(rows) // 2]

    def expect(predicate):
        return sorted(key(r, "executions") for r in rows if predicate(r))

    def got(**options):
        return read_all(flyteadmin_db.url, "execution", **options)[1]

    assert got(project=project) == expect(lambda r: r["execution_project"] == project)
    assert got(project=project, domain=domain) == expect(
        lambda r: (r["execution_project"], r["execution_domain"]) == (project, domain)
    )
    assert got(phase=phase) == expect(lambda r: r["phase"] == phase)
    assert got(phase=["FAILED", "ABORTED"]) == expect(lambda r: r["phase"] in ("FAILED", "ABORTED"))
    assert got(since=since) == expect(lambda r: r["updated_at"] >= since)
    assert got(since=since.isoformat()) == got(since=since)
    assert got(since=since.astimezone(datetime.timezone.utc).replace(tzinfo=None)) == got(since=since)
    assert 0 < len(got(since=since)) < len(rows)
    name = rows[3]["execution_name"]
    assert got(name=name) == expect(lambda r: r["execution_name"] == name)
    nodes = live(flyteadmin_db.node_executions)
    one = nodes[0]
    _, node_keys = read_all(flyteadmin_db.url, "node-execution", project=one["execution_project"],
                            domain=one["execution_domain"], name=one["execution_name"])  # fmt: skip
    assert node_keys == sorted(
        key(r, "node_executions")
        for r in nodes
        if (r["execution_project"], r["execution_domain"], r["execution_name"])
        == (one["execution_project"], one["execution_domain"], one["execution_name"])
    )
    assert len(node_keys) > 1


def test_archived_only_when_asked_and_soft_deleted_never(flyteadmin_db):
    all_rows = flyteadmin_db.executions
    _, default = read_all(flyteadmin_db.url, "execution")
    _, archived = read_all(flyteadmin_db.url, "execution", archived=True)
    assert default == sorted(key(r, "executions") for r in live(all_rows) if r["state"] == 0)
    assert archived == sorted(key(r, "executions") for r in live(all_rows))
    deleted = {key(r, "executions") for r in all_rows if r["deleted_at"] is not None}
    assert deleted and not deleted & set(archived)


def test_default_namespace_fills_only_an_empty_one(flyteadmin_db, backend):
    models, _ = read_all(flyteadmin_db.url, "execution", default_namespace="flyte-ns")
    active = [r for r in live(flyteadmin_db.executions) if r["state"] == 0]
    expected = sorted(active, key=lambda r: key(r, "executions"))
    kept = 0
    for model, row in zip(models, expected):
        assert model.to_flyte_idl() == _flyteadmin.oracle_execution(row, namespace="flyte-ns")
        kept += model.spec.to_flyte_idl().metadata.system_metadata.namespace != "flyte-ns"
    assert 0 < kept < len(models)


def test_an_open_connection_can_be_passed(flyteadmin_db, backend):
    with psycopg.connect(flyteadmin_db.url, autocommit=True) as conn:
        models, keys = read_all(conn, "execution", project="flytesnacks")
        assert not conn.closed
    assert keys == read_all(flyteadmin_db.url, "execution", project="flytesnacks")[1]
    assert [m.to_flyte_idl() for m in models] == [
        m.to_flyte_idl() for m in read_all(flyteadmin_db.url, "execution", project="flytesnacks")[0]
    ]


@pytest.fixture(scope="module")
def bad_db(pg_server):
    """A database with one corrupt closure, one corrupt spec and one NULL closure."""
    url = _flyteadmin.create_database(pg_server, "flyteadmin_bad")
    rows = _flyteadmin.execution_rows(12, seed=5)[:3]
    rows[0]["closure"] = None
    rows[1]["closure"] = b"\x0a\xff\xff"  # a length running past the end
    rows[2]["spec"] = b"\x1a\x03\x08\x80"  # metadata whose mode varint is cut
    for row in rows:
        row["state"] = 0
        row["deleted_at"] = None
    with psycopg.connect(url) as conn:
        _flyteadmin.insert(conn, "executions", rows)
    return url, rows


def test_a_null_closure_is_an_empty_closure(bad_db, backend):
    url, rows = bad_db
    models, _ = read_all(url, "execution", name=rows[0]["execution_name"])
    assert models[0].to_flyte_idl() == _flyteadmin.oracle_execution(rows[0])
    assert models[0].closure.phase == 0
    (closure,) = read_all(url, "execution-closure", name=rows[0]["execution_name"])[0]
    assert closure.serialize_to_string() == b""


@pytest.mark.parametrize(("which", "column"), [(1, "closure"), (2, "spec")])
def test_corrupt_bytea_names_table_and_primary_key(bad_db, backend, which, column):
    url, rows = bad_db
    row = rows[which]
    with pytest.raises(DecodeError) as caught:
        read_all(url, "execution", name=row["execution_name"])
    message = str(caught.value)
    assert "executions row" in message
    for c in postgres.EXECUTION_KEY:
        assert f"{c}={row[c]!r}" in message
    assert caught.value.index == 0
    with pytest.raises(DecodeError, match=f"execution_name={row['execution_name']!r}"):
        read_all(url, f"execution-{column}", name=row["execution_name"])


def test_errors_name_the_same_row_on_both_backends(bad_db):
    """The same row, index and model on both backends (the reason's wording is the decoder's own)."""
    import flytecodec

    url, _ = bad_db
    messages = []
    for name in flytecodec.available_backends():
        with flytecodec.using_backend(name), pytest.raises(DecodeError) as caught:
            read_all(url, "execution", batch_size=2)
        error = caught.value
        messages.append((str(error).split("): ")[0], error.index, error.offset, error.model))
    assert len(set(messages)) == 1


def test_lost_connection_is_a_source_error(flyteadmin_db, backend):
    """The cursor (python backend) fails at its next FETCH; a COPY (native backend) reads on through what the
    server sent before it died, and fails where that ends — never ending quietly as if complete."""
    marker = "flytecodec-lost-connection"
    stream = postgres.read(flyteadmin_db.url + f"?application_name={marker}", "execution", batch_size=50)
    first = next(stream)
    assert len(first) == 50
    with psycopg.connect(flyteadmin_db.url, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s", [marker]
        ).fetchone()[0]
    assert killed == 1
    read = 50
    with pytest.raises(SourceError) as caught:
        for rows in stream:
            read += len(rows)
    said = re.match(r"lost the connection to the database after (\d+) rows of executions: ", str(caught.value))
    assert said and int(said.group(1)) == read
    if backend == "python":
        assert read == 50


def test_unreachable_server_is_a_source_error(pg_server):
    with pytest.raises(SourceError, match="cannot connect to the database"):
        list(postgres.read(f"postgresql://flyte@127.0.0.1:{pg_server.port}/no_such_database", "execution"))


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown kind"):
        postgres.read("postgresql://x", "workflow")
    with pytest.raises(ValueError, match="batch_size"):
        postgres.read("postgresql://x", batch_size=0)
    with pytest.raises(ValueError, match="not an ISO 8601 time"):
        postgres.read("postgresql://x", since="yesterday")


def test_importing_flytecodec_imports_no_driver():
    code = (
        "import sys, flytecodec, flytecodec.sources, flytecodec.sources.postgres, flytecodec.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('psycopg', 'grpc')))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


@pytest.fixture(scope="module")
def times_db(pg_server):
    """Executions whose times test the reading of timestamptz as microseconds: before 1970, NULL, infinite."""
    url = _flyteadmin.create_database(pg_server, "flyteadmin_times")
    rows = _flyteadmin.execution_rows(12, seed=6)[:5]
    for row in rows:
        row.update(state=0, deleted_at=None)
    rows[0]["created_at"] = datetime.datetime(1969, 12, 31, 23, 59, 58, 250001, tzinfo=datetime.timezone.utc)
    rows[0]["closure"] = b""  # no state_change_details: the rebuild writes created_at into it
    rows[1]["updated_at"] = None
    rows[2]["updated_at"] = "infinity"
    rows[3]["created_at"] = "-infinity"
    rows[4]["created_at"] = None  # nullable in flyteadmin's DDL, but its model cannot read such a row
    with psycopg.connect(url) as conn:
        _flyteadmin.insert(conn, "executions", rows)
    return url, rows


def test_times_to_the_microsecond_before_1970_and_null(times_db, backend):
    url, rows = times_db
    for row in rows[:2]:
        (batch,) = postgres.read(url, "execution", name=row["execution_name"])
        assert batch[0].to_flyte_idl() == _flyteadmin.oracle_execution(row)
        assert batch.updated_at == [row["updated_at"]]
        assert batch.to_arrow(["row_updated_at"]).column(0).to_pylist() == [row["updated_at"]]
    occurred = postgres.read(url, "execution", name=rows[0]["execution_name"])
    assert next(occurred)[0].closure.state_change_details.occurred_at == rows[0]["created_at"]


@pytest.mark.parametrize(
    ("which", "what"), [(2, "updated_at is infinite"), (3, "created_at is infinite"), (4, "created_at is NULL")]
)
def test_an_infinite_or_null_time_names_its_row(times_db, backend, which, what):
    url, rows = times_db
    row = rows[which]
    with pytest.raises(DecodeError, match=f"execution_name={row['execution_name']!r}.*{what}"):
        read_all(url, "execution", name=row["execution_name"])
