"""The native backend reads flyteadmin's tables through ``COPY ... TO STDOUT (FORMAT BINARY)`` parsed in Rust
(``rust/pgcopy.rs``); the python backend through a server-side cursor and the Python rules, the reference. Both
on the same databases: every row compared (messages byte for byte, keys, times, tables) and counted; NULLs in
every nullable column; rows the native rules leave to the Python ones; a stream re-cut at arbitrary chunk
boundaries; malformed streams."""

from __future__ import annotations

import struct

import _flyteadmin
import psycopg
import pytest
from psycopg import sql

import flytecodec
from flytecodec.sources import SourceError, postgres

pytestmark = pytest.mark.skipif(
    "native" not in flytecodec.available_backends(), reason="the native extension is not built"
)

KINDS = list(postgres.KINDS)


def read_rows(url, kind: str, backend_name: str, **options) -> list[postgres.Rows]:
    with flytecodec.using_backend(backend_name):
        batches = list(postgres.read(url, kind, **options))
        for rows in batches:  # read what each backend reads lazily while it is the active one
            rows.keys, rows.updated_micros
        return batches


def compare(url, kind: str, python_rules=frozenset(), **options) -> int:
    """Asserts that COPY (native) and the cursor (python) give the same rows of ``kind``; how many. The rows
    whose keys are in ``python_rules`` are left to the Python rules by the native ones, with their batch."""
    copied = read_rows(url, kind, "native", **options)
    cursor = read_rows(url, kind, "python", **options)
    for rows in copied:  # rebuilt from COPY's cells, or from the tuples made of them for the Python rules
        assert (rows._copy is None) == bool(python_rules.intersection(rows.keys))
    assert all(rows._copy is None for rows in cursor)
    assert len(copied) == len(cursor)
    count = 0
    for a, b in zip(copied, cursor):
        assert len(a) == len(b)
        assert a.keys == b.keys
        assert a.updated_micros == b.updated_micros
        assert a.nbytes == b.nbytes
        assert [m.serialize_to_string() for m in a] == [m.serialize_to_string() for m in b]
        with flytecodec.using_backend("native"):
            table = a.to_arrow()
        with flytecodec.using_backend("python"):
            assert table.equals(b.to_arrow())
        count += len(a)
    return count


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("trim", [False, True], ids=["whole-errors", "trimmed-errors"])
def test_copy_reads_what_the_cursor_reads(flyteadmin_db, kind, trim):
    options = {"trim_errors": trim, "batch_size": 150}
    if kind.startswith("execution"):
        options.update(archived=True, default_namespace="flyte-ns" if trim else "")
    compared = compare(flyteadmin_db.url, kind, **options)
    table = postgres.KINDS[kind].table
    live = [r for r in getattr(flyteadmin_db, table) if r["deleted_at"] is None]
    assert compared == len(live) > 300


def test_filters_choose_the_same_rows(flyteadmin_db):
    row = next(r for r in flyteadmin_db.executions if r["deleted_at"] is None and r["state"] == 0)
    since = sorted(r["updated_at"] for r in flyteadmin_db.executions)[200]
    assert compare(flyteadmin_db.url, "execution", project=row["execution_project"], since=since) > 10
    assert compare(flyteadmin_db.url, "execution", phase=["FAILED", "ABORTED"], batch_size=7) > 10
    name = {"project": row["execution_project"], "domain": row["execution_domain"], "name": row["execution_name"]}
    assert compare(flyteadmin_db.url, "execution", **name) == 1
    assert compare(flyteadmin_db.url, "task-execution", id_from=100, id_to=200) == sum(
        100 <= r["id"] < 200 and r["deleted_at"] is None for r in flyteadmin_db.task_executions
    )


@pytest.fixture(scope="module")
def nulls_db(pg_server):
    """Rows with NULL in every nullable column the sources select, for each table (updated_at too)."""
    url = _flyteadmin.create_database(pg_server, "flyteadmin_nulls")
    executions = _flyteadmin.execution_rows(12, seed=9)[:6]
    for i, row in enumerate(executions):
        row.update(state=0, deleted_at=None)
        for column in ("closure", "phase", "abort_cause", "user", "updated_at")[: i + 1]:
            row[column] = None
    nodes = _flyteadmin.node_execution_rows(12, seed=9)[:6]
    for i, row in enumerate(nodes):
        row["deleted_at"] = None
        for column in ("input_uri", "closure", "node_execution_metadata", "updated_at")[: i + 1]:
            row[column] = None
        row["dynamic_workflow_remote_closure_reference"] = None if i % 2 else "s3://bucket/futures.pb"
        row["parent_id"] = nodes[0]["id"] if i in (2, 3) else None  # row 0 has children (and no metadata)
    tasks = _flyteadmin.task_execution_rows(12, seed=9)[0][:4]
    for i, row in enumerate(tasks):
        row["deleted_at"] = None
        for column in ("input_uri", "closure", "updated_at")[: i + 1]:
            row[column] = None
    with psycopg.connect(url) as conn:
        _flyteadmin.insert(conn, "executions", executions)
        _flyteadmin.insert(conn, "node_executions", nodes)
        _flyteadmin.insert(conn, "task_executions", tasks)
    return url, {"executions": executions, "node_executions": nodes, "task_executions": tasks}


