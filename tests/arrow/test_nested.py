"""The nested layout: ``Batch.to_arrow(layout="nested")`` (docs/nested.md).

The Python builder (``flytecodec.nested.build_table``) is checked against upb: every value of every row, on the
corpus of each kind, on hypothesis-generated messages and on damaged-but-valid records, compared with what upb
parsed from the same bytes (an oracle written from the descriptors, independent of the builder's wire walk);
``_rest`` is checked to be set exactly where upb has unknown fields or a value did not fit its column (its bytes
are checked by the round trip, tests/arrow/test_nested_import.py). The documented reading rules are checked on
hand-made records, and each backend's table against the Python builder's (Rust's, once the extension has
``RecordList.arrow_nested``).
"""

from __future__ import annotations

import struct

import pyarrow as pa
import pytest
from flyteidl.admin import execution_pb2
from google.protobuf.unknown_fields import UnknownFieldSet
from hypothesis import given, settings

import flytecodec
from flytecodec import layout, nested
from flytecodec.models.execution import Execution
from flytecodec.testing import corpus, strategies
from flytecodec.testing.corpus import varint
from support.arrow_rows import exact_rows
from support.differential import accepted_mutants, seed_pool
from support.examples import SETTINGS
from support.kinds import EVERY_KIND, TOP_STRATEGIES
from support.malformed import ld, tag

KINDS = EVERY_KIND
TOP = TOP_STRATEGIES


def _rust_builder() -> bool:
    if "native" not in flytecodec.available_backends():
        return False
    from flytecodec import _native

    return hasattr(_native.RecordList, "arrow_nested")


needs_rust = pytest.mark.skipif(not _rust_builder(), reason="the extension has no Rust nested builder yet")


def corpus_records(kind: str, n: int = 200, seed: int = 11) -> list[bytes]:
    _, make = KINDS[kind]
    return [m.SerializeToString(deterministic=True) for m in make(n, seed=seed)]


def table_of(model, records: list[bytes]) -> pa.Table:
    """The nested table of ``records`` on the active backend."""
    return flytecodec.decode(model, records).to_arrow(layout="nested")


def python_table(model, records: list[bytes]) -> pa.Table:
    return nested.build_table(model._pb_class.DESCRIPTOR, records)


# -- comparing tables exactly (a NaN equal to the same NaN) --------------------------------------------------------


def same_arrays(a: pa.Array, b: pa.Array, path: str) -> None:
    """``a`` and ``b`` hold the same values (floats compared by their bits), recursively."""
    assert a.type.equals(b.type, check_metadata=True), f"{path}: {a.type} != {b.type}"
    assert len(a) == len(b), f"{path}: length {len(a)} != {len(b)}"
    assert a.is_valid().equals(b.is_valid()), f"{path}: nulls differ"
    t = a.type
    if pa.types.is_floating(t):
        bits = pa.uint64() if t.bit_width == 64 else pa.uint32()
        assert a.view(bits).equals(b.view(bits)), f"{path}: {a} != {b}"
    elif pa.types.is_struct(t):
        for i in range(t.num_fields):
            same_arrays(a.field(i), b.field(i), f"{path}.{t.field(i).name}")
    elif pa.types.is_list(t) or pa.types.is_map(t):
        oa, ob = a.offsets.to_pylist(), b.offsets.to_pylist()
        assert [x - oa[0] for x in oa] == [x - ob[0] for x in ob], f"{path}: list lengths differ"
        same_arrays(a.values[oa[0] : oa[-1]], b.values[ob[0] : ob[-1]], f"{path}[]")
    else:
        assert a.equals(b), f"{path}: {a} != {b}"


def same_tables(a: pa.Table, b: pa.Table) -> None:
    assert a.schema.equals(b.schema, check_metadata=True), (a.schema, b.schema)
    for name in a.column_names:
        same_arrays(a[name].combine_chunks(), b[name].combine_chunks(), name)


# -- the oracle: what upb parsed, as the layout says it should be in the table ------------------------------------

