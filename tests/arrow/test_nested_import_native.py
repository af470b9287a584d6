"""``_native.nested_to_records``: nested Arrow tables (``flytecodec.layout.schema``) back to record bytes.

The tables are built here from upb messages by a small converter written from ``docs/nested.md`` (not from
the exporters), and the records must be exactly upb's ``SerializeToString(deterministic=True)`` of the
messages; hand-made tables check ``_rest``, nulls, time arithmetic and the errors.
"""

from __future__ import annotations

import datetime
import random

import pytest
from flyteidl.admin import common_pb2, execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import literals_pb2
from google.protobuf import descriptor_pool, duration_pb2, message_factory, timestamp_pb2
from hypothesis import given

from flytecodec import DecodeError, layout
from flytecodec.kinds import KINDS
from flytecodec.testing import corpus
from support import examples
from support import malformed as mf
from support.kinds import TOP_STRATEGIES
from support.malformed import read_varint

pa = pytest.importorskip("pyarrow")
native = pytest.importorskip("flytecodec._native")

NS = 1_000_000_000
INT64 = (-(2**63), 2**63 - 1)


def message_class(full_name: str) -> type:
    return message_factory.GetMessageClass(descriptor_pool.Default().FindMessageTypeByName(full_name))


# -- a message as a row of the nested layout -------------------------------------------------------------------


def row(message) -> dict:
    """The row of ``message`` in the nested layout (values an Arrow type cannot hold go to ``_rest``)."""
    return _struct(layout.plan(message.DESCRIPTOR), 0, message)


def _struct(plan, node: int, message) -> dict:
    out: dict = {}
    rest = bytearray()
    for slot in plan[node].slots:
        value = getattr(message, slot.name)
        if slot.shape == "repeated":
            items = [_value(plan, slot, item) for item in value]
            if any(item is _UNHELD for item in items):  # kept in _rest whole
                rest += b"".join(mf.ld(slot.number, item.SerializeToString()) for item in value)
                items = []
            out[slot.name] = items
        elif slot.shape == "map":
            out[slot.name] = sorted((key, _value(plan, slot, value[key])) for key in value)
        elif slot.shape == "optional" and not message.HasField(slot.name):
            out[slot.name] = None
        else:
            held = _value(plan, slot, value)
            if held is _UNHELD:
                rest += mf.ld(slot.number, value.SerializeToString())
                held = None
            out[slot.name] = held
    out[layout.REST] = bytes(rest) or None
    return out


_UNHELD = object()


def _value(plan, slot, value):
    kind = slot.kind
    if kind == "message":
        return _struct(plan, slot.child, value)
    if kind in ("timestamp", "duration"):
        ns = value.seconds * NS + value.nanos
        if kind == "timestamp":
            held = 0 <= value.nanos < NS
        else:
            held = -NS < value.nanos < NS and (value.seconds * value.nanos >= 0)
        return ns if held and INT64[0] <= ns <= INT64[1] else _UNHELD
    if kind.startswith("wrapper:"):
        return value.value
    if kind == "cut":
        return value.SerializeToString(deterministic=True)
    return value


def table(messages, desc=None) -> pa.Table:
    desc = desc or messages[0].DESCRIPTOR
    return pa.Table.from_pylist([row(m) for m in messages], schema=layout.schema(desc))


def framed(messages) -> bytes:
    return corpus.delimited(messages)


def records(tbl, desc, threads=None) -> bytes:
    return native.nested_to_records(layout.plan(desc), tbl.to_batches(), threads)


# -- equal to upb ----------------------------------------------------------------------------------------------

CORPUS = {name: getattr(corpus, name.replace("-", "_") + "s") for name in KINDS}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_corpus_tables_give_upbs_bytes(kind):
    messages = CORPUS[kind](40, seed=11)
    desc = messages[0].DESCRIPTOR
    assert desc.full_name == KINDS[kind].message
    assert records(table(messages), desc) == framed(messages)


@pytest.mark.parametrize("kind", sorted(TOP_STRATEGIES))
def test_hypothesis_messages(kind):
    @examples.SETTINGS
    @given(TOP_STRATEGIES[kind]())
    def run(message):
        assert records(table([message]), message.DESCRIPTOR) == framed([message])

    run()


