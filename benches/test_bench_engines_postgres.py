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

distributed = pytest.importorskip("dask.distributed")
bench_postgres = pytest.importorskip("test_bench_postgres")

database = bench_postgres.database
SHARDS = 8


@pytest.mark.parametrize("workers", [1, 2], ids=lambda w: f"{w} worker{'s' if w > 1 else ''}")
@pytest.mark.parametrize("backend", flytecodec.available_backends())
def test_dask_workers_on_postgres(benchmark, database, backend, workers):
    import flytecodec.dask

    url, rows, _ = database
    benchmark.group = f"engines: Dask on PostgreSQL, {backend} backend"
    frame = flytecodec.dask.read(url, kind="execution", shards=SHARDS, archived=True, backend=backend)
    query = frame.groupby("phase", observed=True)["duration"].agg(["size", "max"])
    with (
        distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.compute(query).result()  # the workers import and warm up once, untimed
        result = benchmark.pedantic(lambda: client.compute(query).result(), rounds=3, iterations=1)
    assert int(result["size"].sum()) == rows
    benchmark.extra_info["rows_per_second"] = round(rows / benchmark.stats.stats.median)