NANOS = 1_000_000_000
INT64 = (-(1 << 63), (1 << 63) - 1)


def _time(kind: str, message) -> int | None:
    """A Timestamp's or Duration's nanoseconds, or None when the layout keeps it in ``_rest``."""
    seconds, nanos = message.seconds, message.nanos
    if len(UnknownFieldSet(message)):
        return None
    if kind == "timestamp":
        fits = 0 <= nanos < NANOS
    else:
        fits = abs(nanos) < NANOS and not (seconds < 0 < nanos or nanos < 0 < seconds)
    total = seconds * NANOS + nanos
    return total if fits and INT64[0] <= total <= INT64[1] else None


_MISSING = object()  # a value the layout keeps in _rest


def _expected_value(plan: layout.Plan, slot: layout.Slot, value):
    kind = slot.kind
    if kind == "message":
        return expected_row(plan, slot.child, value)
    if kind in ("timestamp", "duration"):
        found = _time(kind, value)
        return _MISSING if found is None else found
    if kind.startswith("wrapper:"):
        return _MISSING if len(UnknownFieldSet(value)) else value.value
    if kind == "cut":
        return value  # compared as a message: the cut's bytes are the record's, not necessarily canonical
    return value


def expected_row(plan: layout.Plan, node: int, message) -> dict:
    """The row the layout gives ``message`` (upb's), with ``_rest`` as a bool: whether it must be set."""
    row: dict = {}
    rest = len(UnknownFieldSet(message)) > 0
    for slot in plan[node].slots:
        value = getattr(message, slot.name)
        if slot.shape == "map":
            items = [(key, _expected_value(plan, slot, value[key])) for key in sorted(value)]
        elif slot.shape == "repeated":
            items = [_expected_value(plan, slot, item) for item in value]
        elif slot.shape == "optional" and not message.HasField(slot.name):
            row[slot.name] = None
            continue
        else:
            found = _expected_value(plan, slot, value)
            rest = rest or found is _MISSING
            row[slot.name] = None if found is _MISSING else found
            continue
        if any(item is _MISSING or (isinstance(item, tuple) and item[1] is _MISSING) for item in items):
            rest, items = True, []  # the whole field goes to _rest
        row[slot.name] = items
    row[layout.REST] = rest
    return row


