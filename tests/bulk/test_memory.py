"""Memory: no leak over repeated decodes, and models that outlive (and ignore) the buffer they came from.

(a) ``test_rss_flat_over_repeated_decodes``: 1 000 decodes of a ~10 MB ``ExecutionList`` on each backend, each of
    a fresh copy of the input (so a leaked reference to the input, to a record list or to a model shows as
    growth: 10 MB an iteration), with a few properties read on a sample of the records, then everything dropped.
    The resident set size (``VmRSS`` of ``/proc/self/status``) after a warm-up and at the end must not differ by
    more than ``RSS_GROWTH_LIMIT``.
(b) ``test_*_after_*``: a batch and its models stay valid and keep their original values after the caller's
    buffer is overwritten, resized or deleted (bytearray, memoryview over a bytearray, mmap, a sequence of
    bytearrays), on both backends — including properties read for the first time after the change.
(c) ``test_large_stream_in_chunks``: ~1 GB of delimited records, decoded chunk by chunk; runs only with
    ``FLYTECODEC_SLOW=1`` in the environment (3 s native, 12 s python on 2 cores).
"""

from __future__ import annotations

import gc
import mmap
import os
import sys
import time

import pytest

import flytecodec
from flytecodec.models.execution import Execution
from flytecodec.testing import corpus

MB = 1 << 20
RSS_GROWTH_LIMIT = 64 * MB
DUMP_RECORDS = 18_000  # ~10.8 MB of ExecutionList
ITERATIONS = 1_000
WARMUP = 50
SAMPLE_EVERY = 50  # read properties of every 50th record of each decode
TIME_BUDGET = 50.0  # seconds for the measured loop of one backend; fewer iterations (>= 300) on a slow machine


