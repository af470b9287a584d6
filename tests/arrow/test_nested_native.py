"""The nested layout built in Rust: ``RecordList.arrow_nested(plan)``.

Its schema must be exactly ``flytecodec.layout.schema()`` (metadata included), and its values those upb reads
from the same bytes: every column of the realistic corpus is compared with the parsed messages, walking the
plan; hand-made records check the reading rules of ``docs/nested.md`` (unknown fields and wrong wire types in
``_rest``, merged sub-messages, oneof switches, packed and unpacked runs, map entries, time fallbacks, cut
bytes as they were in the record).
"""

from __future__ import annotations

import math
import random
import struct

import pyarrow as pa
import pytest
from flyteidl.admin import common_pb2
from flyteidl.core import literals_pb2
from google.protobuf import message_factory, timestamp_pb2
from google.protobuf.message import DecodeError
from google.protobuf.unknown_fields import UnknownFieldSet
from hypothesis import given
from hypothesis import strategies as st

import flytecodec
from flytecodec import layout
from flytecodec.kinds import KINDS
from flytecodec.models.execution import Execution
from flytecodec.testing import corpus, strategies
from support.arrow_rows import exact_rows
from support.differential import mutated, seed_pool
from support.examples import SETTINGS
from support.malformed import ld, read_varint, tag, varint

pytestmark = pytest.mark.skipif("native" not in flytecodec.available_backends(), reason="no native backend")

TOP = {
    "execution": corpus.executions,
    "node-execution": corpus.node_executions,
    "task-execution": corpus.task_executions,
}
PARTS = {  # a part of a record, as flyteadmin keeps it in a bytes column
    "execution-spec": ("execution", lambda r: r.spec),
    "execution-closure": ("execution", lambda r: r.closure),
    "node-execution-closure": ("node-execution", lambda r: r.closure),
    "task-execution-closure": ("task-execution", lambda r: r.closure),
}


def _messages(kind: str, n: int = 300) -> list:
    if kind in TOP:
        return TOP[kind](n, seed=11)
    top, part = PARTS[kind]
    return [part(r) for r in TOP[top](n, seed=11)]


def _descriptor(kind: str):
    return KINDS[kind].load()._pb_class.DESCRIPTOR


def _nested(descriptor, records: list[bytes], threads: int | None = None) -> pa.Table:
    from flytecodec import _native

    decoded, _ = _native.decode_records(descriptor.full_name, records, "sequence")
    parts = decoded.arrow_nested(layout.plan(descriptor), threads)
    return pa.Table.from_batches([pa.record_batch(part) for part in parts])


def _same(got, want, where: str) -> None:
    if isinstance(want, float) and math.isnan(want):
        assert isinstance(got, float) and math.isnan(got), where
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


def _value(plan, slot, value, got, where: str, *, cuts: bool) -> None:
    kind = slot.kind
    if kind == "message":
        _check(plan, slot.child, value, got, where, cuts=cuts)
    elif kind in ("timestamp", "duration"):
        _same(got, value.seconds * 10**9 + value.nanos, where)
    elif kind.startswith("wrapper:"):
        _same(got, value.value, where)
    elif kind == "cut":
        if cuts:
            _same(got, value.SerializeToString(deterministic=True), where)
    elif kind == "float":
        _same(got, struct.unpack("<f", struct.pack("<f", value))[0], where)
    else:
        _same(got, value, where)


