"""Dask on flyteadmin's database: one worker process against two reading the same table, in rows per second.

The database is the one of ``test_bench_postgres.py`` (a PostgreSQL server started for the run,
``FLYTECODEC_BENCH_N`` executions written as flyteadmin writes them). The frame is
``flytecodec.dask.read(url, kind="execution", shards=8, archived=True)`` — eight ranges of the ``id`` column,
planned by one query — and the query the number and the longest run of executions per phase (``phase`` and
``duration``: the projection the workers decode; each worker still reads its rows' spec and closure bytes from
the database and rebuilds the messages). Each case has a ``LocalCluster`` of its own, started before the timing
(one thread per worker). ``extra_info`` holds the rows per second.
"""

from __future__ import annotations

import pytest

import flytecodec

pytest.importorskip("dask.distributed")
bench_postgres = pytest.importorskip("test_bench_postgres")
from test_bench_engines import time_phase_query  # noqa: E402

database = bench_postgres.database
SHARDS = 8


@pytest.mark.parametrize("workers", [1, 2], ids=lambda w: f"{w} worker{'s' if w > 1 else ''}")
@pytest.mark.parametrize("backend", flytecodec.available_backends())
def test_dask_workers_on_postgres(benchmark, database, backend, workers):
    import flytecodec.dask

    url, rows, _ = database
    benchmark.group = f"engines: Dask on PostgreSQL, {backend} backend"
    frame = flytecodec.dask.read(url, kind="execution", shards=SHARDS, archived=True, backend=backend)
    result = time_phase_query(benchmark, frame, workers)
    assert int(result["size"].sum()) == rows
    benchmark.extra_info["rows_per_second"] = round(rows / benchmark.stats.stats.median)
