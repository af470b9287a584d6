"""flyteadmin's API to models: listing every execution of a project/domain in pages of 100 and reading four
fields of each (``closure.phase``, ``closure.started_at``, ``closure.duration``, ``id.name``) — flytecodec's
source (the pages' bytes into the bulk decoder, eight pages in flight) against flytekit's own client
(``SynchronousFlyteClient.list_executions_paginated`` + its models), both against the same gRPC server
(tests/sources/_adminserver.py in a process of its own, ``FLYTECODEC_BENCH_N`` executions, each distinct
page serialized once so that the clients are measured rather than this Python server), in the same run.
Each result's ``extra_info`` has the executions per second.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("grpc")
platform = pytest.importorskip("flytekit.configuration")
friendly = pytest.importorskip("flytekit.clients.friendly")

import flytecodec  # noqa: E402
from flytecodec.sources import grpc as admin  # noqa: E402

N = int(os.environ.get("FLYTECODEC_BENCH_N", "20000"))
BACKENDS = flytecodec.available_backends()
SERVER = os.path.join(os.path.dirname(__file__), "..", "tests", "sources", "_adminserver.py")
PROJECT, DOMAIN = "flytesnacks", "development"  # as _adminserver serves them


@pytest.fixture(scope="module")
def address():
    server = subprocess.Popen(
        [sys.executable, SERVER, str(N)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        yield server.stdout.readline().strip()
    finally:
        server.stdin.close()
        server.wait(timeout=30)


def _rate(benchmark) -> None:
    benchmark.extra_info["executions"] = N
    benchmark.extra_info["executions_per_s"] = round(N / benchmark.stats.stats.median)


@pytest.mark.benchmark(group="grpc: list executions + four fields")
def test_grpc_list_flytekit(benchmark, address):
    client = friendly.SynchronousFlyteClient(platform.PlatformConfig(endpoint=address, insecure=True))

    def run():
        count, token = 0, None
        while True:
            executions, token = client.list_executions_paginated(PROJECT, DOMAIN, limit=100, token=token)
            for e in executions:
                e.closure.phase, e.closure.started_at, e.closure.duration, e.id.name
                count += 1
            if not token:
                return count

    assert benchmark.pedantic(run, rounds=3, iterations=1) == N
    _rate(benchmark)


@pytest.mark.benchmark(group="grpc: list executions + four fields")
@pytest.mark.parametrize("name", BACKENDS)
def test_grpc_list_flytecodec(benchmark, address, name):
    channel = admin.connect(address, insecure=True)

    def run():
        count = 0
        for batch in admin.read(channel, "execution", project=PROJECT, domain=DOMAIN, page_size=100):
            for e in batch:
                e.closure.phase, e.closure.started_at, e.closure.duration, e.id.name
                count += 1
        return count

    with flytecodec.using_backend(name):
        assert benchmark.pedantic(run, rounds=5, iterations=1) == N
    channel.close()
    _rate(benchmark)