def _check(plan, node: int, message, got: dict, where: str, *, cuts: bool = True) -> None:
    """Every column of ``got`` (a row of node ``node``) against the parsed ``message``; ``_rest`` empty."""
    assert got is not None, where
    for slot in plan[node].slots:
        value, here = got[slot.name], f"{where}.{slot.name}"
        if slot.shape == "repeated":
            items = list(getattr(message, slot.name))
            assert len(value) == len(items), here
            for i, (g, w) in enumerate(zip(value, items)):
                _value(plan, slot, w, g, f"{here}[{i}]", cuts=cuts)
        elif slot.shape == "map":
            entries = getattr(message, slot.name)
            keys = sorted(entries, key=lambda k: k.encode() if isinstance(k, str) else k)
            assert [k for k, _ in value] == keys, here
            for (k, g), w in zip(value, (entries[k] for k in keys)):
                _value(plan, slot, w, g, f"{here}[{k!r}]", cuts=cuts)
        elif slot.shape == "optional" and not message.HasField(slot.name):
            assert value is None, here
        else:
            _value(plan, slot, getattr(message, slot.name), value, here, cuts=cuts)
    assert got[layout.REST] is None, f"{where}._rest"


@pytest.mark.parametrize("kind", list(KINDS))
def test_schema_and_every_value_of_the_corpus(kind):
    descriptor = _descriptor(kind)
    messages = _messages(kind)
    records = [m.SerializeToString(deterministic=True) for m in messages]
    table = _nested(descriptor, records, threads=2)
    assert table.schema.equals(layout.schema(descriptor), check_metadata=True)
    assert table.schema.metadata == {
        b"flytecodec.layout": b"nested",
        b"protobuf.message": descriptor.full_name.encode(),
    }
    table.validate(full=True)
    assert table.num_rows == len(records)
    plan = layout.plan(descriptor)
    for i, (row, message) in enumerate(zip(exact_rows(table), messages)):
        _check(plan, 0, message, row, f"record {i}")


def test_one_batch_per_thread_in_order():
    descriptor = _descriptor("execution")
    messages = corpus.executions(5000, seed=3)
    records = [m.SerializeToString() for m in messages]
    from flytecodec import _native

    decoded, _ = _native.decode_records(descriptor.full_name, records, "sequence")
    parts = decoded.arrow_nested(layout.plan(descriptor), 2)
    assert [len(p) for p in parts] == [2500, 2500]
    one = pa.Table.from_batches([pa.record_batch(p) for p in decoded.arrow_nested(layout.plan(descriptor), 1)])
    two = pa.Table.from_batches([pa.record_batch(p) for p in parts])
    assert one.equals(two)
    names = two.column("id").combine_chunks().field("name").to_pylist()
    assert names == [m.id.name for m in messages]


def test_chosen_fields_of_executions():
    descriptor = _descriptor("execution")
    messages = corpus.executions(400, seed=5)
    table = _nested(descriptor, [m.SerializeToString() for m in messages])
    rows = table.to_pylist()
    closure = table.column("closure").combine_chunks()
    started = closure.field("started_at").cast(pa.int64()).to_pylist()
    for message, row, ns in zip(messages, rows, started):
        assert row["closure"]["phase"] == message.closure.phase
        if message.closure.HasField("started_at"):
            assert ns == message.closure.started_at.ToNanoseconds()
        else:
            assert ns is None
        if message.spec.HasField("labels"):
            labels = message.spec.labels.values
            assert row["spec"]["labels"]["values"] == sorted(labels.items(), key=lambda kv: kv[0].encode())
        else:
            assert row["spec"]["labels"] is None
        # a oneof: the member set, the others null
        set_member = message.closure.WhichOneof("output_result")
        for member in ("outputs", "error", "abort_cause", "abort_metadata", "output_data"):
            assert (row["closure"][member] is not None) == (member == set_member), member
    assert any(m.closure.HasField("started_at") for m in messages)
    assert any(m.spec.labels.values for m in messages)
    # the enum's names are in the field's metadata
    phase = table.schema.field("closure").type.field("phase")
    assert phase.metadata[b"protobuf.enum"] == b"flyteidl.core.WorkflowExecution.Phase"


