"""Dask and Ray for real, run by test_engines.py in a process of its own: a LocalCluster of two worker processes
and a local Ray instance of two CPUs read
directories of list pages of every record kind and a delimited file cut into byte ranges; sorted by key, the
result equals the single-process ``to_arrow()`` cell for cell, on both backends. A bad shard fails the job
with a DecodeError naming the file, its byte range and the record, and nothing hangs."""

from __future__ import annotations

import os
import sys

import pyarrow as pa
import pytest
from _dumps import expected_table, sorted_rows, write_dumps

import flytecodec
from flytecodec import DecodeError
from flytecodec.testing import corpus

dask_distributed = pytest.importorskip("dask.distributed")
ray = pytest.importorskip("ray")

# The PostgreSQL server and flyteadmin database of the source tests (test_engines.py deselects the postgres
# tests where PostgreSQL or psycopg is missing).
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "sources"))
import _pgfixtures  # noqa: E402

pg_server, flyteadmin_db = _pgfixtures.pg_server, _pgfixtures.flyteadmin_db
source_table = _pgfixtures.source_table

BACKENDS = flytecodec.available_backends()
TIMEOUT = 300  # seconds: a failing job must end, not hang


@pytest.fixture(scope="module")
def dumps(tmp_path_factory):
    root = tmp_path_factory.mktemp("engine-dumps")
    return root, write_dumps(root)


