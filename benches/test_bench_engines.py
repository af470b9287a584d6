"""Dask: one worker process against two on the same dump set, in records per second.

The dump set is ``FLYTECODEC_BENCH_N`` executions in eight varint-delimited files, read as
``flytecodec.dask.read(folder, kind="execution", framing="delimited", shards=8)``; the query is the number and
the longest run of executions per phase (``phase`` and ``duration``: the projection the workers decode). Each
case has a ``LocalCluster`` of its own, started before the timing (one thread per worker; the native decoder in
each worker uses the machine's cores as it does alone). ``extra_info`` holds the records per second.
"""

from __future__ import annotations

import pytest

import flytecodec
from flytecodec.testing import corpus

distributed = pytest.importorskip("dask.distributed")

FILES = 8


@pytest.fixture(scope="module")
def dump_folder(tmp_path_factory):
    from conftest import N

    folder = tmp_path_factory.mktemp("dask-dumps")
    records = corpus.offload_inline_outputs(corpus.execution_list(N, seed=1)).executions
    step = -(-N // FILES)
    for i in range(FILES):
        (folder / f"part-{i}.bin").write_bytes(corpus.delimited(records[i * step : (i + 1) * step]))
    return folder, N


@pytest.mark.parametrize("workers", [1, 2], ids=lambda w: f"{w} worker{'s' if w > 1 else ''}")
@pytest.mark.parametrize("backend", flytecodec.available_backends())
def test_dask_workers(benchmark, dump_folder, backend, workers):
    import flytecodec.dask

    folder, count = dump_folder
    benchmark.group = f"engines: Dask, {backend} backend"
    frame = flytecodec.dask.read(folder, kind="execution", framing="delimited", shards=FILES, backend=backend)
    result = time_phase_query(benchmark, frame, workers)
    assert int(result["size"].sum()) == count
    benchmark.extra_info["records_per_second"] = round(count / benchmark.stats.stats.median)


def time_phase_query(benchmark, frame, workers: int):
    """Time the number and the longest run of ``frame`` 's records per phase on a ``LocalCluster`` of
    ``workers`` processes of one thread, started (and warmed up by one untimed run) before the timing."""
    query = frame.groupby("phase", observed=True)["duration"].agg(["size", "max"])
    with (
        distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.compute(query).result()  # the workers import and warm up once, untimed
        return benchmark.pedantic(lambda: client.compute(query).result(), rounds=3, iterations=1)