def test_null_structs_hold_defaults():
    descriptor = _descriptor("execution")
    messages = corpus.executions(300, seed=5)
    table = _nested(descriptor, [m.SerializeToString() for m in messages])
    closure = table.column("closure").combine_chunks()
    error = closure.field("error")
    code = error.field("code").to_pylist()
    kind = error.field("kind").to_pylist()
    assert error.null_count > 0
    for i, (message, c, k) in enumerate(zip(messages, code, kind)):
        if not message.closure.HasField("error"):
            assert (c, k) == ("", 0), i
        else:
            assert (c, k) == (message.closure.error.code, message.closure.error.kind), i


def _literal_collection_record():
    """An execution whose spec's inputs hold a Literal collection of Literals (cut below the collection)."""
    inner = [
        literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=i))) for i in (7, 8)
    ]
    collection = literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=inner))
    message = corpus.executions(1, seed=2)[0]
    message.spec.inputs.literals["xs"].CopyFrom(collection)
    return message, inner


def test_cut_bytes_are_the_bytes_of_the_record():
    descriptor = _descriptor("execution")
    message, inner = _literal_collection_record()
    record = message.SerializeToString()
    table = _nested(descriptor, [record])
    (row,) = table.to_pylist()
    literals = dict(row["spec"]["inputs"]["literals"])
    cut = literals["xs"]["collection"]["literals"]
    assert cut == [lit.SerializeToString() for lit in inner]
    assert all(c in record for c in cut)
    assert [literals_pb2.Literal.FromString(c) for c in cut] == inner


def _closure_plan():
    descriptor = _descriptor("execution-closure")
    return descriptor, layout.plan(descriptor)


def _one(descriptor, record: bytes) -> dict:
    (row,) = exact_rows(_nested(descriptor, [record]))
    return row


def test_unknown_fields_and_wrong_wire_types_go_to_rest_in_order():
    descriptor = _descriptor("execution")
    record = corpus.executions(1, seed=4)[0].SerializeToString()
    unknown = tag(999, 0) + varint(5)
    wrong = tag(1, 0) + varint(3)  # id is a message: as a varint it is unknown
    closure_unknown = ld(77, b"xyz")
    damaged = record[:0] + unknown + record + wrong + ld(3, closure_unknown)
    row = _one(descriptor, damaged)
    assert row["_rest"] == unknown + wrong
    assert row["closure"]["_rest"] == closure_unknown
    assert row["id"]["_rest"] is None
    # the rest of the record reads as before
    plain = _one(descriptor, record)
    assert row["id"] == plain["id"] and row["spec"] == plain["spec"]
    closure = dict(row["closure"], _rest=None)
    assert closure == plain["closure"]


def test_merged_messages_and_last_scalars():
    descriptor, _ = _closure_plan()
    # ExecutionClosure: error (2) = ExecutionError {code 1, message 2}; phase (4) a varint; started_at (5)
    record = tag(4, 0) + varint(2) + ld(2, ld(1, b"E1")) + tag(4, 0) + varint(4) + ld(2, ld(2, b"msg") + ld(1, b"E2"))
    row = _one(descriptor, record)
    assert row["phase"] == 4
    assert (row["error"]["code"], row["error"]["message"]) == ("E2", "msg")


def test_oneof_is_the_member_that_came_last():
    descriptor, _ = _closure_plan()
    error = ld(2, ld(1, b"E"))
    abort = ld(10, b"stop")
    assert _one(descriptor, error + abort)["error"] is None
    assert _one(descriptor, error + abort)["abort_cause"] == "stop"
    row = _one(descriptor, error + abort + ld(2, ld(2, b"m")))
    # only what came of the error after the switch: its code before the abort is gone, and not in _rest
    assert row["abort_cause"] is None
    assert (row["error"]["code"], row["error"]["message"], row["_rest"]) == ("", "m", None)