@pytest.fixture(scope="module")
def dask_client():
    with (
        dask_distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        dask_distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def ray_instance(tmp_path_factory):
    import ray.data

    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        _temp_dir=str(tmp_path_factory.mktemp("ray")),
        configure_logging=False,
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        yield ray
    finally:
        ray.shutdown()


def _from_pandas(frame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False)


@pytest.mark.parametrize("backend", BACKENDS)
def test_dask_equals_one_process(dask_client, dumps, backend):
    import flytecodec.dask

    _, cases = dumps
    with flytecodec.using_backend(backend):
        for kind, source, framing, count in cases:
            frame = flytecodec.dask.read(source, kind=kind, framing=framing, shards=count or 3, backend=backend)
            assert frame.npartitions == (count or 3) or framing == "list"
            computed = dask_client.compute(frame).result(timeout=TIMEOUT)
            assert computed.dtypes.to_dict() == frame.dtypes.to_dict()  # the meta is what the partitions are
            got = _from_pandas(computed)
            assert sorted_rows(got, kind) == sorted_rows(expected_table(kind, source, framing), kind), (kind, source)


@pytest.mark.parametrize("backend", BACKENDS)
def test_ray_equals_one_process(ray_instance, dumps, backend):
    import flytecodec.ray

    _, cases = dumps
    with flytecodec.using_backend(backend):
        for kind, source, framing, count in cases:
            dataset = flytecodec.ray.read(source, kind=kind, framing=framing, shards=count or 3, backend=backend)
            got = pa.concat_tables(ray_instance.get(dataset.to_arrow_refs()))
            assert sorted_rows(got, kind) == sorted_rows(expected_table(kind, source, framing), kind), (kind, source)


POSTGRES_KINDS = ("execution", "node-execution", "task-execution")


@pytest.mark.parametrize("backend", BACKENDS)
def test_postgres_dask_equals_one_process(dask_client, flyteadmin_db, backend):
    import flytecodec.dask

    with flytecodec.using_backend(backend):
        for kind in POSTGRES_KINDS:
            frame = flytecodec.dask.read(flyteadmin_db.url, kind=kind, shards=3, backend=backend, archived=True)
            assert frame.npartitions == 3
            computed = dask_client.compute(frame).result(timeout=TIMEOUT)
            assert computed.dtypes.to_dict() == frame.dtypes.to_dict()
            expected = source_table(flyteadmin_db.url, kind, archived=True)
            assert len(computed) == expected.num_rows > 300
            assert sorted_rows(_from_pandas(computed), kind) == sorted_rows(expected, kind), kind


@pytest.mark.parametrize("backend", BACKENDS)
def test_postgres_ray_equals_one_process(ray_instance, flyteadmin_db, backend):
    import flytecodec.ray

    with flytecodec.using_backend(backend):
        for kind in POSTGRES_KINDS:
            dataset = flytecodec.ray.read(flyteadmin_db.url, kind=kind, shard_rows=150, backend=backend, archived=True)
            got = pa.concat_tables(ray_instance.get(dataset.to_arrow_refs()))
            expected = source_table(flyteadmin_db.url, kind, archived=True)
            assert got.num_rows == expected.num_rows > 300
            assert sorted_rows(got, kind) == sorted_rows(expected, kind), kind


def test_postgres_projection_and_filters_on_both_engines(dask_client, ray_instance, flyteadmin_db):
    import flytecodec.dask
    import flytecodec.ray

    url, columns = flyteadmin_db.url, ["name", "phase", "duration", "row_updated_at"]
    expected = sorted_rows(source_table(url, "execution", columns, domain="production", phase="FAILED"), "execution")
    frame = flytecodec.dask.read(url, kind="execution", shards=2, domain="production", phase="FAILED")
    picked = dask_client.compute(frame[columns]).result(timeout=TIMEOUT)
    assert list(picked.columns) == columns and sorted_rows(_from_pandas(picked), "execution") == expected
    dataset = flytecodec.ray.read(url, kind="execution", shards=2, domain="production", phase="FAILED")
    rows = pa.Table.from_pylist(dataset.select_columns(columns).take_all())
    assert sorted(rows.column("name").to_pylist()) == sorted(row["name"] for row in expected)


@pytest.fixture(scope="module")
def bad_rows_db(pg_server):
    return _pgfixtures.bad_executions_db(pg_server, "flyteadmin_bad_engines")


def test_postgres_a_bad_row_fails_the_job_on_both_engines(dask_client, ray_instance, bad_rows_db):
    """Executions 1-20 in four shards of five ids; id 13 does not decode: the job fails naming the shard's table
    and id range and the row, on dask and on Ray, and ends."""
    import flytecodec.dask
    import flytecodec.ray

    url, bad = bad_rows_db
    where = rf"executions, rows with 11 <= id < 16: executions row \(.*execution_name={bad['execution_name']!r}"
    frame = flytecodec.dask.read(url, kind="execution", shards=4)
    with pytest.raises(DecodeError, match=where):
        dask_client.compute(frame).result(timeout=TIMEOUT)
    assert len(dask_client.compute(frame[["name"]].partitions[[0, 1, 3]]).result(timeout=TIMEOUT)) == 15
    with pytest.raises(DecodeError, match=where):
        flytecodec.ray.read(url, kind="execution", shards=4).materialize()


@pytest.fixture(scope="module")
def unreadable_start(tmp_path_factory):
    """Executions whose record 5 has a start time outside Arrow's range: only reading ``started_at`` fails."""
    records = corpus.executions(40, seed=12)
    records[5].closure.started_at.seconds = 10**14
    path = tmp_path_factory.mktemp("projection") / "executions.bin"
    path.write_bytes(corpus.delimited(records))
    return path, [r.id.name for r in records]


def test_dask_pushes_the_projection_into_the_decoder(dask_client, unreadable_start):
    """Selecting columns reads only those: the frame without ``started_at`` computes, the whole frame fails."""
    import flytecodec.dask

    path, names = unreadable_start
    frame = flytecodec.dask.read(path, kind="execution", framing="delimited", shards=2)
    picked = dask_client.compute(frame[["name", "phase"]]).result(timeout=TIMEOUT)
    assert list(picked.columns) == ["name", "phase"] and list(picked["name"]) == names
    assert str(picked["phase"].dtype) == "category" and len(picked["phase"].cat.categories) == 10
    with pytest.raises(ValueError, match="column started_at"):
        dask_client.compute(frame).result(timeout=TIMEOUT)
    narrow = flytecodec.dask.read(path, kind="execution", framing="delimited", columns=["name", "nesting"])
    assert list(narrow.columns) == ["name", "nesting"] and str(narrow.dtypes["nesting"]) == "uint32[pyarrow]"


def test_ray_pushes_the_projection_into_the_decoder(ray_instance, unreadable_start):
    import flytecodec.ray

    path, names = unreadable_start
    dataset = flytecodec.ray.read(path, kind="execution", framing="delimited", shards=2)
    rows = dataset.select_columns(["name", "duration"]).take_all()
    assert [row["name"] for row in rows] == names
    with pytest.raises(ValueError, match="column started_at"):
        dataset.materialize()


@pytest.fixture(scope="module")
def one_bad_page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad-pages")
    for i in range(4):
        (folder / f"page-{i}.pb").write_bytes(corpus.execution_list(30, seed=i).SerializeToString())
    page = bytearray(corpus.execution_list(30, seed=9).SerializeToString())
    page[-1] ^= 0x80  # the last record's last byte becomes an unfinished varint
    (folder / "page-2.pb").write_bytes(bytes(page))
    return folder, len(page)


def test_dask_a_bad_shard_fails_the_job(dask_client, one_bad_page):
    import flytecodec.dask

    folder, size = one_bad_page
    frame = flytecodec.dask.read(folder, kind="execution", framing="list", shards=4)
    with pytest.raises(DecodeError, match=rf"page-2\.pb, bytes 0-{size}") as raised:
        dask_client.compute(frame).result(timeout=TIMEOUT)
    assert raised.value.index == 29


def test_ray_a_bad_shard_fails_the_job(ray_instance, one_bad_page):
    import flytecodec.ray

    folder, size = one_bad_page
    with pytest.raises(DecodeError, match=rf"page-2\.pb, bytes 0-{size}") as raised:
        flytecodec.ray.read(folder, kind="execution", framing="list", shards=4).materialize()
    assert raised.value.index == 29
