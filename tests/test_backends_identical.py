"""The ``native`` (Rust) and ``python`` (upb) backends behave identically: differential tests.

Every input is decoded by both backends. Either both raise :class:`flytecodec.DecodeError` with the same
``index``, ``offset`` and ``model`` — and upb (the pb2 classes' ``FromString``) rejects the input too — or both
accept it, upb accepts it, and every record compares equal property by property, recursively (:class:`Compare`):
the same values of the same types (naive and aware datetimes apart, floats to the sign of zero and NaN), the same
exception where reading a property raises, and the same ``to_flyte_idl()``, ``serialize_to_string()``, ``==``,
``hash`` and ``is_empty``.

1. a realistic corpus of 100 000 records (``list`` framing), plus smaller ``delimited`` streams and columns of
   closures (a sequence of bytes, as flyteadmin stores them);
2. hypothesis-generated messages, with and without unknown fields;
3. more than 10 000 malformed inputs built deterministically from valid records (``tests/_malformed.py``), each
   through every framing that fits it;
4. direct checks of the protobuf rules both backends must follow.

The tests at the end pin the differences this suite once found (each fixed), with their minimal inputs.
"""

from __future__ import annotations

import collections
import datetime
import math
import random
import time
from typing import Any, Callable, NamedTuple

import pytest
from flyteidl.admin import common_pb2, execution_pb2, node_execution_pb2, task_execution_pb2
from google.protobuf.message import DecodeError as PbDecodeError
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings

import _malformed as mf
import flytecodec
from _oracle import properties
from flytecodec import DecodeError, decode
from flytecodec.models._entity import FlyteIdlEntity
from flytecodec.models.admin.task_execution import TaskExecution, TaskExecutionClosure
from flytecodec.models.execution import Execution, ExecutionClosure
from flytecodec.models.literals import Literal
from flytecodec.models.node_execution import NodeExecution, NodeExecutionClosure
from flytecodec.remote.executions import FlyteNodeExecution, FlyteTaskExecution, FlyteWorkflowExecution
from flytecodec.testing import corpus, strategies

pytestmark = pytest.mark.skipif(
    "native" not in flytecodec.available_backends(), reason="the native backend is not built here"
)

BACKENDS = ("python", "native")
SEED = 20_240_601


class Kind(NamedTuple):
    model: type
    list_class: type
    field: str  # the repeated field of the *List response
    records: Callable[..., list]  # corpus generator (n, seed)
    closure: type  # the closure model, for columns of closures


KINDS = {
    "execution": Kind(Execution, execution_pb2.ExecutionList, "executions", corpus.executions, ExecutionClosure),
    "node_execution": Kind(
        NodeExecution,
        node_execution_pb2.NodeExecutionList,
        "node_executions",
        corpus.node_executions,
        NodeExecutionClosure,
    ),
    "task_execution": Kind(
        TaskExecution,
        task_execution_pb2.TaskExecutionList,
        "task_executions",
        corpus.task_executions,
        TaskExecutionClosure,
    ),
}
LIST_OF = {kind.model: kind for kind in KINDS.values()}
REMOTE = {
    "execution": FlyteWorkflowExecution,
    "node_execution": FlyteNodeExecution,
    "task_execution": FlyteTaskExecution,
}

# -- known differences -----------------------------------------------------------------------------------------


# -- comparing models ------------------------------------------------------------------------------------------


def _read(obj, name: str):
    try:
        return getattr(obj, name), None
    except Exception as e:  # a property may legitimately raise: both backends must then raise the same
        return None, e


def _serialized(model):
    try:
        return model.serialize_to_string(), None
    except Exception as e:
        return None, e


