"""The ``native`` (Rust) and ``python`` (upb) backends decode valid records identically: differential tests
(``support/differential.py``: both backends and upb, every record compared property by property).

1. a realistic corpus of 100 000 records (``list`` framing), plus smaller ``delimited`` streams and columns of
   closures (a sequence of bytes, as flyteadmin stores them);
2. hypothesis-generated messages, with and without unknown fields, through every framing.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings

import flytecodec
from flytecodec import decode
from flytecodec.testing import corpus, strategies
from support import examples
from support import malformed as mf
from support.differential import (
    BACKENDS,
    KINDS,
    REMOTE,
    SEED,
    Compare,
    Kind,
    Tally,
    check_input,
    decode_both,
    needs_native,
)

pytestmark = needs_native


# -- the realistic corpus -----------------------------------------------------------------------------------

CORPUS_SIZES = {"execution": 40_000, "node_execution": 30_000, "task_execution": 30_000}
TOKEN = "next-page-\u00e9-2"


def test_the_corpus_has_at_least_100_000_records():
    assert sum(CORPUS_SIZES.values()) >= 100_000


def _compare_batches(py, nat, records: list, raws: list, compare: Compare, where: str) -> None:
    assert len(py) == len(nat) == len(records) == len(raws)
    for i, (a, b) in enumerate(zip(py, nat)):
        compare.record(a, b, f"{where}[{i}]", raw=raws[i], upb=records[i])


@pytest.mark.parametrize("name", sorted(KINDS))
def test_realistic_corpus_list(name):
    """The corpus as ``*List`` responses: every record, every property, both backends."""
    kind = KINDS[name]
    n = CORPUS_SIZES[name]
    started = time.perf_counter()
    records = kind.records(n, SEED)
    message = kind.list_class(token=TOKEN)
    getattr(message, kind.field).extend(records)
    data = message.SerializeToString(deterministic=True)
    raws = [r.SerializeToString(deterministic=True) for r in records]
    py, nat = decode_both(kind.model, data, "list")
    assert py.token == nat.token == TOKEN
    compare = Compare(deep=False)
    _compare_batches(py, nat, records, raws, compare, f"{name} list")
    # the nested models' to_flyte_idl, == and hash too, on a sample
    deep = Compare(deep=True)
    for i in range(0, n, 97):
        deep.record(py[i], nat[i], f"{name} list[{i}]")
    assert compare.records == n
    print(
        f"\n{name}: {compare.records} records, {compare.values + deep.values} values compared "
        f"in {time.perf_counter() - started:.1f}s"
    )


@pytest.mark.parametrize("name", sorted(KINDS))
def test_realistic_corpus_delimited(name):
    kind = KINDS[name]
    records = kind.records(3_000, SEED + 1)
    data = corpus.delimited(records)
    raws = [r.SerializeToString(deterministic=True) for r in records]
    py, nat = decode_both(kind.model, data, "delimited")
    assert py.token == nat.token == ""
    compare = Compare(deep=True)
    _compare_batches(py, nat, records, raws, compare, f"{name} delimited")
    assert compare.records == 3_000


@pytest.mark.parametrize("name", sorted(KINDS))
def test_realistic_closure_column(name):
    """A column of closures (flyteadmin's ``closure`` column): a sequence of bytes, no framing."""
    kind = KINDS[name]
    closures = [r.closure for r in kind.records(3_000, SEED + 2)]
    raws = [c.SerializeToString(deterministic=True) for c in closures]
    py, nat = decode_both(kind.closure, raws, None)
    compare = Compare(deep=True)
    _compare_batches(py, nat, closures, raws, compare, f"{name} closures")
    assert compare.records == 3_000


@pytest.mark.parametrize("name", sorted(KINDS))
def test_realistic_corpus_as_remote_models(name):
    """``FlyteWorkflowExecution`` & co (``model=``): their extra properties (``is_done``, ``error``, ``outputs``…,
    some raising ``FlyteAssertion``) agree too."""
    kind = KINDS[name]
    remote = REMOTE[name]
    records = kind.records(2_000, SEED + 5)
    message = kind.list_class()
    getattr(message, kind.field).extend(records)
    py, nat = decode_both(remote, message.SerializeToString(deterministic=True), "list")
    raws = [r.SerializeToString(deterministic=True) for r in records]
    compare = Compare(deep=False)
    _compare_batches(py, nat, records, raws, compare, f"{name} remote")
    assert compare.records == 2_000 and type(py[0]) is type(nat[0]) is remote


# -- hypothesis ---------------------------------------------------------------------------------------------


_SETTINGS = settings(
    examples.SETTINGS,
    max_examples=400,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
_STRATEGIES = {
    "execution": strategies.executions,
    "node_execution": strategies.node_executions,
    "task_execution": strategies.task_executions,
}


def _every_framing(kind: Kind, data: bytes, tally: Tally, compare: Compare, where: str) -> None:
    """One record's bytes through the four framings: alone, in a sequence, in a *List response, delimited."""
    number = kind.list_class.DESCRIPTOR.fields_by_name[kind.field].number
    check_input(kind.model, data, "message", tally, compare, where)
    check_input(kind.model, [data, data], None, tally, compare, where)
    check_input(kind.model, mf.ld(number, data) + mf.ld(2, b"tok"), "list", tally, compare, where)
    check_input(kind.model, mf.varint(len(data)) + data, "delimited", tally, compare, where)


@pytest.mark.parametrize("name", sorted(KINDS))
def test_hypothesis_messages(name):
    kind = KINDS[name]
    tally, compare = Tally(), Compare()

    @_SETTINGS
    @given(_STRATEGIES[name]())
    def run(message):
        tally.inputs += 1
        _every_framing(kind, message.SerializeToString(deterministic=True), tally, compare, "hypothesis")

    run()
    assert tally.inputs >= 300 and sum(tally.rejected.values()) == 0, tally


@pytest.mark.parametrize("name", sorted(KINDS))
def test_hypothesis_messages_with_unknown_fields(name):
    kind = KINDS[name]
    tally, compare = Tally(), Compare()

    @settings(_SETTINGS, max_examples=250)
    @given(strategies.unknown_fields(_STRATEGIES[name]()))
    def run(data):
        tally.inputs += 1
        _every_framing(kind, data, tally, compare, "hypothesis+unknown")
        upb = kind.model._pb_class.FromString(data).SerializeToString(deterministic=True)
        for backend in BACKENDS:  # unknown fields are kept: the bytes come back unchanged
            with flytecodec.using_backend(backend):
                model = decode(kind.model, data, framing="message")[0]
                assert model.serialize_to_string() == data
                assert model.to_flyte_idl().SerializeToString(deterministic=True) == upb

    run()
    assert tally.inputs >= 200 and sum(tally.rejected.values()) == 0, tally
