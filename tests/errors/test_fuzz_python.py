"""Fuzzing the public API on both backends: ``flytecodec.decode`` over arbitrary and damaged inputs.

Every input goes through ``decode(model, data, framing=...)`` on each available backend. Either both raise
:class:`flytecodec.DecodeError` with the same ``index``, ``offset``, ``model``, ``reason`` and ``hint`` (and upb
refuses it too, for the framings upb knows), or both accept it (and so does upb) with the same
page token and records whose ``to_flyte_idl()`` and ``serialize_to_string()`` are equal (the latter the exact bytes
of the record) and whose properties read the same (``Compare`` of the differential tests). Any other exception —
``pyo3_runtime.PanicException`` (a ``BaseException``), ``SystemError``, a ``TypeError`` from the extension — fails.

upb is the oracle for both (``upb_outcome``): the input is split here by the documented framings and parsed by
upb itself, so both backends must refuse exactly what upb refuses — for ``message``, ``sequence`` and
``delimited`` at upb's first bad record (its index, and its length prefix's offset in a delimited stream) — and
accept the rest with upb's records, every property giving upb's value (``tests/support/upb.py``).

Three sources of inputs: arbitrary bytes; sequences of protobuf-ish tokens (tags, lengths, varint bytes, groups),
which reach deeper than random bytes; and valid corpus records damaged by ``tests/support/malformed.py``'s mutators,
then framed every way. In the normal suite each test runs a modest, derandomized number of examples (a few
seconds in all). ``FLYTECODEC_FUZZ_SECONDS=<n>`` instead fuzzes for about ``n`` seconds in all, split between the
tests, in chunks of examples with fresh seeds (each chunk's seed is printed when it fails) — see scripts/fuzz.sh.
"""

from __future__ import annotations

import os
import random
import time

import pytest
from google.protobuf.message import DecodeError as PbDecodeError
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import flytecodec
from flytecodec import DecodeError
from flytecodec.bulk import list_message_for
from flytecodec.columns import COLUMNS
from flytecodec.models.admin.task_execution import TaskExecution, TaskExecutionClosure
from flytecodec.models.execution import Execution, ExecutionClosure
from flytecodec.models.literals import Literal
from flytecodec.models.node_execution import NodeExecution, NodeExecutionClosure
from flytecodec.testing import corpus
from support import malformed as mf
from support import tally
from support.differential import Compare
from support.upb import INT64, Walk, expected_column

try:
    import pyarrow as pa

    from flytecodec.arrow import schema as arrow_schema
except ImportError:  # pragma: no cover - the columns are then not fuzzed
    pa = None

BACKENDS = flytecodec.available_backends()
pytestmark = pytest.mark.skipif(len(BACKENDS) < 2, reason="needs both backends (the native one is not built here)")

LIST_MODELS = (Execution, NodeExecution, TaskExecution)  # the ones with a *List response
MODELS = (*LIST_MODELS, ExecutionClosure, NodeExecutionClosure, TaskExecutionClosure, Literal)
FRAMINGS = ("list", "delimited", "message", "sequence")

TESTS = 3  # the tests below share FLYTECODEC_FUZZ_SECONDS equally
BUDGET = float(os.environ.get("FLYTECODEC_FUZZ_SECONDS") or 0)
EXAMPLES = 500  # per test in the normal suite (about 4 s for the three)
CHUNK = 200  # examples per hypothesis run in a timed run

# -- running both backends -------------------------------------------------------------------------------------


def outcome(backend: str, model: type, data, framing: str):
    """``("error", index, offset, model)`` or ``("ok", token, models)``; any other exception fails the test."""
    try:
        with flytecodec.using_backend(backend):
            try:
                batch = flytecodec.decode(model, data, framing=None if framing == "sequence" else framing)
            except DecodeError as e:
                return ("error", e.index, e.offset, e.model, e.reason, e.hint), None
            return ("ok", batch.token, len(batch)), list(batch)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # PanicException is a BaseException: report it, with the input, as a failure
        raise AssertionError(f"{backend} backend: {type(e).__module__}.{type(e).__qualname__} escaped: {e!r}") from e


def _varint(data: bytes, pos: int):
    """A delimited stream's length prefix at ``pos``: ``(value, next position)``, or None when it is cut short or
    runs past 10 bytes (bits past 64 are dropped, as upb drops them)."""
    value = 0
    for i in range(pos, min(pos + 10, len(data))):
        value |= (data[i] & 0x7F) << (7 * (i - pos))
        if data[i] < 0x80:
            return value & (2**64 - 1), i + 1
    return None