class Compare:
    """Compares a model decoded by the python backend (``a``) with the same model decoded natively (``b``).

    ``deep``: also compare ``to_flyte_idl()``, ``==`` and ``hash`` of every nested model (always done for records).
    """

    def __init__(self, deep: bool = True):
        self.deep = deep
        self.values = 0
        self.records = 0
        self._seen: set = set()
        self._keep: list = []  # keeps the compared pairs alive, so their ids in _seen stay theirs

    def record(self, a, b, path: str, raw: bytes | None = None, upb: Message | None = None) -> None:
        """A whole record; ``raw`` is the bytes it was decoded from, ``upb`` upb's parse of them."""
        self._seen.clear()
        self._keep.clear()
        self.records += 1
        self.model(a, b, path, record=True)
        if raw is not None:
            for who, m in (("python", a), ("native", b)):
                sm, em = _serialized(m)
                assert em is None and sm == raw, f"{path}: {who} serialize_to_string() {sm!r} (or {em!r}) != {raw!r}"
        if upb is not None:
            assert a.to_flyte_idl() == upb, f"{path}: python to_flyte_idl() differs from upb's parse"

    def model(self, a, b, path: str, record: bool = False) -> None:
        key = (id(a), id(b))
        if key in self._seen:  # e.g. Literal.value is Literal.collection: compared once
            return
        self._seen.add(key)
        self._keep.append((a, b))
        assert type(a) is type(b), f"{path}: {type(a).__name__} vs {type(b).__name__}"
        for name in properties(type(a)):
            where = f"{path}.{name}"
            va, ea = _read(a, name)
            vb, eb = _read(b, name)
            if ea is not None or eb is not None:
                self.errors(ea, eb, where, va, vb)
            else:
                self.value(va, vb, where)
        if not record:
            sa, sb = a.serialize_to_string(), b.serialize_to_string()
            assert sa == sb, f"{path}: serialize_to_string() {sa!r} != {sb!r}"
        if record or self.deep:
            ia, ib = a.to_flyte_idl(), b.to_flyte_idl()
            assert type(ia) is type(ib) and ia == ib, f"{path}: to_flyte_idl() {ia!r} != {ib!r}"
            assert a == b and b == a and (a != b) is False, f"{path}: models not equal"
            assert hash(a) == hash(b), f"{path}: hash differs"

    def errors(self, ea, eb, where: str, va, vb) -> None:
        assert ea is not None, f"{where}: python gives {va!r}, native raises {eb!r}"
        assert eb is not None, f"{where}: python raises {ea!r}, native gives {vb!r}"
        assert type(ea) is type(eb) and str(ea) == str(eb), f"{where}: python raises {ea!r}, native {eb!r}"
        self.values += 1

    def value(self, a, b, path: str) -> None:
        self.values += 1
        t = type(a)
        assert t is type(b), f"{path}: type {t.__name__} != {type(b).__name__} ({a!r} vs {b!r})"
        if isinstance(a, FlyteIdlEntity):
            self.model(a, b, path)
        elif t is list or t is tuple:
            assert len(a) == len(b), f"{path}: length {len(a)} != {len(b)}"
            for i, (x, y) in enumerate(zip(a, b)):
                self.value(x, y, f"{path}[{i}]")
        elif t is dict:
            assert list(a) == list(b), f"{path}: keys {list(a)} != {list(b)}"
            for k in a:
                self.value(a[k], b[k], f"{path}[{k!r}]")
        elif t is float:
            same = (a != a and b != b) or (a == b and math.copysign(1.0, a) == math.copysign(1.0, b))
            assert same, f"{path}: {a!r} != {b!r}"
        elif t is datetime.datetime:
            assert a == b and a.tzinfo == b.tzinfo and a.fold == b.fold, f"{path}: {a!r} != {b!r}"
        elif isinstance(a, Message):
            assert a == b, f"{path}: {a} != {b}"
        else:  # int, str, bytes, bool, None, timedelta, enums (their type checked above)
            assert a == b, f"{path}: {a!r} != {b!r} ({t.__name__})"


# -- decoding with both backends and with upb ------------------------------------------------------------------


def decode_both(model, data, framing):
    """``(python outcome, native outcome)``: a Batch, or the DecodeError raised."""
    out = []
    for name in BACKENDS:
        with flytecodec.using_backend(name):
            try:
                out.append(decode(model, data, framing=framing))
            except DecodeError as e:
                out.append(e)
    return out[0], out[1]


def upb_delimited(data: bytes) -> list[bytes] | None:
    """The messages of a delimited stream, read with protobuf's varint rules (at most 10 bytes, bits past 64
    dropped)."""
    items, pos = [], 0
    while pos < len(data):
        try:
            length, start = mf.read_varint(data, pos)
        except ValueError:
            return None
        if length > len(data) - start:
            return None
        items.append(data[start : start + length])
        pos = start + length
    return items


def upb_verdict(model, data, framing):
    """upb's own parse: ``(records, raw bytes of each record, token)``, or None when upb rejects the input."""
    pb = model._pb_class
    try:
        if framing == "list":
            kind = LIST_OF[model]
            parsed = kind.list_class.FromString(data)
            number = kind.list_class.DESCRIPTOR.fields_by_name[kind.field].number
            raws = [data[s:e] for n, w, _, s, e in mf.upb_top_level(data).fields if n == number and w == 2]
            return list(getattr(parsed, kind.field)), raws, parsed.token
        if framing == "delimited":
            raws = upb_delimited(data)
            if raws is None:
                return None
        elif framing == "message":
            raws = [data]
        else:
            raws = list(data)
        return [pb.FromString(r) for r in raws], raws, ""
    except PbDecodeError:
        return None


class Tally:
    """How many inputs went through, and how many each backend (and upb) refused."""

    def __init__(self):
        self.inputs = 0
        self.decodes = 0
        self.rejected = collections.Counter()  # decodes refused, by backend (and upb)
        self.rejected_inputs = collections.defaultdict(set)  # inputs refused in at least one framing
        self.labels = collections.Counter()

    def refused(self, who: str, refused: bool) -> None:
        if refused:
            self.rejected[who] += 1
            self.rejected_inputs[who].add(self.inputs)

    def __str__(self) -> str:
        per_input = ", ".join(f"{who} {len(self.rejected_inputs[who])}" for who in ("python", "native", "upb"))
        per_decode = ", ".join(f"{who} {self.rejected[who]}" for who in ("python", "native", "upb"))
        return (
            f"{self.inputs} inputs through {self.decodes} decodes; inputs refused (in some framing) by {per_input}; "
            f"decodes refused by {per_decode}"
        )