def test_timestamps_that_do_not_fit_fall_back_to_rest():
    descriptor, _ = _closure_plan()
    good = ld(5, timestamp_pb2.Timestamp(seconds=10, nanos=5).SerializeToString())
    bad_nanos = ld(7, tag(1, 0) + varint(1) + tag(2, 0) + varint(2_000_000_000))
    other_field = ld(8, tag(1, 0) + varint(1) + tag(3, 0) + varint(1))
    huge = ld(7, tag(1, 0) + varint(1 << 40))
    row = _one(descriptor, good + bad_nanos + other_field)
    assert row["started_at"] == 10 * 10**9 + 5
    assert row["created_at"] is None and row["updated_at"] is None
    assert row["_rest"] == bad_nanos + other_field
    row = _one(descriptor, huge)
    assert row["created_at"] is None and row["_rest"] == huge


def test_maps_later_keys_win_sorted_and_foreign_entries_to_rest():
    descriptor = common_pb2.Labels.DESCRIPTOR

    def entry(key: bytes, value: bytes, extra: bytes = b"") -> bytes:
        return ld(1, ld(1, key) + ld(2, value) + extra)

    foreign = entry(b"z", b"9", tag(3, 0) + varint(1))
    record = entry(b"b", b"1") + entry(b"a", b"2") + foreign + entry(b"b", b"3") + ld(1, ld(2, b"v"))
    labels = layout.plan(descriptor)
    assert labels[0].slots[0].shape == "map"
    row = _one(descriptor, record)
    assert row["values"] == [("", "v"), ("a", "2"), ("b", "3")]
    assert row["_rest"] == foreign
    # upb reads the same
    parsed = common_pb2.Labels.FromString(record)
    assert dict(parsed.values) == {"": "v", "a": "2", "b": "3"}


def test_packed_and_unpacked_repeated_scalars_mix():
    # Notification.phases: repeated enum (field 1)
    from flyteidl.admin import common_pb2 as admin_common

    descriptor = admin_common.Notification.DESCRIPTOR
    slot = layout.plan(descriptor)[0].slots[0]
    assert (slot.name, slot.shape, slot.kind) == ("phases", "repeated", "enum")
    record = tag(1, 0) + varint(3) + ld(1, varint(4) + varint(2**32 + 5)) + tag(1, 0) + varint(6)
    row = _one(descriptor, record)
    assert row["phases"] == list(admin_common.Notification.FromString(record).phases) == [3, 4, 5, 6]


def test_an_empty_batch_has_the_schema():
    descriptor = Execution._pb_class.DESCRIPTOR
    table = _nested(descriptor, [])
    assert table.num_rows == 0
    assert table.schema.equals(layout.schema(descriptor), check_metadata=True)


def test_a_plan_that_is_not_one_is_refused():
    descriptor = Execution._pb_class.DESCRIPTOR
    from flytecodec import _native

    decoded, _ = _native.decode_records(descriptor.full_name, [b""], "sequence")
    plan = layout.plan(descriptor)
    bad = (plan[0]._replace(slots=(plan[0].slots[0]._replace(kind="nope"), *plan[0].slots[1:])), *plan[1:])
    with pytest.raises(ValueError, match="unknown kind"):
        decoded.arrow_nested(bad)


# -- damaged records, against upb ------------------------------------------------------------------------------


def _fits(kind: str, value) -> bool:
    """Whether upb's ``value`` of a Timestamp, Duration or wrapper field is one its Arrow column can hold."""
    if list(UnknownFieldSet(value)):
        return False
    if kind == "timestamp":
        return 0 <= value.nanos < 10**9 and _INT64[0] <= value.seconds * 10**9 + value.nanos <= _INT64[1]
    if kind == "duration":
        seconds, nanos = value.seconds, value.nanos
        same_sign = not (seconds > 0 and nanos < 0) and not (seconds < 0 and nanos > 0)
        return abs(nanos) < 10**9 and same_sign and _INT64[0] <= seconds * 10**9 + nanos <= _INT64[1]
    return True


_INT64 = (-(2**63), 2**63 - 1)
_WELL_KNOWN = ("timestamp", "duration")


def _well_known(kind: str) -> bool:
    return kind in _WELL_KNOWN or kind.startswith("wrapper:")


