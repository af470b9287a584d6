"""Does native decoding release the GIL? Two Python threads decoding at once against one thread decoding twice.

Both contenders run ``flytecodec._native.decode_records`` on the same ``ExecutionList`` with ``threads=1``
inside Rust, so any speed-up of the two-thread contender comes from the GIL being released while Rust splits
and validates (measured, not asserted). With the GIL held throughout, both take the same time; released, on
two or more cores, the threaded one takes about half. The group holds both contenders; the ratio
(serial / threaded) is also stored in the threaded contender's ``extra_info["serial_over_threads"]``.
"""

from __future__ import annotations

import threading
import time

import pytest

import flytecodec

BACKENDS = flytecodec.available_backends()
GROUP = "threads: GIL released"
pytestmark = pytest.mark.skipif("native" not in BACKENDS, reason="needs the native extension")


@pytest.fixture(scope="module")
def large_list(execution_list_bytes) -> bytes:
    """At least 50 000 executions: the session's ExecutionList repeated (concatenated ``*List`` responses are one
    response whose records are all of theirs), so one decode takes long enough to dwarf starting a thread."""
    from flytecodec import _native

    count = len(_native.decode_records(*_args(execution_list_bytes))[0])
    return execution_list_bytes * -(-50_000 // count)


def _args(data: bytes) -> tuple:
    return ("flyteidl.admin.Execution", data, "list", 1, 2, 1)  # threads=1: no parallelism inside Rust


def _serial(data: bytes) -> None:
    from flytecodec import _native

    args = _args(data)
    _native.decode_records(*args)
    _native.decode_records(*args)


def _two_threads(data: bytes) -> None:
    from flytecodec import _native

    args = _args(data)
    barrier = threading.Barrier(2)
    results = []

    def run():
        barrier.wait()
        results.append(len(_native.decode_records(*args)[0]))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2 and results[0] == results[1]


def _median(f, data: bytes, rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        f(data)
        times.append(time.perf_counter() - start)
    return sorted(times)[rounds // 2]


@pytest.mark.benchmark(group=GROUP)
def test_gil_one_thread_twice(benchmark, large_list):
    benchmark.pedantic(_serial, args=(large_list,), rounds=5, iterations=1)


@pytest.mark.benchmark(group=GROUP)
def test_gil_two_threads(benchmark, large_list):
    benchmark.pedantic(_two_threads, args=(large_list,), rounds=5, iterations=1, warmup_rounds=1)
    serial, threaded = _median(_serial, large_list), _median(_two_threads, large_list)
    benchmark.extra_info["serial_over_threads"] = round(serial / threaded, 2)