def _verdict(outcome) -> tuple:
    if isinstance(outcome, DecodeError):
        return ("rejected", outcome.index, outcome.offset, outcome.model)
    return ("accepted", len(outcome))


def check_input(model, data, framing, tally: Tally, compare: Compare, where: str = "") -> None:
    """Decode ``data`` with both backends and upb; they must agree, and accepted records compare equal."""
    tally.decodes += 1
    py, nat = decode_both(model, data, framing)
    upb = upb_verdict(model, data, framing)
    py_ok, nat_ok = not isinstance(py, DecodeError), not isinstance(nat, DecodeError)
    tally.refused("python", not py_ok)
    tally.refused("native", not nat_ok)
    tally.refused("upb", upb is None)
    shown = data if isinstance(data, bytes) else b"|".join(data)
    context = f"{where} {model.__name__} framing={framing} input={shown.hex()}"
    assert py_ok == (upb is not None), f"{context}: python {py!r}, upb {'accepts' if upb else 'rejects'}"
    assert py_ok == nat_ok, f"{context}: python {py!r}, native {nat!r}"
    if not py_ok:
        assert (py.index, py.offset, py.model, py.reason, py.hint) == (
            nat.index,
            nat.offset,
            nat.model,
            nat.reason,
            nat.hint,
        ), f"{context}: python {py} / native {nat}"
        return
    records, raws, token = upb
    assert len(py) == len(nat) == len(records), f"{context}: {len(py)} / {len(nat)} / {len(records)} records"
    assert py.token == nat.token == token, f"{context}: tokens {py.token!r} {nat.token!r} {token!r}"
    for i, (a, b) in enumerate(zip(py, nat)):
        compare.record(a, b, f"{context} [{i}]", raw=raws[i], upb=records[i])


# -- 1. the realistic corpus -----------------------------------------------------------------------------------

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


# -- 2. hypothesis ---------------------------------------------------------------------------------------------


_SETTINGS = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
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


# -- 3. malformed inputs ---------------------------------------------------------------------------------------

MIN_MALFORMED = 10_000


def literal_chain(levels: int) -> bytes:
    """A Literal with ``levels`` messages nested below it: Literal.collection -> LiteralCollection.literals ->
    Literal -> …"""
    data = b""
    for j in reversed(range(levels)):
        data = mf.ld(2 if j % 2 == 0 else 1, data)
    return data


def _in_closure_outputs(literal: bytes) -> bytes:
    """An ExecutionClosure whose outputs hold ``literal`` (4 levels below the closure)."""
    entry = mf.ld(1, b"o") + mf.ld(2, literal)  # LiteralMap.literals map entry
    return mf.ld(1, mf.ld(1, mf.ld(1, entry))) + mf.tag(4, 0) + b"\x04"  # outputs.values.literals, phase


def _hand_seeds() -> dict[str, list[bytes]]:
    """Small hand-made records with the features the corpus has little of: notification phases (packed),
    oneofs, maps, literal collections, unknown fields."""
    e = execution_pb2.Execution()
    e.id.project, e.id.domain, e.id.name = "p", "d", "n\u00e9"
    e.spec.labels.values["k"] = "v"
    e.spec.annotations.values["a\u00e9"] = "b"
    n = e.spec.notifications.notifications.add()
    n.phases.extend([1, 4, 7])
    n.email.recipients_email.append("a@b.c")
    e.spec.tags.extend(["x", "y"])
    e.closure.phase = 4
    e.closure.started_at.seconds, e.closure.started_at.nanos = 1_700_000_000, 999_999_999
    e.closure.duration.seconds, e.closure.duration.nanos = -5, -999
    c = e.closure.notifications.add()
    c.phases.extend([2])
    c.slack.recipients_email.append("s")
    lit = e.closure.outputs.values.literals["o"]
    lit.collection.literals.add().scalar.primitive.integer = -1
    lit.collection.literals.add().scalar.primitive.float_value = -0.0
    lit.hash = "h"
    e2 = execution_pb2.Execution()
    e2.closure.error.message = "boom \u00e9"
    e2.closure.error.code = "E"
    e2.spec.metadata.scheduled_at.seconds = -62_135_596_800
    ne = node_execution_pb2.NodeExecution()
    ne.id.node_id = "n0"
    ne.closure.phase = 3
    ne.closure.task_node_metadata.cache_status = 2
    ne.closure.output_uri = "s3://b/o"
    ne.metadata.is_parent_node = True
    te = task_execution_pb2.TaskExecution()
    te.id.retry_attempt = 2
    te.closure.phase = 3
    te.closure.logs.add(uri="http://l", name="log")
    te.closure.error.message = "x"
    te.is_parent = True
    return {
        "execution": [_ser(e), _ser(e2), b""],
        "node_execution": [_ser(ne), b""],
        "task_execution": [_ser(te), b""],
    }


def _ser(message) -> bytes:
    return message.SerializeToString(deterministic=True)


