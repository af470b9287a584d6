"""A real PostgreSQL server for the source tests, started once for the session and stopped at its end, with a
database holding flyteadmin's tables and rows written from the corpus."""

from __future__ import annotations

import pytest

psycopg = pytest.importorskip("psycopg", reason="the postgres extra (psycopg 3) is not installed")

import _flyteadmin  # noqa: E402
import _pgserver  # noqa: E402

EXECUTIONS, NODE_EXECUTIONS, TASK_EXECUTIONS = 600, 500, 400


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
