"""The PostgreSQL fixtures: a real server started once for the session and stopped at its end, and a database
holding flyteadmin's tables with rows written from the corpus. ``tests/sources/conftest.py`` and the engine
tests (``tests/engines/engines_suite.py``) import them."""

from __future__ import annotations

import _flyteadmin
import _pgserver
import pytest

EXECUTIONS, NODE_EXECUTIONS, TASK_EXECUTIONS = 600, 500, 400


def available() -> bool:
    """Whether the tests can start a server: psycopg 3 is installed and so is PostgreSQL."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return False
    return _pgserver.find_bin() is not None


@pytest.fixture(scope="session")
def pg_server():
    bindir = _pgserver.find_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql); .ci/run installs it")
    server = _pgserver.Server(bindir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


class Database:
    """The database's URL and the rows written to it (dicts of column values), for the oracle."""

    def __init__(self, url: str, executions, node_executions, task_executions):
        self.url = url
        self.executions = executions
        self.node_executions = node_executions
        self.task_executions = task_executions


@pytest.fixture(scope="session")
def flyteadmin_db(pg_server) -> Database:
    import psycopg

    url = _flyteadmin.create_database(pg_server, "flyteadmin")
    executions = _flyteadmin.execution_rows(EXECUTIONS, seed=1)
    nodes = _flyteadmin.node_execution_rows(NODE_EXECUTIONS, seed=2)
    tasks, task_children = _flyteadmin.task_execution_rows(TASK_EXECUTIONS, seed=3)
    with psycopg.connect(url) as conn:
        _flyteadmin.insert(conn, "executions", executions)
        _flyteadmin.insert(conn, "node_executions", nodes)
        _flyteadmin.insert(conn, "node_executions", task_children)
        _flyteadmin.insert(conn, "task_executions", tasks)
    return Database(url, executions, nodes + task_children, tasks)


def source_table(url: str, kind: str, columns=None, **filters):
    """What one process gives: every batch of ``flytecodec.sources.postgres.read`` as ``to_arrow()``, one table."""
    import pyarrow as pa

    from flytecodec.sources import postgres

    tables = [rows.to_arrow(columns) for rows in postgres.read(url, kind, **filters)]
    return pa.concat_tables(tables) if tables else postgres.empty(kind).to_arrow(columns)


def bad_executions_db(server, name: str) -> tuple[str, dict]:
    """A database ``name`` of twenty live executions with ids 1-20, the one with id 13 holding a closure that does
    not decode; its URL and that row."""
    import psycopg

    url = _flyteadmin.create_database(server, name)
    rows = _flyteadmin.execution_rows(30, seed=8)[:20]
    for i, row in enumerate(rows):
        row.update(id=i + 1, state=0, deleted_at=None)
    rows[12]["closure"] = b"\x0a\xff\xff"  # a length running past the end
    with psycopg.connect(url) as conn:
        _flyteadmin.insert(conn, "executions", rows)
    return url, rows[12]