def rss() -> int:
    """The resident set size of this process, in bytes."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))


pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc/self/status")


def state(model: Execution) -> tuple:
    """What a caller sees of an execution: some properties of every level, to_flyte_idl() and its own bytes."""
    closure, spec = model.closure, model.spec
    return (
        model.id.project,
        model.id.domain,
        model.id.name,
        closure.phase,
        closure.started_at,
        closure.duration,
        closure.created_at,
        None if closure.error is None else closure.error.message,
        spec.launch_plan.name,
        spec.metadata.mode,
        spec.metadata.principal,
        sorted((spec.labels.values or {}).items()) if spec.labels is not None else None,
        model.to_flyte_idl().SerializeToString(deterministic=True),
        model.serialize_to_string(),
    )


# -- (a) RSS stays flat -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dump() -> bytes:
    return corpus.execution_list(DUMP_RECORDS, seed=7, token="dump").SerializeToString()


def test_rss_flat_over_repeated_decodes(backend, dump, capsys):
    assert len(dump) > 10 * 1_000_000
    expected = [state(m) for m in flytecodec.decode_executions(dump, framing="list")[::SAMPLE_EVERY]]

    def one_decode():
        data = memoryview(dump).tobytes()  # a fresh bytes object each time: a leaked input would pile up
        batch = flytecodec.decode_executions(data, framing="list")
        assert len(batch) == DUMP_RECORDS and batch.token == "dump"
        for j, i in enumerate(range(0, DUMP_RECORDS, SAMPLE_EVERY)):
            m = batch[i]
            closure = m.closure
            assert (m.id.name, closure.phase, closure.started_at, m.spec.launch_plan.name) == (
                expected[j][2],
                expected[j][3],
                expected[j][4],
                expected[j][8],
            )
        if one_decode.calls % 100 == 0:  # now and then the whole state, to_flyte_idl included
            assert [state(m) for m in batch[::SAMPLE_EVERY]] == expected
        one_decode.calls += 1
        del batch, m, closure
        return data

    one_decode.calls = 0
    for _ in range(WARMUP):
        one_decode()
    gc.collect()
    before = rss()
    start = time.perf_counter()
    for _ in range(WARMUP):
        one_decode()
    per_iteration = (time.perf_counter() - start) / WARMUP
    iterations = max(300, min(ITERATIONS, int(TIME_BUDGET / per_iteration)))
    for _ in range(iterations - 2 * WARMUP):
        data = one_decode()
    gc.collect()
    after = rss()
    assert sys.getrefcount(data) == 2, "the input of the last decode is still referenced after its batch was dropped"
    with capsys.disabled():
        print(
            f"\n[{backend}] {iterations} decodes of {len(dump) / 1e6:.1f} MB ({per_iteration * 1e3:.1f} ms each): "
            f"VmRSS {before / MB:.1f} MB after warm-up, {after / MB:.1f} MB at the end "
            f"({(after - before) / MB:+.1f} MB)"
        )
    assert after - before < RSS_GROWTH_LIMIT, f"RSS grew by {(after - before) / MB:.1f} MB over {iterations} decodes"


# -- (b) models outlive and ignore their source buffer ----------------------------------------------------------

RECORDS = corpus.executions(40, seed=3)
SOURCES = {
    "list": corpus.execution_list(40, seed=3, token="t").SerializeToString(),
    "delimited": corpus.delimited(RECORDS),
    "message": RECORDS[0].SerializeToString(deterministic=True),
}
COUNT = {"list": 40, "delimited": 40, "message": 1}


def _expected(framing: str) -> list[tuple]:
    return [state(m) for m in flytecodec.decode(Execution, SOURCES[framing], framing=framing)]


def _decode_and_touch(data, framing: str):
    """Decode ``data``, keep the models of the even records with their state already read, and leave the odd
    records unmade: after the buffer changes, both the cached and the first reads must give the original."""
    batch = flytecodec.decode(Execution, data, framing=framing)
    assert len(batch) == COUNT[framing]
    early = [state(batch[i]) for i in range(0, len(batch), 2)]
    return batch, early


def _check(batch, early, framing: str) -> None:
    expected = _expected(framing)
    assert early == expected[0::2]
    assert [state(batch[i]) for i in range(len(batch))] == expected  # the odd ones read for the first time now
    assert [state(m) for m in batch] == expected
    if framing == "list":
        assert batch.token == "t"
        assert batch.to_flyte_idl() == flytecodec.decode(Execution, SOURCES["list"], framing="list").to_flyte_idl()


FRAMINGS = pytest.mark.parametrize("framing", ["list", "delimited", "message"])


@FRAMINGS
def test_bytearray_overwritten_after_decode(backend, framing):
    ba = bytearray(SOURCES[framing])
    batch, early = _decode_and_touch(ba, framing)
    ba[:] = b"x" * len(ba)
    _check(batch, early, framing)


@FRAMINGS
def test_bytearray_resized_after_decode(backend, framing):
    ba = bytearray(SOURCES[framing])
    batch, early = _decode_and_touch(ba, framing)
    ba.extend(b"\xff" * (4 * MB))  # moves the buffer
    del ba[: len(ba) // 2]
    _check(batch, early, framing)
    ba.clear()
    _check(batch, early, framing)


@FRAMINGS
def test_bytearray_deleted_after_decode(backend, framing):
    ba = bytearray(SOURCES[framing])
    batch, early = _decode_and_touch(ba, framing)
    del ba
    gc.collect()
    junk = [bytearray(b"\x00" * len(SOURCES[framing])) for _ in range(8)]  # likely reuses the freed memory
    _check(batch, early, framing)
    del junk


@FRAMINGS
def test_memoryview_over_bytearray(backend, framing):
    ba = bytearray(SOURCES[framing])
    view = memoryview(ba)
    batch, early = _decode_and_touch(view, framing)
    with pytest.raises(BufferError):  # the caller's own view pins the bytearray's size, not flytecodec
        ba.extend(b"more")
    view[:] = b"y" * len(view)  # written through the view
    _check(batch, early, framing)
    view.release()
    ba.extend(b"\x01" * MB)  # resizable again once the caller's view is gone: flytecodec holds no export
    _check(batch, early, framing)
    del ba
    gc.collect()
    _check(batch, early, framing)


@FRAMINGS
def test_memoryview_slice_released_before_use(backend, framing):
    """A view on part of a larger buffer: only the viewed bytes are the input."""
    payload = SOURCES[framing]
    ba = bytearray(b"\xaa" * 17 + payload + b"\xbb" * 9)
    with memoryview(ba) as whole:
        batch, early = _decode_and_touch(whole[17 : 17 + len(payload)], framing)
    ba[:] = b"z" * len(ba)
    ba.extend(b"z")
    _check(batch, early, framing)


@FRAMINGS
@pytest.mark.parametrize("access", [mmap.ACCESS_READ, mmap.ACCESS_WRITE], ids=["read", "write"])
def test_mmap_closed_after_decode(backend, framing, access, tmp_path):
    path = tmp_path / "dump.pb"
    path.write_bytes(SOURCES[framing])
    with open(path, "r+b") as f:
        mm = mmap.mmap(f.fileno(), 0, access=access)
    batch, early = _decode_and_touch(mm, framing)
    if access == mmap.ACCESS_WRITE:
        mm[:] = b"w" * len(mm)
        mm.flush()
    mm.close()  # raises BufferError if anything still exports the mapping
    assert mm.closed
    path.write_bytes(b"\x00" * len(SOURCES[framing]))  # the file changes too
    _check(batch, early, framing)


def test_sequence_of_bytearrays_mutated(backend):
    items = [bytearray(r.SerializeToString(deterministic=True)) for r in RECORDS]
    batch = flytecodec.decode(Execution, items)
    early = [state(batch[i]) for i in range(0, len(batch), 2)]
    for item in items:
        item[:] = b"q" * len(item)
        item.extend(b"q" * 100)
    items.clear()
    gc.collect()
    expected = _expected("delimited")
    assert early == expected[0::2]
    assert [state(batch[i]) for i in range(len(batch))] == expected


def test_models_outlive_their_batch(backend):
    """Models kept after their batch (and its input) are dropped still read their fields."""
    data = memoryview(SOURCES["list"]).tobytes()
    batch = flytecodec.decode(Execution, data, framing="list")
    models = [batch[i] for i in range(len(batch))]
    it = iter(flytecodec.decode(Execution, data, framing="list"))
    streamed = [next(it) for _ in range(5)]
    del batch, data, it
    gc.collect()
    expected = _expected("list")
    assert [state(m) for m in models] == expected
    assert [state(m) for m in streamed] == expected[:5]


# -- (c) ~1 GB in chunks ----------------------------------------------------------------------------------------


@pytest.mark.skipif(os.environ.get("FLYTECODEC_SLOW") != "1", reason="slow: set FLYTECODEC_SLOW=1 to run")
def test_large_stream_in_chunks(backend, capsys):
    """~1 GB of delimited executions decoded in ~10 MB chunks (one chunk built once, decoded ~100 times, a fresh
    copy each time): every chunk gives its record count, and RSS after the first chunks stays within
    ``RSS_GROWTH_LIMIT`` of the end. Skipped unless ``FLYTECODEC_SLOW=1`` (about 3 s native, 12 s python on 2
    cores)."""
    records = corpus.executions(DUMP_RECORDS, seed=9)
    chunk = corpus.delimited(records)
    last_name = records[-1].id.name
    del records
    chunks = -(-1_000_000_000 // len(chunk))
    total_bytes = total_records = 0
    before = 0
    for n in range(chunks):
        data = memoryview(chunk).tobytes()
        batch = flytecodec.decode(Execution, data, framing="delimited")
        assert len(batch) == DUMP_RECORDS
        assert batch[-1].id.name == last_name
        total_records += len(batch)
        total_bytes += len(data)
        del batch, data
        if n == 5:
            gc.collect()
            before = rss()
    gc.collect()
    after = rss()
    with capsys.disabled():
        print(
            f"\n[{backend}] {total_bytes / 1e9:.2f} GB in {chunks} chunks: VmRSS {before / MB:.1f} MB after 6 chunks, "
            f"{after / MB:.1f} MB at the end ({(after - before) / MB:+.1f} MB)"
        )
    assert total_bytes >= 1_000_000_000 and total_records == chunks * DUMP_RECORDS
    assert after - before < RSS_GROWTH_LIMIT, f"RSS grew by {(after - before) / MB:.1f} MB over {total_bytes} bytes"