def _fields(data: bytes) -> list[tuple[int, int, object]]:
    """The top-level fields of ``data``: ``(number, wire type, value)`` (a group's value is None)."""
    out, pos = [], 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = read_varint(data, pos)
        elif wire == 1:
            value, pos = int.from_bytes(data[pos : pos + 8], "little"), pos + 8
        elif wire == 5:
            value, pos = int.from_bytes(data[pos : pos + 4], "little"), pos + 4
        elif wire == 2:
            size, pos = read_varint(data, pos)
            value, pos = data[pos : pos + size], pos + size
        else:  # a group: skip to its end tag
            depth, value = 1, None
            while depth:
                inner, pos = read_varint(data, pos)
                if inner & 7 == 3:
                    depth += 1
                elif inner & 7 == 4:
                    depth -= 1
                elif inner & 7 == 0:
                    pos = read_varint(data, pos)[1]
                elif inner & 7 == 1:
                    pos += 8
                elif inner & 7 == 5:
                    pos += 4
                else:
                    size, pos = read_varint(data, pos)
                    pos += size
        out.append((number, wire, value))
    return out


def _unknown(message) -> list[tuple[int, int, object]]:
    return [(f.field_number, f.wire_type, None if f.wire_type == 3 else f.data) for f in UnknownFieldSet(message)]


def _upb_value(plan, slot, value, got, where: str) -> None:
    kind = slot.kind
    if kind == "message":
        _against_upb(plan, slot.child, value, got, where)
    elif kind == "cut":
        assert type(value).FromString(got) == value, where
    elif _well_known(kind):
        _value(plan, slot, value, got, where, cuts=False)
    else:
        _value(plan, slot, value, got, where, cuts=False)


def _against_upb(plan, node: int, message, got: dict, where: str) -> None:
    """Every column of ``got`` against upb's parse of damaged bytes: values as upb reads them, a well-known value
    its column cannot hold null (or its list empty), ``_rest`` upb's unknown fields in order and those values."""
    assert got is not None, where
    fell_back = set()
    for slot in plan[node].slots:
        value, here = got[slot.name], f"{where}.{slot.name}"
        if slot.shape in ("repeated", "map"):
            entries = getattr(message, slot.name)
            keys = (
                sorted(entries, key=lambda k: k.encode() if isinstance(k, str) else k)
                if slot.shape == "map"
                else range(len(entries))
            )
            items = [entries[k] for k in keys]
            if _well_known(slot.kind) and not all(_fits(slot.kind, v) for v in items):
                fell_back.add(slot.number)
                assert value == [], here
                continue
            if slot.shape == "map":
                assert [k for k, _ in value] == list(keys), here
                value = [v for _, v in value]
            assert len(value) == len(items), here
            for i, (g, w) in enumerate(zip(value, items)):
                _upb_value(plan, slot, w, g, f"{here}[{i}]")
        elif slot.shape == "optional" and not message.HasField(slot.name):
            assert value is None, here
        elif _well_known(slot.kind) and not _fits(slot.kind, getattr(message, slot.name)):
            fell_back.add(slot.number)
            assert value is None, here
        else:
            _upb_value(plan, slot, getattr(message, slot.name), value, here)
    rest = _fields(got[layout.REST] or b"")
    assert got[layout.REST] != b"", f"{where}._rest is empty, not null"
    kept = [f for f in rest if not (f[0] in fell_back and f[1] == 2)]
    maps = {
        field.number: field.message_type.fields_by_number[2]
        for field in message.DESCRIPTOR.fields
        if field.message_type is not None and field.message_type.GetOptions().map_entry
    }
    assert _entries(kept, maps) == _entries(_unknown(message), maps), f"{where}._rest"


