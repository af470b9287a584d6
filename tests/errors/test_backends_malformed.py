"""The ``native`` (Rust) and ``python`` (upb) backends treat malformed input identically: more than 10 000
inputs built deterministically from valid records (``support/malformed.py``, ``support/differential.py``), each
through every framing that fits it. Either both refuse it with the same ``DecodeError`` (and upb refuses it too),
or both accept it (and so does upb) and every record compares equal property by property.
"""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from flytecodec.models.execution import Execution, ExecutionClosure
from flytecodec.models.literals import Literal
from support import malformed as mf
from support.differential import (
    KINDS,
    SEED,
    Compare,
    Tally,
    check_input,
    hand_seeds,
    in_closure_outputs,
    literal_chain,
    mutated,
    needs_native,
    seed_pool,
)

pytestmark = needs_native


# -- malformed inputs ---------------------------------------------------------------------------------------

MIN_MALFORMED = 10_000


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
        _SMALL_CACHE[name] = seed_pool(name)[:20]
    return _SMALL_CACHE[name]


def _depth_inputs() -> list[tuple[type, Any, str | None, str]]:
    """Messages nested right around the depth limit (100 levels pass, 101 fail), alone and one level deeper."""
    out = []
    for levels in range(96, 104):
        chain = literal_chain(levels)
        out.append((Literal, chain, "message", f"literal-chain-{levels}"))
        out.append((Literal, [chain], None, f"literal-chain-{levels}"))
        out.append((Literal, mf.varint(len(chain)) + chain, "delimited", f"literal-chain-{levels}"))
        closure = in_closure_outputs(literal_chain(levels - 4))
        out.append((ExecutionClosure, closure, "message", f"closure-chain-{levels}"))
        record = mf.ld(3, in_closure_outputs(literal_chain(levels - 5)))  # Execution.closure: one more level
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
    pools = {name: seed_pool(name) for name in names}
    closures = {
        name: [r.closure.SerializeToString(deterministic=True) for r in KINDS[name].records(40, SEED + 4)]
        for name in names
    }
    for i in range(6_000):  # records, through all four framings
        name = names[i % 3]
        desc = KINDS[name].model._pb_class.DESCRIPTOR
        others = [p for other in names if other != name for p in pools[other][:5]]
        data, label = mutated(rng, rng.choice(pools[name]), desc, others)
        tally.inputs += 1
        tally.labels[label] += 1
        _framings(rng, name, data, tally, compare, f"#{i} {label}")
    hand = hand_seeds()
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
        data, label = mutated(rng, rng.choice(closures[name]), _closure_desc(name), pools[name][:3])
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
