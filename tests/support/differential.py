"""The differential tests' machinery: decoding with both backends and with upb, and comparing the models.

Every input is decoded by both backends. Either both raise :class:`flytecodec.DecodeError` with the same
``index``, ``offset`` and ``model`` — and upb (the pb2 classes' ``FromString``) rejects the input too — or both
accept it, upb accepts it, and every record compares equal property by property, recursively (:class:`Compare`):
the same values of the same types (naive and aware datetimes apart, floats to the sign of zero and NaN), the same
exception where reading a property raises, and the same ``to_flyte_idl()``, ``serialize_to_string()``, ``==``,
``hash`` and ``is_empty`` (:func:`check_input`).

Also the valid records the malformed-input tests damage (:func:`seed_pool`, :func:`hand_seeds`) and the damage
itself (:func:`mutated`, with the mutators of ``support/malformed.py``).
"""

from __future__ import annotations

import collections
import datetime
import math
import random
from typing import Callable, NamedTuple

import pytest
from flyteidl.admin import execution_pb2, node_execution_pb2, task_execution_pb2
from google.protobuf.message import DecodeError as PbDecodeError
from google.protobuf.message import Message

import flytecodec
from flytecodec import DecodeError, decode
from flytecodec.models._entity import FlyteIdlEntity
from flytecodec.models.admin.task_execution import TaskExecution, TaskExecutionClosure
from flytecodec.models.execution import Execution, ExecutionClosure
from flytecodec.models.node_execution import NodeExecution, NodeExecutionClosure
from flytecodec.remote.executions import FlyteNodeExecution, FlyteTaskExecution, FlyteWorkflowExecution
from flytecodec.testing import corpus
from support import malformed as mf
from support.oracle import properties

BACKENDS = ("python", "native")
needs_native = pytest.mark.skipif(
    "native" not in flytecodec.available_backends(), reason="the native backend is not built here"
)
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


def serialized(model):
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
                sm, em = serialized(m)
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


# -- valid records to damage, and the damage ---------------------------------------------------------------


def literal_chain(levels: int) -> bytes:
    """A Literal with ``levels`` messages nested below it: Literal.collection -> LiteralCollection.literals ->
    Literal -> …"""
    data = b""
    for j in reversed(range(levels)):
        data = mf.ld(2 if j % 2 == 0 else 1, data)
    return data


def in_closure_outputs(literal: bytes) -> bytes:
    """An ExecutionClosure whose outputs hold ``literal`` (4 levels below the closure)."""
    entry = mf.ld(1, b"o") + mf.ld(2, literal)  # LiteralMap.literals map entry
    return mf.ld(1, mf.ld(1, mf.ld(1, entry))) + mf.tag(4, 0) + b"\x04"  # outputs.values.literals, phase


def hand_seeds() -> dict[str, list[bytes]]:
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


def seed_pool(name: str) -> list[bytes]:
    """Valid records to damage: small realistic ones and the hand-made ones."""
    kind = KINDS[name]
    records = [r.SerializeToString(deterministic=True) for r in kind.records(400, SEED + 3)]
    small = sorted(records, key=len)[:60] + records[:10]
    return small + hand_seeds()[name]


def accepted_mutants(name: str, pb_class: type, n: int, tries: int, seed: str) -> list[bytes]:
    """Up to ``n`` damaged copies of the valid records of kind ``name`` (split messages, oneof rivals, wrong wire
    types, unknown fields, odd varints, packed runs, ...) that upb still parses as ``pb_class``, from ``tries``
    mutations drawn with ``seed``."""
    rng = random.Random(seed)
    desc = pb_class.DESCRIPTOR
    pool = seed_pool(name)
    found: list[bytes] = []
    for _ in range(tries):
        data, _label = mutated(rng, rng.choice(pool), desc, [])
        try:
            pb_class.FromString(data)
        except Exception:
            continue
        found.append(data)
        if len(found) == n:
            break
    return found


# mutations after which the record is still a tree to damage again
_STILL_PARSEABLE = {"split-message", "repeated-singular", "oneof-rivals", "unknown-fields", "reordered", "odd-utf8"}


def mutated(rng: random.Random, data: bytes, desc, other: list[bytes]) -> tuple[bytes, str]:
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