def _seed_pool(name: str) -> list[bytes]:
    """Valid records to damage: small realistic ones and the hand-made ones."""
    kind = KINDS[name]
    records = [r.SerializeToString(deterministic=True) for r in kind.records(400, SEED + 3)]
    small = sorted(records, key=len)[:60] + records[:10]
    return small + _hand_seeds()[name]


# mutations after which the record is still a tree to damage again
_STILL_PARSEABLE = {"split-message", "repeated-singular", "oneof-rivals", "unknown-fields", "reordered", "odd-utf8"}


def _mutated(rng: random.Random, data: bytes, desc, other: list[bytes]) -> tuple[bytes, str]:
    """A damaged copy of the valid message ``data`` and what was done to it."""
    if rng.random() < 0.25:
        return mf.byte_mutation(rng, data, desc, other)
    labels = []
    for _ in range(2 if rng.random() < 0.2 else 1):
        try:
            tree = mf.parse(desc, data)
        except ValueError:  # the first mutation broke it: one is enough
            break
        for _attempt in range(8):
            label = rng.choice(mf.TREE_MUTATIONS)(rng, tree, desc)
            if label is not None:
                labels.append(label)
                break
        data = mf.serialize(tree)
        if labels and labels[-1] not in _STILL_PARSEABLE:
            break
    return data, "+".join(labels) or "unchanged"


_GOOD = {  # tiny valid neighbours for the records under test in lists, sequences and delimited streams
    "execution": [b"", mf.ld(1, mf.ld(4, b"n1"))],
    "node_execution": [b"", mf.ld(2, b"s3://in")],
    "task_execution": [b"", mf.tag(4, 0) + b"\x01"],
}


def _framings(rng, name: str, record: bytes, tally: Tally, compare: Compare, where: str) -> None:
    """``record`` (bytes of one message, maybe damaged) through every framing, among valid neighbours."""
    kind = KINDS[name]
    good = _GOOD[name]
    before = [rng.choice(good) for _ in range(rng.randrange(3))]
    after = [rng.choice(good) for _ in range(rng.randrange(2))]
    items = [*before, record, *after]
    number = kind.list_class.DESCRIPTOR.fields_by_name[kind.field].number
    token = rng.choice((b"", b"", b"t0k", "\u00e9".encode()))
    listed = b"".join(mf.ld(number, i) for i in items) + (mf.ld(2, token) if token else b"")
    check_input(kind.model, record, "message", tally, compare, where)
    check_input(kind.model, items, None, tally, compare, where)
    check_input(kind.model, listed, "list", tally, compare, where)
    check_input(kind.model, b"".join(mf.varint(len(i)) + i for i in items), "delimited", tally, compare, where)


def _list_stream_damage(rng, name: str) -> tuple[bytes, str]:
    """A *List response damaged in its own framing."""
    kind = KINDS[name]
    number = kind.list_class.DESCRIPTOR.fields_by_name[kind.field].number
    good = [rng.choice(_GOOD[name]) for _ in range(rng.randrange(1, 4))]
    fields = [mf.ld(number, g) for g in good]
    choice = rng.randrange(10)
    label = "list"
    if choice == 0:
        fields.append(mf.ld(2, b"tok" + rng.choice(mf.BAD_UTF8)))
        label = "list-token-invalid-utf8"
    elif choice == 1:
        fields.insert(rng.randrange(len(fields) + 1), mf.unknown_field(rng, kind.list_class.DESCRIPTOR))
        label = "list-unknown-field"
    elif choice == 2:  # the records field with another wire type: upb keeps it as an unknown field
        wire = rng.choice((0, 1, 5, 3))
        value = mf.tag(number, 4) if wire == 3 else mf.random_value(rng, wire)
        fields.insert(rng.randrange(len(fields) + 1), mf.tag(number, wire) + value)
        label = "list-records-field-other-wire"
    elif choice == 3:
        fields.insert(rng.randrange(len(fields) + 1), mf.nested_groups(rng.randrange(98, 103), rng.choice((3, 7))))
        label = "list-deep-group"
    elif choice == 4:
        big = mf.varint(rng.choice((2**31 - 1, 2**31, 2**63, 2**64 - 1, 10**6)))
        fields.insert(rng.randrange(len(fields) + 1), mf.tag(number, 2) + big)
        label = "list-length-claim"
    elif choice == 5 and rng.random() < 0.5:
        at = rng.randrange(len(fields) + 1)
        fields.insert(at, mf.padded_varint(number << 3 | 2, rng.choice((5, 6))) + b"\x00")
        label = "list-padded-tag"
    elif choice == 5:
        record = rng.choice(_GOOD[name])
        fields.insert(
            rng.randrange(len(fields) + 1),
            mf.tag(number, 2) + mf.padded_varint(len(record), rng.randrange(2, 12)) + record,
        )
        label = "list-padded-length"
    elif choice == 6:
        fields.insert(rng.randrange(len(fields) + 1), mf.tag(3, 0) + mf.padded_varint(5, 10, rng.randrange(128)))
        label = "list-10-byte-varint"
    elif choice == 7:
        fields.insert(rng.randrange(len(fields) + 1), rng.choice((b"\x00", b"\x0e", b"\x0c", b"\x80\x80\x80\x80\x10")))
        label = "list-bad-tag"
    elif choice == 8:
        fields.insert(rng.randrange(len(fields) + 1), mf.ld(number, b""))
        label = "list-zero-length-record"
    data = b"".join(fields)
    if choice == 9 or rng.random() < 0.3:
        damaged, how = mf.byte_mutation(rng, data, kind.list_class.DESCRIPTOR, [])
        return damaged, f"{label}+{how}"
    return data, label


