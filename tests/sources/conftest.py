"""A real PostgreSQL server for the source tests, started once for the session and stopped at its end, with a
database holding flyteadmin's tables and rows written from the corpus (the fixtures are in ``_pgfixtures.py``)."""

from __future__ import annotations

import pytest

psycopg = pytest.importorskip("psycopg", reason="the postgres extra (psycopg 3) is not installed")

from _pgfixtures import Database, flyteadmin_db, pg_server  # noqa: E402, F401
