"""flyteadmin's database to Parquet: ``flytecodec export`` (the Python function behind the command) against the
obvious user code — psycopg ``fetchall``, flytekit models from the spec and closure bytes, one Python value per
cell, pyarrow — on the same database (a PostgreSQL server started for the run, ``FLYTECODEC_BENCH_N``
executions written as flyteadmin writes them), in the same run.

flytecodec writes every column (49 + ``row_updated_at``) of messages rebuilt with flyteadmin's rules; the user
code writes the columns flytekit's models can give. The bytea volume (spec + closure) is in each result's
``extra_info`` for MB/s, with the CPU time of the export process (``time.process_time()``, every thread of it,
the best round) and the bytea MB per CPU second that gives: MB/s per core. ``--benchmark-json FILE`` keeps
them; ``-s`` prints them.
"""

from __future__ import annotations

import os
import sys
import time

import pytest

psycopg = pytest.importorskip("psycopg")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "sources"))

import _flyteadmin  # noqa: E402
import _pgserver  # noqa: E402
from flyteidl.admin import execution_pb2  # noqa: E402
from flytekit.models import execution as fk_execution  # noqa: E402
from flytekit.models.core import identifier as fk_identifier  # noqa: E402
from test_bench_arrow import _flytekit_columns, _flytekit_reader  # noqa: E402

import flytecodec  # noqa: E402
from flytecodec import _export  # noqa: E402
from flytecodec.arrow import arrow_type  # noqa: E402
from flytecodec.testing import corpus  # noqa: E402

N = int(os.environ.get("FLYTECODEC_BENCH_N", "20000"))
BACKENDS = flytecodec.available_backends()
QUERY = (
    "SELECT execution_project, execution_domain, execution_name, spec, closure FROM executions "
    "WHERE deleted_at IS NULL ORDER BY execution_project, execution_domain, execution_name"
)


@pytest.fixture(scope="module")
def database():
    bindir = _pgserver.find_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed")
    server = _pgserver.Server(bindir)
    try:
        server.start()
        url = _flyteadmin.create_database(server, "bench")
        messages = corpus.offload_inline_outputs(corpus.execution_list(N, seed=1)).executions
        rows = _flyteadmin.execution_rows(N, seed=1, messages=messages)
        for row in rows:  # flytekit cannot read inline LiteralMapBlob.values (docs/compatibility.md)
            closure = execution_pb2.ExecutionClosure.FromString(row["closure"] or b"")
            if closure.outputs.HasField("values"):
                closure.outputs.uri = "s3://bench/outputs.pb"
                row["closure"] = closure.SerializeToString()
        with psycopg.connect(url) as conn:
            _flyteadmin.insert(conn, "executions", rows)
            conn.execute("ANALYZE executions")
            size = conn.execute(
                "SELECT count(*), sum(octet_length(spec) + coalesce(octet_length(closure), 0)) FROM executions "
                "WHERE deleted_at IS NULL"
            ).fetchone()
        yield url, size[0], int(size[1])
    finally:
        server.stop()


def timed(benchmark, run, rounds: int, nbytes: int):
    """``benchmark.pedantic`` of ``run``, noting the least CPU time of a round and the bytea MB/s per core."""
    cpu: list[float] = []

    def measured():
        start = time.process_time()
        result = run()
        cpu.append(time.process_time() - start)
        return result

    result = benchmark.pedantic(measured, rounds=rounds, iterations=1)
    best = min(cpu)
    benchmark.extra_info.update(cpu_ms=round(best * 1e3, 1), mb_per_s_per_core=round(nbytes / best / 1e6, 1))
    print(f"\n{benchmark.name}: CPU {best * 1e3:.1f} ms, {nbytes / best / 1e6:.1f} MB/s of bytea per core")
    return result


@pytest.fixture(scope="module")
def flytekit_columns(database):
    url = database[0]
    with psycopg.connect(url) as conn:
        sample = conn.execute(QUERY + " LIMIT 500").fetchall()
    return _flytekit_columns([_flytekit_model(row) for row in sample])


def _flytekit_model(row):
    project, domain, name, spec, closure = row
    return fk_execution.Execution(
        fk_identifier.WorkflowExecutionIdentifier(project, domain, name),
        fk_execution.ExecutionSpec.from_flyte_idl(execution_pb2.ExecutionSpec.FromString(spec)),
        fk_execution.ExecutionClosure.from_flyte_idl(execution_pb2.ExecutionClosure.FromString(closure or b"")),
    )


@pytest.mark.benchmark(group="postgres: executions to Parquet")
def test_pg_export_flytekit(benchmark, database, flytekit_columns, tmp_path):
    url, rows, nbytes = database
    readers = [_flytekit_reader(c) for c in flytekit_columns]
    schema = pa.schema([pa.field(c.name, arrow_type(c)) for c in flytekit_columns])
    out = tmp_path / "flytekit.parquet"

    def run():
        with psycopg.connect(url) as conn:
            models = [_flytekit_model(row) for row in conn.execute(QUERY).fetchall()]
        columns = [[read(m) for m in models] for read in readers]
        table = pa.Table.from_arrays([pa.array(v, f.type) for v, f in zip(columns, schema)], schema=schema)
        pq.write_table(table, out)
        return len(models)

    benchmark.extra_info.update(rows=rows, bytea_bytes=nbytes)
    assert timed(benchmark, run, 3, nbytes) == rows


@pytest.mark.benchmark(group="postgres: executions to Parquet")
@pytest.mark.parametrize("name", BACKENDS)
def test_pg_export_flytecodec(benchmark, database, tmp_path, name):
    url, rows, nbytes = database
    out = tmp_path / "flytecodec.parquet"

    def run():
        with flytecodec.using_backend(name):
            _export.run_export(url, "execution", str(out), "parquet", None, filters={"archived": True}, quiet=True)

    benchmark.extra_info.update(rows=rows, bytea_bytes=nbytes)
    timed(benchmark, run, 5, nbytes)
    assert pq.read_metadata(out).num_rows == rows