def _delimited_stream_damage(rng, name: str) -> tuple[bytes, str]:
    """A delimited stream damaged in its length prefixes."""
    good = [rng.choice(_GOOD[name] + _seed_pool_small(name)) for _ in range(rng.randrange(1, 4))]
    prefixes = [mf.varint(len(g)) for g in good]
    k = rng.randrange(len(good))
    choice = rng.randrange(7)
    if choice == 0:
        prefixes[k] = mf.padded_varint(len(good[k]), rng.choice((2, 10, 11)), None)
        label = "delimited-padded-prefix"
    elif choice == 1:
        prefixes[k] = mf.padded_varint(len(good[k]), 10, rng.randrange(2, 128))
        label = "delimited-prefix-high-bits"
    elif choice == 2:
        prefixes[k] = mf.varint(rng.choice((2**31, 2**63, 2**64 - 1, len(good[k]) + 1)))
        label = "delimited-length-claim"
    elif choice == 3:
        prefixes[k], good[k] = b"\x00", b""
        label = "delimited-zero-length"
    else:
        label = "delimited"
    data = b"".join(p + g for p, g in zip(prefixes, good))
    if choice >= 4:
        cut_points = [sum(len(p) + len(g) for p, g in zip(prefixes[:i], good[:i])) + 1 for i in range(len(good))]
        if choice == 4 and len(prefixes[k]) > 1:  # inside a multi-byte prefix
            return data[: cut_points[k]], "delimited-truncated-in-prefix"
        damaged, how = mf.byte_mutation(rng, data, None, [])
        return damaged, f"{label}+{how}"
    return data, label


_SMALL_CACHE: dict[str, list[bytes]] = {}


def _seed_pool_small(name: str) -> list[bytes]:
    if name not in _SMALL_CACHE:
        _SMALL_CACHE[name] = _seed_pool(name)[:20]
    return _SMALL_CACHE[name]


def _depth_inputs() -> list[tuple[type, Any, str | None, str]]:
    """Messages nested right around the depth limit (100 levels pass, 101 fail), alone and one level deeper."""
    out = []
    for levels in range(96, 104):
        chain = literal_chain(levels)
        out.append((Literal, chain, "message", f"literal-chain-{levels}"))
        out.append((Literal, [chain], None, f"literal-chain-{levels}"))
        out.append((Literal, mf.varint(len(chain)) + chain, "delimited", f"literal-chain-{levels}"))
        closure = _in_closure_outputs(literal_chain(levels - 4))
        out.append((ExecutionClosure, closure, "message", f"closure-chain-{levels}"))
        record = mf.ld(3, _in_closure_outputs(literal_chain(levels - 5)))  # Execution.closure: one more level
        out.append((Execution, record, "message", f"execution-chain-{levels}"))
        out.append((Execution, mf.ld(1, b"") + mf.ld(1, record) + mf.ld(2, b"t"), "list", f"execution-chain-{levels}"))
        out.append((Execution, mf.varint(len(record)) + record, "delimited", f"execution-chain-{levels}"))
        groups = mf.nested_groups(levels, 9)
        out.append((Execution, groups, "message", f"groups-{levels}"))
        out.append((Execution, mf.ld(1, b"") + mf.ld(1, groups), "list", f"groups-in-record-{levels}"))
        out.append((Execution, mf.ld(1, b"") + groups, "list", f"groups-in-list-{levels}"))
    return out


def _closure_desc(name: str):
    return KINDS[name].closure._pb_class.DESCRIPTOR


@pytest.fixture(scope="module")
def malformed_tally():
    return Tally()