def _same_value(got, want, path: str) -> None:
    if isinstance(want, dict):
        assert isinstance(got, dict), f"{path}: {got!r}, expected a struct"
        assert list(got) == list(want), f"{path}: fields {list(got)} != {list(want)}"
        for name, value in want.items():
            if name == layout.REST:
                assert (got[name] is not None) is value, f"{path}._rest: {got[name]!r}, expected set: {value}"
            else:
                _same_value(got[name], value, f"{path}.{name}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{path}: {got!r} != {want!r}"
        for i, (x, y) in enumerate(zip(got, want)):
            _same_value(x, y, f"{path}[{i}]")
    elif isinstance(want, tuple):  # a map entry
        assert got[0] == want[0], f"{path}: key {got[0]!r} != {want[0]!r}"
        _same_value(got[1], want[1], f"{path}[{want[0]!r}]")
    elif isinstance(want, float):
        assert isinstance(got, float), f"{path}: {got!r} != {want!r}"
        assert struct.pack("<d", got) == struct.pack("<d", want), f"{path}: {got!r} != {want!r}"
    elif hasattr(want, "DESCRIPTOR"):  # a cut message: the bytes parse to it
        assert isinstance(got, bytes), f"{path}: {got!r}"
        parsed = type(want).FromString(got)
        same = parsed.SerializeToString(deterministic=True) == want.SerializeToString(deterministic=True)
        assert same, f"{path}: {parsed} != {want}"
    else:
        assert type(got) is type(want) and got == want, f"{path}: {got!r} != {want!r}"


def check_against_upb(model, records: list[bytes], table: pa.Table) -> None:
    """Every row of ``table`` is what upb reads in the record."""
    descriptor = model._pb_class.DESCRIPTOR
    plan = layout.plan(descriptor)
    assert table.num_rows == len(records)
    for i, (got, data) in enumerate(zip(exact_rows(table), records)):
        _same_value(got, expected_row(plan, 0, model._pb_class.FromString(data)), f"row {i}")


def valid_damaged(kind: str, n: int, tries: int, seed: str) -> list[bytes]:
    """Damaged copies of valid records of a top kind that upb still accepts."""
    return accepted_mutants(kind.replace("-", "_"), KINDS[kind][0]._pb_class, n, tries, seed)


# -- the schema and the wiring -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_schema_is_the_layouts(kind, backend):
    model, _ = KINDS[kind]
    expected = layout.schema(model._pb_class.DESCRIPTOR)
    for records in ([], corpus_records(kind, 20)):
        table = table_of(model, records)
        assert table.schema.equals(expected, check_metadata=True)
        assert table.num_rows == len(records)
    assert table.schema.metadata[b"flytecodec.layout"] == b"nested"
    assert table.schema.metadata[b"protobuf.message"] == model._pb_class.DESCRIPTOR.full_name.encode()


def test_enum_fields_carry_their_names():
    closure = layout.schema(Execution._pb_class.DESCRIPTOR).field("closure").type
    phase = closure.field("phase")
    assert phase.type == pa.int32() and not phase.nullable
    assert phase.metadata[b"protobuf.enum"] == b"flyteidl.core.WorkflowExecution.Phase"
    assert b'"4":"SUCCEEDED"' in phase.metadata[b"protobuf.enum_values"]


def test_layout_argument(backend):
    batch = flytecodec.decode(Execution, corpus_records("execution", 3))
    with pytest.raises(ValueError, match="every field"):
        batch.to_arrow(["phase"], layout="nested")
    with pytest.raises(ValueError, match="'flat' or 'nested'"):
        batch.to_arrow(layout="tree")
    with pytest.raises(ValueError, match="errors"):
        batch.to_arrow(errors="nope", layout="nested")
    assert batch.to_arrow().schema.equals(batch.to_arrow(layout="flat").schema)
    assert layout.REST not in batch.to_arrow().column_names
    assert batch.to_arrow(layout="nested").column_names == ["id", "spec", "closure", layout.REST]


# -- values, against upb ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_corpus_values_are_upbs(kind):
    model, _ = KINDS[kind]
    records = corpus_records(kind, 150)
    check_against_upb(model, records, python_table(model, records))


@pytest.mark.parametrize("kind", sorted(TOP))
def test_damaged_records_values_are_upbs(kind):
    model, _ = KINDS[kind]
    records = valid_damaged(kind, 400, 2000, f"nested-values-{kind}")
    assert len(records) > 200
    check_against_upb(model, records, python_table(model, records))


@pytest.mark.parametrize("kind", sorted(TOP))
def test_generated_messages_values_are_upbs(kind):
    model, _ = KINDS[kind]

    @settings(SETTINGS, max_examples=20)
    @given(strategies.unknown_fields(TOP[kind]()))
    def check(data):
        check_against_upb(model, [data], python_table(model, [data]))

    check()


def test_spot_values_of_a_known_execution():
    message = corpus.executions(30, seed=5)[7]
    message.spec.labels.values.update({"zeta": "1", "alpha": "2", "\u00e9t\u00e9": "3"})
    row = exact_rows(python_table(Execution, [message.SerializeToString()]))[0]
    closure = message.closure
    assert row["closure"]["phase"] == closure.phase
    assert row["closure"]["started_at"] == closure.started_at.ToNanoseconds()
    assert row["closure"]["duration"] == closure.duration.ToNanoseconds()
    assert row["id"] == {"project": message.id.project, "domain": message.id.domain, "name": message.id.name,
                         "org": message.id.org, "_rest": None}  # fmt: skip
    assert row["spec"]["labels"]["values"] == sorted(message.spec.labels.values.items())
    keys = [k for k, _ in row["spec"]["labels"]["values"]]
    assert keys[0] == "alpha" and keys[-2:] == ["zeta", "\u00e9t\u00e9"]  # by UTF-8 bytes


# -- the reading rules, on hand-made records ------------------------------------------------------------------------


def _ts(seconds: int, nanos: int) -> bytes:
    return tag(1, 0) + varint(seconds % (1 << 64)) + tag(2, 0) + varint(nanos % (1 << 64))


def _closure_row(payload: bytes) -> dict:
    """The ``closure`` struct of an execution whose closure is ``payload``, on every backend (the same)."""
    rows = []
    for backend in flytecodec.available_backends():
        with flytecodec.using_backend(backend):
            rows.append(exact_rows(table_of(Execution, [ld(3, payload)]))[0]["closure"])
    assert all(row == rows[0] for row in rows)
    return rows[0]


def test_unknown_and_wrong_wire_type_fields_go_to_rest_in_order():
    unknown = tag(99, 0) + varint(7)
    wrong = ld(4, b"\x01")  # phase is a varint
    later = tag(1000, 5) + b"abcd"
    row = _closure_row(unknown + tag(4, 0) + b"\x03" + wrong + later)
    assert row["phase"] == 3
    assert row["_rest"] == unknown + wrong + later


def test_last_scalar_wins_and_enums_take_the_low_32_bits():
    assert _closure_row(tag(4, 0) + b"\x02" + tag(4, 0) + b"\x04")["phase"] == 4
    assert _closure_row(tag(4, 0) + varint((1 << 32) + 3))["phase"] == 3
    assert _closure_row(tag(4, 0) + varint((1 << 64) - 1))["phase"] == -1


def test_split_messages_merge():
    error = ld(2, ld(1, b"E1")) + tag(4, 0) + b"\x01" + ld(2, ld(2, b"boom"))
    row = _closure_row(error)
    assert (row["error"]["code"], row["error"]["message"]) == ("E1", "boom")
    assert row["phase"] == 1
    started = ld(5, tag(1, 0) + varint(100)) + ld(5, tag(2, 0) + varint(7))
    assert _closure_row(started)["started_at"] == 100 * NANOS + 7


def test_oneof_is_the_member_that_came_last_and_only_after_the_last_switch():
    # error(code), abort_cause, error(message): the error has only what came after the switch
    row = _closure_row(ld(2, ld(1, b"E1")) + ld(10, b"stop") + ld(2, ld(2, b"late")))
    assert row["abort_cause"] is None
    assert (row["error"]["code"], row["error"]["message"]) == ("", "late")
    row = _closure_row(ld(2, ld(1, b"E1")) + ld(10, b"stop"))
    assert row["error"] is None and row["abort_cause"] == "stop"
    # a member with the wrong wire type does not switch: it is unknown
    row = _closure_row(ld(2, ld(1, b"E1")) + tag(10, 0) + b"\x01")
    assert row["error"]["code"] == "E1" and row["abort_cause"] is None and row["_rest"] == tag(10, 0) + b"\x01"


def test_repeated_enums_packed_and_unpacked():
    notification = tag(1, 0) + b"\x01" + ld(1, b"\x02" + varint((1 << 64) - 1)) + tag(1, 0) + b"\x04"
    row = _closure_row(ld(9, notification) + ld(9, b""))
    assert [n["phases"] for n in row["notifications"]] == [[1, 2, -1, 4], []]


def test_maps_sorted_later_key_wins_and_entries_with_foreign_fields_kept_whole():
    def entry(key: bytes, value: bytes, extra: bytes = b"") -> bytes:
        return ld(1, ld(1, key) + ld(2, value) + extra)

    foreign = entry(b"x", b"0", tag(3, 0) + b"\x01")
    value_as_varint = ld(1, ld(1, b"y") + tag(2, 0) + b"\x01")  # a value of the wrong wire type is foreign too
    key_as_varint = ld(1, tag(1, 0) + b"\x01" + ld(2, b"z"))
    no_value, no_key = ld(1, ld(1, b"m")), ld(1, ld(2, b"k"))
    labels = entry(b"b", b"1") + foreign + entry("\u00e9".encode(), b"2") + entry(b"b", b"3") + entry(b"a", b"4")
    data = ld(2, ld(7, labels + value_as_varint + no_value + key_as_varint + no_key))
    for backend in flytecodec.available_backends():
        with flytecodec.using_backend(backend):
            spec = exact_rows(table_of(Execution, [data]))[0]["spec"]
        assert spec["labels"]["values"] == [("", "k"), ("a", "4"), ("b", "3"), ("m", ""), ("\u00e9", "2")]
        assert spec["labels"]["_rest"] == foreign + value_as_varint + key_as_varint


def test_times_that_do_not_fit_go_to_rest():
    cases = {
        ld(5, _ts(1_700_000_000, 5)): 1_700_000_000 * NANOS + 5,
        ld(5, _ts(-1, 999_999_999)): -1,
        ld(5, _ts(10**11, 0)): None,  # year 5138: beyond int64 nanoseconds
        ld(5, _ts(5, -1)): None,  # negative nanos
        ld(5, _ts(5, NANOS)): None,
        ld(5, _ts(5, 1) + tag(3, 0) + b"\x01"): None,  # a field of its own
    }
    for data, nanos in cases.items():
        row = _closure_row(data)
        assert row["started_at"] == nanos, data
        assert row["_rest"] == (None if nanos is not None else data), data
    durations = {
        ld(6, _ts(-1, -500_000_000)): -1_500_000_000,
        ld(6, _ts(0, -5)): -5,
        ld(6, _ts(-1, 5)): None,  # signs differ
        ld(6, _ts(0, -NANOS)): None,
        ld(6, _ts(300 * 365 * 86400, 0)): None,  # beyond ±292 years
    }
    for data, nanos in durations.items():
        row = _closure_row(data)
        assert row["duration"] == nanos, data
        assert row["_rest"] == (None if nanos is not None else data), data
    # a split timestamp out of range: both pieces go to _rest, in their places among the unknown fields
    pieces = ld(5, tag(1, 0) + varint(10**11)) + tag(99, 0) + b"\x01" + ld(5, tag(2, 0) + b"\x01")
    assert _closure_row(pieces)["_rest"] == pieces


def test_a_oneof_member_that_does_not_fit_keeps_only_what_came_after_the_last_switch():
    # spec.inputs.literals["x"].scalar.primitive: datetime (out of range), integer, datetime (out of range)
    first, last = ld(5, _ts(10**11, 5)), ld(5, tag(1, 0) + varint(10**11))
    data = ld(2, ld(2, ld(1, ld(1, b"x") + ld(2, ld(1, ld(1, first + tag(1, 0) + b"\x03" + last))))))
    for backend in flytecodec.available_backends():
        with flytecodec.using_backend(backend):
            spec = exact_rows(table_of(Execution, [data]))[0]["spec"]
        primitive = spec["inputs"]["literals"][0][1]["scalar"]["primitive"]
        assert primitive["datetime"] is None and primitive["integer"] is None
        assert primitive["_rest"] == last


def test_wrappers():
    def interruptible(data: bytes):
        with flytecodec.using_backend("python"):
            return exact_rows(table_of(Execution, [ld(2, data)]))[0]["spec"]

    assert interruptible(ld(21, b""))["interruptible"] is False
    assert interruptible(ld(21, tag(1, 0) + b"\x01") + ld(21, b""))["interruptible"] is True
    extra = ld(21, tag(1, 0) + b"\x01" + tag(2, 0) + b"\x05")
    spec = interruptible(extra)
    assert spec["interruptible"] is None and spec["_rest"] == extra


def test_null_structs_hold_defaults():
    with flytecodec.using_backend("python"):
        table = table_of(Execution, [b"", ld(3, b"")])
    closure = table["closure"].combine_chunks()
    assert closure.is_valid().to_pylist() == [False, True]
    assert closure.field("phase").to_pylist() == [0, 0]
    assert closure.field("notifications").to_pylist() == [[], []]
    assert closure.field("started_at").to_pylist() == [None, None]
    assert closure.field("error").is_valid().to_pylist() == [False, False]
    assert closure.field("error").field("code").to_pylist() == ["", ""]
    assert closure.field(layout.REST).to_pylist() == [None, None]


def _literal(value: bytes) -> bytes:
    return ld(1, ld(1, value))  # Literal.scalar.primitive


def test_cut_keeps_the_bytes_as_they_were():
    # closure.output_data.literals["x"] = a collection of collections of collections, written oddly
    innermost = _literal(tag(1, 0) + b"\x07") + _literal(ld(3, b"s"))  # a split scalar
    third = ld(2, ld(1, innermost))  # Literal.collection.literals[0]
    second = ld(2, ld(1, third) + ld(1, third)) + ld(4, b"hash")
    first = ld(2, ld(1, second) + ld(1, b""))
    data = ld(3, ld(13, ld(1, ld(1, b"x") + ld(2, first))))
    for backend in flytecodec.available_backends():
        with flytecodec.using_backend(backend):
            table = table_of(Execution, [data])
        literal = table["closure"].combine_chunks().field("output_data").field("literals").values.field("value")
        assert literal.type.field("collection").type.field("literals").type.value_type == pa.binary()
        assert literal.field("collection").field("literals").to_pylist() == [[second, b""]]
    plan = layout.plan(Execution._pb_class.DESCRIPTOR)
    assert any(slot.kind == "cut" and slot.name == "literals" for node in plan for slot in node.slots)


def test_pages_and_slices():
    page = corpus.execution_list(12, seed=8).SerializeToString()
    for backend in flytecodec.available_backends():
        with flytecodec.using_backend(backend):
            batch = flytecodec.decode(Execution, page, framing="list")
            raws = [batch._records.raw(i) for i in range(len(batch))]
            same_tables(batch.to_arrow(layout="nested"), python_table(Execution, raws))
            same_tables(batch[3:9].to_arrow(layout="nested"), python_table(Execution, raws[3:9]))


# -- every backend builds the Python builder's table ---------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_backend_builds_the_python_builders_table(kind, backend):
    """On the native backend this is Rust's table when the extension has the builder, the same code otherwise."""
    model, _ = KINDS[kind]
    records = corpus_records(kind, 150)
    same_tables(table_of(model, records), python_table(model, records))


@needs_rust
def test_native_batches_use_the_rust_builder(monkeypatch):
    called = []
    monkeypatch.setattr(nested, "build_table", lambda *args: called.append(args))
    with flytecodec.using_backend("native"):
        table_of(Execution, corpus_records("execution", 3))
    assert not called


@needs_rust
@pytest.mark.parametrize("kind", sorted(TOP))
def test_rust_builds_the_python_builders_table_on_damaged_records(kind):
    model, _ = KINDS[kind]
    records = valid_damaged(kind, 1000, 4000, f"nested-rust-{kind}")
    with flytecodec.using_backend("native"):
        same_tables(table_of(model, records), python_table(model, records))


@needs_rust
@pytest.mark.parametrize("kind", sorted(TOP))
def test_rust_builds_the_python_builders_table_on_generated_messages(kind):
    model, _ = KINDS[kind]

    @settings(SETTINGS, max_examples=60)
    @given(strategies.unknown_fields(TOP[kind]()))
    def check(data):
        with flytecodec.using_backend("native"):
            same_tables(table_of(model, [data]), python_table(model, [data]))

    check()


def test_hand_seeds_against_upb():
    """The hand-made records of the differential tests (packed phases, oneofs, maps, literal collections)."""
    records = seed_pool("execution")[-3:]
    assert execution_pb2.Execution.FromString(records[0]).closure.outputs.values.literals["o"].hash == "h"
    check_against_upb(Execution, records, python_table(Execution, records))