@pytest.mark.parametrize("kind", KINDS)
def test_nulls_in_every_nullable_column(nulls_db, kind):
    url, rows = nulls_db
    assert compare(url, kind) == len(rows[postgres.KINDS[kind].table])
    (batch,) = read_rows(url, kind, "native")
    assert None in batch.updated_micros
    assert batch.to_arrow(["row_updated_at"]).column(0).null_count == batch.updated_micros.count(None)


def test_null_rows_against_the_oracle(nulls_db):
    url, rows = nulls_db
    with flytecodec.using_backend("native"):
        models, keys = [], []
        for batch in postgres.read(url, "execution"):
            models.extend(batch)
            keys.extend(batch.keys)
    by_key = {tuple(r[c] for c in postgres.EXECUTION_KEY): r for r in rows["executions"]}
    assert sorted(by_key) == keys
    for model, key in zip(models, keys):
        assert model.to_flyte_idl() == _flyteadmin.oracle_execution(by_key[key])


@pytest.fixture(scope="module")
def group_db(pg_server):
    """Executions whose closures hold a group as an unknown field: valid protobuf the native rules leave to the
    Python rules (which walk groups), so the batch holding them is rebuilt by those."""
    url = _flyteadmin.create_database(pg_server, "flyteadmin_groups")
    rows = _flyteadmin.execution_rows(30, seed=10)[:20]
    for i, row in enumerate(rows):
        row.update(state=0, deleted_at=None)
        if i in (3, 15):
            row["closure"] = (row["closure"] or b"") + b"\xfb\x07\x08\x01\xfc\x07"  # group 127 { 1: 1 }
    with psycopg.connect(url) as conn:
        _flyteadmin.insert(conn, "executions", rows)
    return url, rows


def test_a_batch_the_native_rules_leave_goes_to_the_python_rules(group_db):
    url, rows = group_db
    by_key = {tuple(r[c] for c in postgres.EXECUTION_KEY): r for r in rows}
    groups = {key for key, row in by_key.items() if row["closure"] and row["closure"].endswith(b"\xfc\x07")}
    assert len(groups) == 2
    assert compare(url, "execution", groups, batch_size=6) == len(rows)
    with flytecodec.using_backend("native"):
        for batch in postgres.read(url, "execution", batch_size=6):
            for model, key in zip(batch, batch.keys):
                assert model.to_flyte_idl() == _flyteadmin.oracle_execution(by_key[key])


def copy_bytes(url: str, kind: str) -> bytes:
    """The whole binary COPY stream the native backend reads for ``kind``."""
    spec = postgres.KINDS[kind]
    query, params = postgres._query(spec, None, None, None, None, None, True)
    out = bytearray()
    copy_query = sql.SQL("COPY ({}) TO STDOUT (FORMAT BINARY)").format(query)
    with psycopg.connect(url) as conn, conn.cursor() as cursor, cursor.copy(copy_query, params) as copy:
        for chunk in copy:
            out += chunk
    return bytes(out)


@pytest.mark.parametrize("kind", ["execution", "node-execution", "task-execution"])
def test_chunks_cut_anywhere_give_the_same_rows(flyteadmin_db, kind):
    """The server sends a tuple per message; cut at other places (a few bytes, or inside every cell) the stream
    gives the same cells, which are the tuples psycopg gives through the cursor."""
    from flytecodec import _native

    spec = postgres.KINDS[kind]
    data = copy_bytes(flyteadmin_db.url, kind)
    expected = None
    for size in (1 << 20, 7, 1, 4093):
        stream = _native.CopyStream(spec.types)
        tuples = []
        for start in range(0, len(data), size):
            if stream.push(memoryview(data)[start : start + size]) >= 50:
                tuples.extend(stream.take().tuples())
        stream.finish()
        tuples.extend(stream.take().tuples())
        if expected is None:
            query, params = postgres._query(spec, None, None, None, None, None, True)
            with postgres.connect(flyteadmin_db.url) as conn:
                expected = [row for rows in postgres._cursor_batches(conn, query, params, 100) for row in rows]
        assert tuples == expected
    assert len(expected) > 300