def test_malformed_inputs(malformed_tally):
    """At least 10 000 damaged inputs, each through the framings that fit it: the backends agree with each
    other and with upb on every one."""
    rng = random.Random(SEED)
    tally, compare = malformed_tally, Compare()
    started = time.perf_counter()
    names = sorted(KINDS)
    pools = {name: _seed_pool(name) for name in names}
    closures = {
        name: [r.closure.SerializeToString(deterministic=True) for r in KINDS[name].records(40, SEED + 4)]
        for name in names
    }
    for i in range(6_000):  # records, through all four framings
        name = names[i % 3]
        desc = KINDS[name].model._pb_class.DESCRIPTOR
        others = [p for other in names if other != name for p in pools[other][:5]]
        data, label = _mutated(rng, rng.choice(pools[name]), desc, others)
        tally.inputs += 1
        tally.labels[label] += 1
        _framings(rng, name, data, tally, compare, f"#{i} {label}")
    hand = _hand_seeds()
    focused = (mf.m_packed, mf.m_varint_encoding, mf.m_oneof, mf.m_groups, mf.m_invalid_utf8, mf.m_split)
    for i in range(600):  # the hand-made records (notification phases, maps, literals) under focused damage
        name = "execution" if i % 2 else names[i % 3]
        desc = KINDS[name].model._pb_class.DESCRIPTOR
        tree = mf.parse(desc, hand[name][0])
        label = focused[i % len(focused)](rng, tree, desc) or "unchanged"
        tally.inputs += 1
        tally.labels[label] += 1
        _framings(rng, name, mf.serialize(tree), tally, compare, f"hand #{i} {label}")
    for i in range(1_500):  # closures (a column of them), alone, in a sequence, delimited
        name = names[i % 3]
        model = KINDS[name].closure
        data, label = _mutated(rng, rng.choice(closures[name]), _closure_desc(name), pools[name][:3])
        tally.inputs += 1
        tally.labels["closure:" + label] += 1
        check_input(model, data, "message", tally, compare, f"closure #{i} {label}")
        check_input(model, [closures[name][0], data], None, tally, compare, f"closure #{i} {label}")
        check_input(model, mf.varint(len(data)) + data, "delimited", tally, compare, f"closure #{i} {label}")
    for i in range(1_500):  # *List responses damaged in their own framing
        name = names[i % 3]
        data, label = _list_stream_damage(rng, name)
        tally.inputs += 1
        tally.labels[label.split("+")[0]] += 1
        check_input(KINDS[name].model, data, "list", tally, compare, f"list #{i} {label}")
    for i in range(1_000):  # delimited streams damaged in their length prefixes
        name = names[i % 3]
        data, label = _delimited_stream_damage(rng, name)
        tally.inputs += 1
        tally.labels[label.split("+")[0]] += 1
        check_input(KINDS[name].model, data, "delimited", tally, compare, f"delimited #{i} {label}")
    for model, data, framing, label in _depth_inputs():
        tally.inputs += 1
        tally.labels[label.rsplit("-", 1)[0]] += 1
        check_input(model, data, framing, tally, compare, label)
    for model in (Execution, ExecutionClosure, Literal):  # empty input
        for framing, data in (("message", b""), ("delimited", b""), (None, []), (None, [b""])):
            tally.inputs += 1
            check_input(model, data, framing, tally, compare, "empty")
    for name in names:
        tally.inputs += 1
        check_input(KINDS[name].model, b"", "list", tally, compare, "empty")
    print(f"\nmalformed: {tally}; {compare.records} accepted records compared in {time.perf_counter() - started:.1f}s")
    assert tally.inputs >= MIN_MALFORMED, tally
    assert tally.rejected["python"] > tally.inputs // 3 and tally.rejected["native"] > tally.inputs // 3, tally


# -- 4. the protobuf rules, directly ---------------------------------------------------------------------------


def _both(model, data, framing="message"):
    """The batch from each backend (failing the test on a DecodeError)."""
    out = {}
    for name in BACKENDS:
        with flytecodec.using_backend(name):
            out[name] = decode(model, data, framing=framing)
    return out


def _errors(model, data, framing="message") -> dict:
    out = {}
    for name in BACKENDS:
        with flytecodec.using_backend(name), pytest.raises(DecodeError) as info:
            decode(model, data, framing=framing)
        out[name] = (info.value.index, info.value.offset, info.value.model, info.value.reason)
    assert out["python"] == out["native"], out
    return out


def _identical(model, data, framing="message") -> dict:
    tally, compare = Tally(), Compare()
    check_input(model, data, framing, tally, compare, "direct")
    assert sum(tally.rejected.values()) == 0
    return _both(model, data, framing)


PHASE = 4  # ExecutionClosure.phase
NOTIFICATION = execution_pb2.ExecutionClosure.DESCRIPTOR.fields_by_name["notifications"].number


@pytest.mark.parametrize(
    "phases",
    [
        mf.tag(1, 0) + b"\x01" + mf.tag(1, 0) + b"\x04",  # not packed
        mf.ld(1, b"\x01\x04"),  # packed
        mf.ld(1, b"\x01") + mf.tag(1, 0) + b"\x04",  # both
        mf.ld(1, b"") + mf.ld(1, b"\x01\x04"),  # an empty packed run too
        mf.ld(1, b"\x81\x00\x04"),  # an overlong element (1 in two bytes)
    ],
)
def test_repeated_scalars_packed_and_not(phases):
    data = mf.ld(NOTIFICATION, phases + mf.ld(2, b""))
    for batch in _identical(ExecutionClosure, data).values():
        assert list(batch[0].notifications[0].phases) == [1, 4]


def test_malformed_packed_run_is_refused_by_both():
    _errors(ExecutionClosure, mf.ld(NOTIFICATION, mf.ld(1, b"\x01\x80")))
    _errors(ExecutionClosure, mf.ld(NOTIFICATION, mf.ld(1, b"\xff" * 10 + b"\x01")))


