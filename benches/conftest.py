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