def upb_outcome(model: type, data, framing: str):
    """What upb says of the input: ``(outcome, upb's records)``, with ``outcome`` as :func:`outcome` gives it
    (``None`` for the index and offset of a refused ``list``, which are not upb's to say)."""
    parse, name = model._pb_class.FromString, model._pb_class.DESCRIPTOR.full_name
    if framing == "list":
        list_class, field = list_message_for(model)
        try:
            page = list_class.FromString(data)
        except PbDecodeError:
            return ("error", None, None, name), None
        return ("ok", page.token, len(getattr(page, field))), list(getattr(page, field))
    if framing == "delimited":
        items, offsets, pos = [], [], 0
        while pos < len(data):
            prefix = _varint(data, pos)
            if prefix is None or prefix[0] > len(data) - prefix[1]:
                return ("error", len(items), pos, name), None  # a broken prefix is reported first
            offsets.append(pos)
            items.append(data[prefix[1] : prefix[1] + prefix[0]])
            pos = prefix[1] + prefix[0]
    else:
        items = data if framing == "sequence" else [data]
        offsets = [0] * len(items)
    records = []
    for i, item in enumerate(items):
        try:
            records.append(parse(bytes(item)))
        except PbDecodeError:
            return ("error", i, offsets[i], name), None
    return ("ok", "", len(records)), records


def check(model: type, data, framing: str) -> None:
    """Both backends agree on ``data``: the same DecodeError, or the same records."""
    if framing == "list" and model not in LIST_MODELS:
        framing = "delimited"
    if framing == "sequence" and not isinstance(data, list):
        data = [data[i : i + 7] for i in range(0, len(data), 7)]  # a column of arbitrary little messages
    elif framing != "sequence" and isinstance(data, list):
        data = b"".join(data)
    (a, models_a), (b, models_b) = (outcome(name, model, data, framing) for name in ("python", "native"))
    TALLY["inputs"] += 1
    TALLY["refused"] += models_a is None
    assert a == b, f"{model.__name__} framing={framing}: python {a} vs native {b} for {data!r}"
    expected, upb_records = upb_outcome(model, data, framing)
    TALLY["checked with upb"] += 1
    mine = a[:4] if a[0] == "error" else a  # upb gives no reason or hint: those are compared between the backends
    if framing == "list" and expected[0] == "error":
        mine = (mine[0], None, None, mine[3]) if mine[0] == "error" else mine
    assert mine == expected, f"{model.__name__} framing={framing}: flytecodec {a} vs upb {expected} for {data!r}"
    if models_a is None:
        return
    raws = data if framing == "sequence" else [data] if framing == "message" else None
    compare = Compare()
    for i, (x, y) in enumerate(zip(models_a, models_b)):
        where = f"{model.__name__} framing={framing} record {i} of {data!r}"
        with flytecodec.using_backend("python"):
            ix, sx = x.to_flyte_idl(), x.serialize_to_string()
        with flytecodec.using_backend("native"):
            iy, sy = y.to_flyte_idl(), y.serialize_to_string()
        assert type(ix) is type(iy), where
        assert ix.SerializeToString(deterministic=True) == iy.SerializeToString(deterministic=True), where
        assert sx == sy, f"{where}: serialize_to_string() {sx!r} != {sy!r}"
        if raws is not None:
            assert sx == bytes(raws[i]), f"{where}: serialize_to_string() is not the record's bytes"
        compare.record(x, y, where)
        for name, m in (("python", x), ("native", y)):
            with flytecodec.using_backend(name):
                Walk("hypothesis", sx, oracle="upb-fuzz").model(m, upb_records[i], where)
    check_columns(model, data, framing, upb_records)


def check_columns(model: type, data, framing: str, records: list) -> None:
    """Every column of ``Batch.to_arrow()``, on each backend, against upb's records (times compared as whole
    microseconds); a time outside Arrow's int64 microseconds must raise ValueError on both."""
    message = model._pb_class.DESCRIPTOR.full_name
    if pa is None or message not in COLUMNS:
        return
    columns = COLUMNS[message]
    times = [pa.types.is_timestamp(f.type) or pa.types.is_duration(f.type) for f in arrow_schema(model)]
    expected = [[expected_column(pb, c.path, c.number, as_micros=True) for c in columns] for pb in records]
    outside = any(
        is_time and value is not None and not INT64[0] <= value <= INT64[1]
        for row in expected
        for is_time, value in zip(times, row)
    )
    for name in BACKENDS:
        with flytecodec.using_backend(name):
            batch = flytecodec.decode(model, data, framing=None if framing == "sequence" else framing)
            try:
                table = batch.to_arrow()
            except ValueError as e:
                assert outside, f"{name}: to_arrow raises {e!r} on {data!r}"
                continue
        assert not outside, f"{name}: to_arrow accepts a time outside int64 microseconds in {data!r}"
        for c, (column, is_time) in enumerate(zip(columns, times)):
            array = table.column(c)
            got = (array.cast(pa.int64()) if is_time else array).to_pylist()
            want = [row[c] for row in expected]
            assert got == want, f"{name}: column {column.name} {got!r} != upb's {want!r} for {data!r}"
            with flytecodec.using_backend(name):
                for pb in records:
                    tally.add("upb-fuzz-column", "hypothesis", tally.record_key(pb.SerializeToString()), column.name)