@pytest.mark.parametrize("levels", [99, 100, 101])
def test_depth_limit(levels):
    """Literal.collection -> LiteralCollection.literals -> Literal …: 100 levels pass, 101 fail; inside an
    ExecutionList the record is one level deeper, so a record of 100 levels fails there (reported as that record,
    at its tag) but passes alone."""
    chain = literal_chain(levels)
    if levels <= 100:
        assert [len(b) for b in _identical(Literal, chain).values()] == [1, 1]
    else:
        assert _errors(Literal, chain)["native"][:3] == (0, 0, "flyteidl.core.Literal")
    record = mf.ld(3, _in_closure_outputs(literal_chain(levels - 5)))  # Execution: 5 levels above the chain
    listed = mf.ld(1, b"") + mf.ld(1, record)
    if levels <= 99:
        assert [len(b) for b in _identical(Execution, listed, "list").values()] == [2, 2]
    else:
        assert _errors(Execution, listed, "list")["native"][:2] == (1, 2)
    if levels <= 100:
        assert [len(b) for b in _identical(Execution, record).values()] == [1, 1]
    else:
        _errors(Execution, record)


def test_split_sub_message_merges():
    started = mf.ld(5, mf.tag(1, 0) + mf.varint(1_700_000_000))
    nanos = mf.ld(5, mf.tag(2, 0) + mf.varint(5_000))
    data = mf.ld(3, mf.tag(PHASE, 0) + b"\x04" + started) + mf.ld(3, nanos)
    for batch in _identical(Execution, data).values():
        closure = batch[0].closure
        assert closure.phase == 4
        assert closure.started_at == datetime.datetime(2023, 11, 14, 22, 13, 20, 5, tzinfo=datetime.timezone.utc)


def test_last_scalar_wins():
    data = mf.tag(PHASE, 0) + b"\x02" + mf.tag(PHASE, 0) + b"\x04" + mf.tag(PHASE, 0) + mf.padded_varint(3, 10)
    for batch in _identical(ExecutionClosure, data).values():
        assert batch[0].phase == 3


@pytest.mark.parametrize(
    ("data", "expect"),
    [
        (mf.ld(1, mf.ld(2, b"s3://o")) + mf.ld(2, mf.ld(1, b"E")), "error"),  # outputs, then error
        (mf.ld(2, mf.ld(1, b"E")) + mf.ld(1, mf.ld(2, b"s3://o")), "outputs"),  # error, then outputs
        (mf.ld(2, mf.ld(1, b"E")) + mf.ld(10, b"cause"), "abort_cause"),
        (mf.ld(10, b"cause") + mf.ld(2, mf.ld(1, b"E")) + mf.tag(1, 0) + b"\x01", "error"),  # wrong wire: unknown
        (mf.ld(1, mf.ld(2, b"a")) + mf.ld(2, b"") + mf.ld(1, mf.ld(2, b"b")), "outputs"),  # no merge across
    ],
)
def test_oneof_last_member_wins(data, expect):
    for batch in _identical(ExecutionClosure, data).values():
        closure = batch[0]
        set_members = [m for m in ("outputs", "error", "abort_cause", "abort_metadata") if getattr(closure, m)]
        assert set_members == [expect]
        if expect == "outputs":
            assert closure.outputs.uri == "s3://o" or closure.outputs.uri == "b"


@pytest.mark.parametrize(
    "extra",
    [
        mf.tag(1000, 0) + b"\x96\x01",
        mf.tag(1000, 1) + b"12345678",
        mf.ld(1000, b"\xff\xfe"),
        mf.tag(1000, 5) + b"1234",
        mf.tag(1000, 3) + mf.tag(1, 0) + b"\x01" + mf.tag(1000, 4),
        mf.tag(PHASE, 2) + b"\x01\x02",  # a known field with the wrong wire type
    ],
)
def test_unknown_fields_are_kept(extra):
    data = mf.tag(PHASE, 0) + b"\x04" + extra
    record = mf.ld(3, data) + extra
    for model, raw in ((ExecutionClosure, data), (Execution, record)):
        for batch in _identical(model, raw).values():
            assert batch[0].serialize_to_string() == raw
            assert batch[0].to_flyte_idl() == model._pb_class.FromString(raw)


@pytest.mark.parametrize("cut", range(1, 12))
def test_truncation(cut):
    data = mf.ld(1, mf.ld(4, b"name") + mf.ld(1, b"proj"))
    if cut < len(data):
        _errors(Execution, data[:cut])
        _errors(Execution, mf.ld(1, b"") + mf.tag(1, 2) + mf.varint(len(data)) + data[:cut], "list")


@pytest.mark.parametrize(
    "bad", [b"\x0e", b"\x0f", b"\x0c", mf.tag(1, 3) + mf.tag(2, 4), mf.tag(1, 3), b"\x00", b"\x80\x80\x80\x80\x10\x00"]
)
def test_bad_wire_types_and_tags(bad):
    _errors(Execution, mf.ld(1, b"") + bad)
    _errors(Execution, mf.ld(1, bad))