def test_threads_batches_and_slices_agree():
    messages = corpus.executions(300, seed=5)
    desc = messages[0].DESCRIPTOR
    tbl = table(messages)
    whole = framed(messages)
    assert records(tbl, desc, threads=1) == whole
    assert records(tbl, desc, threads=4) == whole
    chunked = pa.Table.from_batches(tbl.to_batches(max_chunksize=37))
    assert records(chunked, desc, threads=3) == whole
    assert records(tbl.slice(101, 50), desc) == framed(messages[101:151])
    assert native.nested_to_records(layout.plan(desc), []) == b""


def test_parquet_round_trip(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    messages = corpus.node_executions(50, seed=2)
    desc = messages[0].DESCRIPTOR
    pq.write_table(table(messages), tmp_path / "n.parquet")
    back = pq.read_table(tmp_path / "n.parquet")
    assert records(back, desc) == framed(messages)


# -- hand-made tables ------------------------------------------------------------------------------------------

CLOSURE = execution_pb2.ExecutionClosure


def closure_table(rows: list[dict]) -> pa.Table:
    """ExecutionClosure rows: only the columns given, the others null/empty/zero."""
    schema = layout.schema(CLOSURE.DESCRIPTOR)
    full = [{f.name: _empty(f) for f in schema} | r for r in rows]
    return pa.Table.from_pylist(full, schema=schema)


def _empty(field):
    if pa.types.is_list(field.type) or pa.types.is_map(field.type):
        return []
    if field.nullable:
        return None
    return False if pa.types.is_boolean(field.type) else 0 if not pa.types.is_string(field.type) else ""


def closure_records(tbl) -> list[bytes]:
    data = records(tbl, CLOSURE.DESCRIPTOR)
    out, pos = [], 0
    while pos < len(data):
        length, pos = read_varint(data, pos)
        out.append(data[pos : pos + length])
        pos += length
    return out


def test_time_arithmetic_floor_and_truncate():
    utc = datetime.timezone.utc
    cases = [-1, -NS, -NS - 1, 0, 1, NS + 5, -1_500_000_000, INT64[0], INT64[1]]
    rows = [{"started_at": ns, "duration": ns, "phase": 4} for ns in cases]
    got = closure_records(closure_table(rows))
    for ns, data in zip(cases, got):
        want = CLOSURE(phase=4)
        want.started_at.CopyFrom(timestamp_pb2.Timestamp(seconds=ns // NS, nanos=ns % NS))
        seconds = abs(ns) // NS * (1 if ns >= 0 else -1)
        want.duration.CopyFrom(duration_pb2.Duration(seconds=seconds, nanos=ns - seconds * NS))
        assert data == want.SerializeToString(deterministic=True), ns
    # a datetime column value reads the same as its integer
    tbl = closure_table([{"started_at": datetime.datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=utc)}])
    want = CLOSURE()
    want.started_at.seconds, want.started_at.nanos = -1, 500_000_000
    assert closure_records(tbl) == [want.SerializeToString(deterministic=True)]


def test_rest_bytes_merge_back_in_order():
    unknown = mf.tag(99, 0) + b"\x07" + mf.ld(98, b"zz")
    wrong_wire = mf.ld(4, b"\x01")  # phase (4) length-delimited: an unknown field
    late_started = mf.ld(5, mf.tag(2, 0) + b"\x05")  # merges into started_at's nanos
    rows = [
        {"phase": 3, "_rest": unknown + wrong_wire},
        {"started_at": 7 * NS, "_rest": late_started},
        {"_rest": b""},
    ]
    want = [
        CLOSURE.FromString(mf.tag(4, 0) + b"\x03" + unknown + wrong_wire),
        CLOSURE.FromString(mf.ld(5, mf.tag(1, 0) + b"\x07") + late_started),
        CLOSURE(),
    ]
    assert closure_records(closure_table(rows)) == [m.SerializeToString(deterministic=True) for m in want]


def test_rest_at_depth_and_foreign_map_entries():
    e = execution_pb2.Execution()
    e.spec.labels.values["k"] = "v"
    e.id.name = "n"
    r = row(e)
    foreign = mf.ld(1, mf.ld(1, b"x") + mf.ld(2, b"y") + mf.tag(3, 0) + b"\x01")
    r["spec"]["labels"]["_rest"] = foreign
    r["id"]["_rest"] = mf.tag(50, 5) + b"abcd"
    tbl = pa.Table.from_pylist([r], schema=layout.schema(e.DESCRIPTOR))
    raw = e.SerializeToString()
    # the same message with the same unknown fields, as upb reads and writes it
    expected = execution_pb2.Execution()
    expected.MergeFromString(raw)
    expected.spec.labels.MergeFromString(foreign)
    expected.id.MergeFromString(mf.tag(50, 5) + b"abcd")
    assert records(tbl, e.DESCRIPTOR) == framed([expected])


def test_present_defaults_are_written():
    spec = execution_pb2.ExecutionSpec()
    spec.interruptible.value = False  # a wrapper set to its default
    spec.metadata.SetInParent()  # an empty message
    lit = literals_pb2.Literal()
    lit.scalar.primitive.integer = 0  # a oneof member set to its default
    spec.inputs.literals["x"].CopyFrom(lit)
    tbl = table([spec])
    assert records(tbl, spec.DESCRIPTOR) == framed([spec])
    assert framed([spec]).count(b"\x00") >= 2


def test_map_entries_any_order_and_missing_values():
    labels = common_pb2.Labels()
    for key in ["b", "", "ab", "a"]:
        labels.values[key] = key * 2
    schema = layout.schema(labels.DESCRIPTOR)
    entries = [("a", "aa"), ("", ""), ("ab", "abab"), ("b", "bb")]
    tbl = pa.Table.from_pylist([{"values": entries, "_rest": None}], schema=schema)
    assert records(tbl, labels.DESCRIPTOR) == framed([labels])


# -- errors ----------------------------------------------------------------------------------------------------


def test_null_where_not_nullable_names_the_column_and_row():
    schema = layout.schema(CLOSURE.DESCRIPTOR)
    rows = [{f.name: _empty(f) for f in schema} for _ in range(3)]
    rows[2]["phase"] = None
    tbl = pa.Table.from_pylist(rows, schema=schema.set(schema.get_field_index("phase"), pa.field("phase", pa.int32())))
    with pytest.raises(DecodeError, match=r"column phase, row 2") as info:
        native.nested_to_records(layout.plan(CLOSURE.DESCRIPTOR), tbl.to_batches())
    assert info.value.index == 2


def test_null_inside_a_valid_struct_and_not_under_a_null_one():
    e = execution_pb2.Execution()
    e.closure.phase = 3
    desc = e.DESCRIPTOR
    r = row(e)
    r["closure"]["phase"] = None
    schema = _nullable(layout.schema(desc))
    tbl = pa.Table.from_pylist([row(execution_pb2.Execution()), r], schema=schema)
    with pytest.raises(DecodeError, match=r"column closure\.phase, row 1"):
        native.nested_to_records(layout.plan(desc), tbl.to_batches())
    # the same null under a null closure is no error
    r["closure"] = None
    tbl = pa.Table.from_pylist([r], schema=schema)
    assert native.nested_to_records(layout.plan(desc), tbl.to_batches()) == framed([execution_pb2.Execution()])


def _nullable(schema):
    """``schema`` with every field nullable (pyarrow refuses nulls in a non-nullable field otherwise)."""

    def loosen(t):
        if pa.types.is_struct(t):
            return pa.struct([pa.field(f.name, loosen(f.type), True, f.metadata) for f in t])
        return t

    return pa.schema([pa.field(f.name, loosen(f.type), True, f.metadata) for f in schema])


def test_invalid_rest_and_cut_bytes_name_the_column():
    e = execution_pb2.Execution()
    e.spec.labels.values["k"] = "v"
    desc = e.DESCRIPTOR
    r = row(e)
    r["spec"]["_rest"] = mf.ld(40, b"abc")[:-1]  # truncated
    tbl = pa.Table.from_pylist([row(e), r], schema=layout.schema(desc))
    with pytest.raises(DecodeError, match=r"column spec\._rest, row 1"):
        native.nested_to_records(layout.plan(desc), tbl.to_batches())
    r = row(e)
    r["id"] = {"project": "p", "domain": "", "name": "", "org": "", "_rest": mf.ld(1, b"\xff")}  # bad UTF-8
    tbl = pa.Table.from_pylist([r], schema=layout.schema(desc))
    with pytest.raises(DecodeError, match=r"column id\._rest, row 0"):
        native.nested_to_records(layout.plan(desc), tbl.to_batches())


def test_invalid_cut_bytes_name_the_column():
    lit = literals_pb2.Literal()
    lit.map.literals["x"].scalar.primitive.integer = 1
    desc = lit.DESCRIPTOR
    plan = layout.plan(desc)
    literal_map = plan[next(slot.child for slot in plan[0].slots if slot.name == "map")]
    assert any(s.name == "literals" and s.kind == "cut" and s.shape == "map" for s in literal_map.slots)
    r = row(lit)
    assert r["map"]["literals"] == [("x", lit.map.literals["x"].SerializeToString(deterministic=True))]
    assert records(pa.Table.from_pylist([r], schema=layout.schema(desc)), desc) == framed([lit])
    # cut bytes as a record may hold them: the message in two pieces, merged on the way
    pieces = mf.ld(1, mf.ld(1, mf.tag(1, 0) + b"\x05")) + mf.ld(1, mf.ld(1, mf.tag(1, 0) + b"\x01"))
    r["map"]["literals"] = [("x", pieces)]
    assert records(pa.Table.from_pylist([r], schema=layout.schema(desc)), desc) == framed([lit])
    r["map"]["literals"] = [("x", mf.ld(1, mf.ld(1, mf.ld(3, b"\xc3"))))]  # a string of invalid UTF-8
    tbl = pa.Table.from_pylist([r], schema=layout.schema(desc))
    with pytest.raises(DecodeError, match=r"column map\.literals\[\]\.value, row 0: not a valid flyteidl.core.Literal"):
        native.nested_to_records(plan, tbl.to_batches())


def test_a_table_of_another_layout_is_a_value_error():
    desc = node_execution_pb2.NodeExecution.DESCRIPTOR
    tbl = table(corpus.task_executions(2, seed=1), task_execution_pb2.TaskExecution.DESCRIPTOR)
    with pytest.raises(ValueError, match="column"):
        native.nested_to_records(layout.plan(desc), tbl.to_batches())
    with pytest.raises(ValueError, match="struct array"):
        native.nested_to_records(layout.plan(desc), [pa.array([1, 2])])


def test_many_random_messages_through_threads():
    rng = random.Random(4)
    messages = [m for m in corpus.task_executions(200, seed=rng.randrange(100))]
    desc = messages[0].DESCRIPTOR
    assert records(table(messages), desc, threads=2) == framed(messages)


def test_duplicate_map_keys_the_last_wins():
    labels = common_pb2.Labels()
    labels.values["a"] = "2"
    labels.values["b"] = "1"
    schema = layout.schema(labels.DESCRIPTOR)
    entries = [("a", "1"), ("b", "1"), ("a", "2")]
    tbl = pa.Table.from_pylist([{"values": entries, "_rest": None}], schema=schema)
    assert records(tbl, labels.DESCRIPTOR) == framed([labels])


def test_an_error_far_into_the_table_names_its_row():
    messages = corpus.executions(700, seed=9)
    desc = messages[0].DESCRIPTOR
    rows = [row(m) for m in messages]
    bad = next(i for i in range(600, 700) if rows[i]["closure"] is not None)
    rows[bad]["closure"]["_rest"] = b"\x0e"  # wire type 6
    tbl = pa.Table.from_pylist(rows, schema=layout.schema(desc))
    for threads in (1, 3):
        with pytest.raises(DecodeError, match=rf"column closure\._rest, row {bad}") as info:
            records(tbl, desc, threads=threads)
        assert info.value.index == bad
    # the rows before it are fine
    assert records(tbl.slice(0, bad), desc) == framed(messages[:bad])


def test_rest_on_many_rows_and_in_list_items():
    """``_rest`` in list items and at the record, over more rows than are written together."""
    messages = corpus.task_executions(400, seed=3)
    desc = messages[0].DESCRIPTOR
    rows = [row(m) for m in messages]
    extra = mf.tag(77, 0) + b"\x01"
    items = 0
    for r, m in zip(rows, messages):
        r["_rest"] = extra
        m.MergeFromString(extra)
        if r["closure"] is not None:
            for j, log in enumerate(r["closure"]["logs"]):
                log["_rest"] = extra + mf.ld(2, b"late name")  # TaskLog.name (2) again: the last one wins
                m.closure.logs[j].MergeFromString(extra + mf.ld(2, b"late name"))
                items += 1
    assert items > 100
    tbl = pa.Table.from_pylist(rows, schema=layout.schema(desc))
    assert records(tbl, desc, threads=2) == framed(messages)