def _entries(fields: list, maps: dict) -> list:
    """``fields`` with each map entry (every map of flyteidl has string keys, and values written
    length-delimited) as ``(last key, value, its other fields in order)``, a message value as the merge of its
    occurrences: upb keeps an entry with a foreign field as an unknown field, but written again (key and value
    first, the value's occurrences merged), where ``_rest`` has its bytes as they came."""
    out = []
    for number, wire, value in fields:
        if number in maps and wire == 2:
            inner = _fields(value)
            key = [v for n, w, v in inner if (n, w) == (1, 2)][-1:]
            items = [v for n, w, v in inner if (n, w) == (2, 2)]
            value_field = maps[number]
            if value_field.message_type is not None and items:
                items = [message_factory.GetMessageClass(value_field.message_type).FromString(b"".join(items))]
            others = [f for f in inner if f[:2] not in ((1, 2), (2, 2))]
            value = (key, items[-1:], others)
        out.append((number, wire, value))
    return out


@pytest.mark.parametrize("kind", list(TOP))
def test_damaged_records_read_as_upb_reads_them(kind):
    from flytecodec import _native

    descriptor = _descriptor(kind)
    message_class = KINDS[kind].load()._pb_class
    pool = seed_pool(kind.replace("-", "_"))
    rng = random.Random(f"nested-{kind}")
    records, messages = [], []
    for _ in range(1500):
        data, _label = mutated(rng, rng.choice(pool), descriptor, pool)
        try:
            message = message_class.FromString(data)
            _native.decode_records(descriptor.full_name, [data], "sequence")
        except (DecodeError, flytecodec.DecodeError):
            continue
        records.append(data)
        messages.append(message)
    assert len(records) > 600
    table = _nested(descriptor, records)
    table.validate(full=True)
    plan = layout.plan(descriptor)
    for i, (row, message) in enumerate(zip(exact_rows(table), messages)):
        _against_upb(plan, 0, message, row, f"record {i}")


def test_the_plan_is_read_again_as_a_list_and_kept_as_a_tuple():
    from flytecodec import _native

    descriptor = _descriptor("node-execution")
    messages = _messages("node-execution", 50)
    decoded, _ = _native.decode_records(descriptor.full_name, [m.SerializeToString() for m in messages], "sequence")
    plan = layout.plan(descriptor)

    def table(p):
        return pa.Table.from_batches([pa.record_batch(b) for b in decoded.arrow_nested(p)])

    first = table(plan)
    assert table(plan).equals(first)  # the converted plan, kept
    assert table([tuple(node) for node in plan]).equals(first)  # a list: converted each time


GENERATED = {
    "execution": strategies.executions,
    "node-execution": strategies.node_executions,
    "task-execution": strategies.task_executions,
}


@pytest.mark.parametrize("kind", list(GENERATED))
def test_generated_messages_read_as_upb_reads_them(kind):
    descriptor = _descriptor(kind)
    message_class = KINDS[kind].load()._pb_class
    plan = layout.plan(descriptor)

    @SETTINGS
    @given(
        st.lists(
            st.one_of(
                GENERATED[kind]().map(lambda m: m.SerializeToString(deterministic=True)),
                strategies.unknown_fields(GENERATED[kind]()),
            ),
            min_size=1,
            max_size=3,
        )
    )
    def check(records):
        table = _nested(descriptor, records)
        assert table.schema.equals(layout.schema(descriptor), check_metadata=True)
        for i, (row, record) in enumerate(zip(exact_rows(table), records)):
            _against_upb(plan, 0, message_class.FromString(record), row, f"record {i}")

    check()


def test_records_of_a_list_page_read_as_the_same_records_alone():
    from flytecodec import _native

    descriptor = _descriptor("execution")
    page = corpus.execution_list(40, seed=9, token="next")
    decoded, token = _native.decode_records(descriptor.full_name, page.SerializeToString(), "list", 1, 2)
    assert token == "next"
    parts = decoded.arrow_nested(layout.plan(descriptor))
    in_page = pa.Table.from_batches([pa.record_batch(part) for part in parts])
    alone = _nested(descriptor, [r.SerializeToString() for r in page.executions])
    assert in_page.equals(alone)
    assert in_page.num_rows == 40