@pytest.mark.parametrize("bad", mf.BAD_UTF8)
def test_invalid_utf8_is_refused_by_both(bad):
    name = mf.ld(1, mf.ld(4, b"ok" + bad))  # Execution.id.name
    label = mf.ld(2, mf.ld(7, mf.ld(1, mf.ld(1, b"k") + mf.ld(2, bad))))  # spec.labels value
    key = mf.ld(2, mf.ld(8, mf.ld(1, mf.ld(1, bad) + mf.ld(2, b"v"))))  # spec.annotations key
    message = mf.ld(3, mf.ld(2, mf.ld(2, b"boom" + bad)))  # closure.error.message
    for data in (name, label, key, message):
        _errors(Execution, data)
        _errors(Execution, [mf.ld(1, b""), data], None)
        _errors(Execution, mf.ld(1, mf.ld(1, b"")) + mf.ld(1, data), "list")


# -- differences found: each pinned with its minimal input -----------------------------------------------------


def _outcomes(model, data, framing):
    py, nat = decode_both(model, data, framing)
    show = lambda r: (r.index, r.offset, r.model) if isinstance(r, DecodeError) else len(r)  # noqa: E731
    return show(py), show(nat)


@pytest.mark.parametrize(
    "data",
    [
        bytes.fromhex("0a00" + "8080808010" + "00"),  # a tag over 32 bits: python (1, 0), native (1, 2)
        bytes.fromhex("0a00" + "8a8080808000" + "00"),  # a 6-byte tag for field 1: python (2, 0), native (1, 2)
    ],
)
def test_same_list_long_tag(data):
    py, nat = _outcomes(Execution, data, "list")
    assert py == nat


def test_same_duration_overflow_message():
    data = bytes.fromhex("320a08ffffffffffffffff7f")  # ExecutionClosure.duration.seconds = 2**63 - 1
    errors = {}
    for name, batch in _both(ExecutionClosure, data).items():
        with pytest.raises(OverflowError) as info:
            batch[0].duration
        errors[name] = str(info.value)
    # python: "Python int too large to convert to C int"; native: "days=106751991167300; must have ..."
    assert errors["python"] == errors["native"]


@pytest.mark.parametrize("data", [bytes.fromhex("2000"), bytes.fromhex("1a022000")])
def test_same_is_empty(data):
    model = ExecutionClosure if data[0] == 0x20 else Execution
    got = {}
    for name, batch in _both(model, data).items():
        m = batch[0] if model is ExecutionClosure else batch[0].closure
        got[name] = m.is_empty  # python True (ByteSize() == 0), native False (2 bytes)
    assert got["python"] == got["native"]


@pytest.mark.parametrize("data", [bytes.fromhex("1a022000"), bytes.fromhex("1a0420012002")])
def test_same_nested_serialize_to_string(data):
    got = {name: batch[0].closure.serialize_to_string() for name, batch in _both(Execution, data).items()}
    assert got["python"] == got["native"]  # python b"" / b" \x02"; native the original b" \x00" / b" \x01 \x02"


def test_same_nested_serialize_to_string_of_a_map():
    labels = common_pb2.Labels(values={f"k{i}": "v" for i in range(12)})
    data = mf.ld(2, mf.ld(7, labels.SerializeToString(deterministic=True)))  # Execution.spec.labels
    got = {name: batch[0].spec.labels.serialize_to_string() for name, batch in _both(Execution, data).items()}
    assert got["python"] == got["native"]


@pytest.mark.parametrize("data", [bytes.fromhex("0800" + "0a00"), bytes.fromhex("0b0c" + "0a00")])
def test_same_list_records_field_with_another_wire_type(data):
    got = {name: [m.serialize_to_string() for m in batch] for name, batch in _both(Execution, data, "list").items()}
    assert got["python"] == got["native"]  # python [b"\x00"] / [b"\x0c"], native [b""]


def test_same_list_10_byte_varint_before_a_bad_record():
    data = bytes.fromhex("18" + "ff" * 9 + "7f" + "0a05" + "0a032201ff")  # unknown field 3, then a bad record
    py, nat = _outcomes(Execution, data, "list")
    assert py == nat  # python (0, 0) "varint overflows 64 bits"; native (0, 11)


def test_same_list_10_byte_varint_then_serialize_to_string():
    data = bytes.fromhex("18" + "ff" * 9 + "7f" + "0a00")
    got = {}
    for name, batch in _both(Execution, data, "list").items():
        got[name] = _serialized(batch[0])[0]  # python raises ValueError('varint overflows 64 bits', 0)
    assert got["python"] == got["native"] == b""


def test_same_delimited_10_byte_prefix():
    data = bytes.fromhex("80" * 9 + "02")  # length 2**64 mod 2**64 = 0 as protobuf reads it
    py, nat = _outcomes(Execution, data, "delimited")
    assert py == nat  # python DecodeError (0, 0); native one empty record


@pytest.mark.parametrize(
    ("data", "framing"),
    [
        (bytes.fromhex("0a808080808000"), "message"),  # Execution.id, length 0 in 6 bytes: python (0, 0), native ok
        (bytes.fromhex("0a808080808000"), None),  # the same, as a one-item sequence
        (bytes.fromhex("0a8280808080000a00"), "list"),  # a record of 2 bytes, its length in 6: python (1, 0)
    ],
)
def test_same_long_length_prefix(data, framing):
    py, nat = _outcomes(Execution, [data] if framing is None else data, framing)
    assert py == nat
