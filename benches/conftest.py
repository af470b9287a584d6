"""Benchmark corpora: the project's generator, made once per session, the same bytes for every contender.

``FLYTECODEC_BENCH_N`` sets the number of records (default 20 000). flytekit cannot read inline
``LiteralMapBlob.values`` (docs/compatibility.md), so the benchmark corpus has its inline outputs offloaded
to a uri: every contender decodes exactly the same bytes.
"""

from __future__ import annotations

import os

import pytest

from flytecodec.testing import corpus

N = int(os.environ.get("FLYTECODEC_BENCH_N", "20000"))


@pytest.fixture(scope="session")
def execution_list_bytes() -> bytes:
    return corpus.offload_inline_outputs(corpus.execution_list(N, seed=1, token="bench")).SerializeToString()


@pytest.fixture(scope="session")
def node_execution_list_bytes() -> bytes:
    return corpus.node_execution_list(N, seed=1, token="bench").SerializeToString()


def small_execution(e):
    """The parts of an execution a small record has (about 270 bytes): id, launch plan, mode and principal,
    phase and times."""
    from flyteidl.admin import execution_pb2

    s = execution_pb2.Execution()
    s.id.CopyFrom(e.id)
    s.spec.launch_plan.CopyFrom(e.spec.launch_plan)
    s.spec.metadata.mode = e.spec.metadata.mode
    s.spec.metadata.principal = e.spec.metadata.principal
    s.closure.phase = e.closure.phase
    for name in ("started_at", "duration", "created_at", "updated_at", "workflow_id"):
        if e.closure.HasField(name):
            getattr(s.closure, name).CopyFrom(getattr(e.closure, name))
    return s


@pytest.fixture(scope="session")
def small_pages() -> list[bytes]:
    """``N`` small executions as ``ExecutionList`` pages of 100 records (flyteadmin's default page size)."""
    from flyteidl.admin import execution_pb2

    records = [small_execution(e) for e in corpus.executions(N, seed=5)]
    return [
        execution_pb2.ExecutionList(executions=records[i : i + 100], token=str(i + 100)).SerializeToString()
        for i in range(0, len(records), 100)
    ]