def malformed(stream: bytes, types: str = "t") -> str:
    from flytecodec import _native

    with pytest.raises(ValueError) as caught:
        parser = _native.CopyStream(types)
        parser.push(stream)
        parser.finish()
    return str(caught.value)


HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)


def test_malformed_streams_are_errors_not_panics():
    cell = struct.pack(">hi", 1, 1) + b"x"
    assert "signature is missing" in malformed(b"id,name\n1,x\n")
    assert "has OIDs" in malformed(HEADER[:11] + struct.pack(">ii", 1 << 16, 0))
    assert "ended inside its header" in malformed(HEADER[:15])
    assert "at row 1: the stream ended inside it" in malformed(HEADER + cell + cell[:4])
    assert "at row 2: the stream ended without its trailer" in malformed(HEADER + cell * 2)
    assert "at row 0: 2 fields, not the 1 selected" in malformed(HEADER + struct.pack(">hii", 2, -1, -1))
    assert "column 0 has length 1, not one of a Timestamptz" in malformed(HEADER + cell, "T")
    assert "bytes after the trailer" in malformed(HEADER + cell + b"\xff\xff" + cell)
    assert "unknown column type" in malformed(b"", "tz")


def test_a_stream_not_as_selected_is_a_source_error(flyteadmin_db, monkeypatch):
    """Cells that do not fit the types the query selects (here: a text column taken for a bool) stop the read with
    a SourceError; an open connection passed in is left usable."""
    monkeypatch.setitem(postgres._COLUMN_TYPES, "phase", "?")
    with psycopg.connect(flyteadmin_db.url) as conn:
        with flytecodec.using_backend("native"), pytest.raises(SourceError) as caught:
            list(postgres.read(conn, "execution", archived=True))
        said = "reading executions failed after 0 rows: malformed COPY data at row 0: column 5 has length"
        assert said in str(caught.value)
        assert conn.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.parametrize("kind", ["execution", "node-execution", "task-execution"])
@pytest.mark.parametrize("namespace", ["", "flyte-ns"])
@pytest.mark.parametrize("trim", [False, True], ids=["whole-errors", "trimmed-errors"])
def test_native_rules_on_copy_cells_are_the_python_rules(flyteadmin_db, trim, namespace, kind):
    """The rules rows.rs applies to a batch of COPY cells give, row by row, the bytes the Python rules give for
    the tuples of those cells (which are psycopg's: test_chunks_cut_anywhere_give_the_same_rows)."""
    from flytecodec import _native

    spec = postgres.KINDS[kind]
    stream = _native.CopyStream(spec.types)
    stream.push(copy_bytes(flyteadmin_db.url, kind))
    stream.finish()
    rows = stream.take()
    message = spec.load()._pb_class.DESCRIPTOR.full_name
    records, size = _native.rebuild_rows(spec.table, message, rows, trim, namespace)
    expected = [spec.build(row, trim, namespace) for row in rows.tuples()]
    assert len(expected) == len(rows) > 300
    assert [records.raw(i) for i in range(len(rows))] == expected
    assert size == sum(map(len, expected))


def test_the_callers_transaction_keeps_its_settings(flyteadmin_db):
    """The read walks the key's index rather than sort (a setting local to a transaction), and puts the setting
    back: a caller's connection inside a transaction of its own keeps it after the read."""
    with psycopg.connect(flyteadmin_db.url) as conn, flytecodec.using_backend("native"):
        conn.execute("SELECT 1")  # a transaction is open
        assert sum(map(len, postgres.read(conn, "execution", batch_size=100))) > 300
        assert conn.execute("SHOW enable_sort").fetchone() == ("on",)
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS


def test_cells_of_another_kind_are_refused(flyteadmin_db):
    """The rules read each cell as the type they expect: a batch of another kind's columns is a ValueError."""
    from flytecodec import _native

    def batch(kind):
        stream = _native.CopyStream(postgres.KINDS[kind].types)
        stream.push(copy_bytes(flyteadmin_db.url, kind))
        return stream.take()

    message = "flyteidl.admin.NodeExecution"
    with pytest.raises(ValueError, match="column 8 is Int, where the rules read Text"):
        _native.rebuild_rows("node_executions", message, batch("task-execution"), False, "")
    with pytest.raises(ValueError, match="5 columns: the rules read 9"):
        _native.rebuild_rows("executions", "flyteidl.admin.Execution", batch("execution-closure"), False, "")