TALLY = {"inputs": 0, "refused": 0, "checked with upb": 0}


# -- inputs ----------------------------------------------------------------------------------------------------

# Protobuf-ish pieces: tags of known and unknown fields with every wire type, lengths, varint continuation bytes,
# group starts and ends, bytes that are not UTF-8.
TOKENS = [
    *(mf.tag(n, w) for n in (1, 2, 3, 4, 5, 7, 9, 15, 16, 99, 2**29 - 1) for w in range(8)),
    *(bytes([n]) for n in (0, 1, 2, 3, 5, 8, 10, 0x7F, 0x80, 0xFF)),
    b"\x80" * 5,
    b"\xff" * 10 + b"\x01",
    mf.padded_varint(1, 6),
    mf.nested_groups(99),
    mf.nested_groups(101),
    *mf.BAD_UTF8[:3],
    b"abc",
]


def _records() -> dict[type, list[bytes]]:
    """A few small realistic records of each model (the smallest, so examples stay fast)."""

    def smallest(messages, k=4):
        return sorted((m.SerializeToString(deterministic=True) for m in messages), key=len)[:k]

    executions = corpus.executions(60, 11)
    nodes = corpus.node_executions(60, 11)
    tasks = corpus.task_executions(60, 11)
    literals = [lit for e in executions for lit in e.closure.outputs.values.literals.values()]
    return {
        Execution: smallest(executions),
        NodeExecution: smallest(nodes),
        TaskExecution: smallest(tasks),
        ExecutionClosure: smallest(e.closure for e in executions),
        NodeExecutionClosure: smallest(n.closure for n in nodes),
        TaskExecutionClosure: smallest(t.closure for t in tasks),
        Literal: smallest(literals) or [b""],
    }


RECORDS = _records()


def damaged(rng: random.Random, model: type, raw: bytes) -> bytes:
    """``raw`` after one to three of the differential tests' mutations (tree or byte level)."""
    desc = model._pb_class.DESCRIPTOR
    for _ in range(rng.randrange(1, 4)):
        if rng.random() < 0.7:
            try:
                tree = mf.parse(desc, raw)
                if rng.choice(mf.TREE_MUTATIONS)(rng, tree, desc) is not None:
                    raw = mf.serialize(tree)
                    continue
            except (ValueError, RecursionError):  # not a valid message (or absurdly deep): damage its bytes instead
                pass
        raw, _ = mf.byte_mutation(rng, raw, desc, [])
    return raw


def framed(rng: random.Random, records: list[bytes], framing: str):
    """``records`` framed as ``framing`` (a list response with a page token now and then)."""
    if framing == "list":
        out = b"".join(mf.ld(1, r) for r in records)
        if rng.random() < 0.3:
            out += mf.ld(2, rng.choice((b"next", b"\xff", b"")))
        return out
    if framing == "delimited":
        return b"".join(mf.varint(len(r)) + r for r in records)
    if framing == "message":
        return records[0] if records else b""
    return records


# -- the tests -------------------------------------------------------------------------------------------------


def run(test) -> None:
    """Run a ``@given`` test: derandomized and bounded, or, with FLYTECODEC_FUZZ_SECONDS, for its share of it."""
    common = {"deadline": None, "database": None, "suppress_health_check": list(HealthCheck)}
    if not BUDGET:
        settings(max_examples=EXAMPLES, derandomize=True, **common)(test)()
        return
    configured = settings(max_examples=CHUNK, derandomize=False, **common)(test)
    stop = time.monotonic() + BUDGET / TESTS
    chunk = 0
    while time.monotonic() < stop:
        try:
            seed(chunk)(configured)()  # a fresh, reproducible seed per chunk
        except BaseException:
            print(f"failed in chunk {chunk} (hypothesis seed {chunk})")
            raise
        chunk += 1


def test_arbitrary_bytes():
    @given(st.sampled_from(MODELS), st.sampled_from(FRAMINGS), st.binary(max_size=300))
    def arbitrary(model, framing, data):
        check(model, data, framing)

    run(arbitrary)


def test_protobuf_tokens():
    @given(st.sampled_from(MODELS), st.sampled_from(FRAMINGS), st.lists(st.sampled_from(TOKENS), max_size=40))
    def tokens(model, framing, pieces):
        check(model, b"".join(pieces), framing)

    run(tokens)


def test_damaged_records():
    @given(
        st.sampled_from(MODELS),
        st.sampled_from(FRAMINGS),
        st.integers(0, 2**32 - 1),
        st.integers(1, 3),
    )
    def damaged_records(model, framing, rng_seed, count):
        rng = random.Random(rng_seed)
        pool = RECORDS[model]
        records = [rng.choice(pool) for _ in range(count)]
        records[rng.randrange(count)] = damaged(rng, model, rng.choice(pool))
        check(model, framed(rng, records, framing), framing)

    run(damaged_records)
