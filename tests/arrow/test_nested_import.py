"""``flytecodec.from_arrow``: a nested table back to records, byte for byte.

The round trip — bytes, batch, nested table (through Parquet too), ``from_arrow``, each record's bytes — must give
exactly ``pb2.FromString(original).SerializeToString(deterministic=True)``: on the corpus of every kind, on
generated messages with and without unknown fields, on damaged-but-valid records and on hand-made odd encodings.
Then the errors: tables that are not of the layout, nulls where the schema forbids them, bytes that are not a
message.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings

import flytecodec
from flytecodec import layout
from flytecodec.models.admin.task_execution import TaskExecution
from flytecodec.models.execution import Execution
from flytecodec.models.node_execution import NodeExecution
from flytecodec.remote.executions import FlyteWorkflowExecution
from flytecodec.testing import corpus, strategies
from flytecodec.testing.corpus import varint
from support.differential import accepted_mutants
from support.examples import SETTINGS
from support.kinds import EVERY_KIND, TOP_STRATEGIES
from support.malformed import ld, tag

KINDS = EVERY_KIND
TOP = TOP_STRATEGIES


def nested_table(model, records: list[bytes]) -> pa.Table:
    return flytecodec.decode(model, records).to_arrow(layout="nested")


def canonical(model, data: bytes) -> bytes:
    return model._pb_class.FromString(data).SerializeToString(deterministic=True)


def assert_round_trip(model, records: list[bytes], table: pa.Table | None = None) -> flytecodec.Batch:
    """``records`` through the nested table and back give their deterministic serialization."""
    if table is None:
        table = nested_table(model, records)
    back = flytecodec.from_arrow(table, model)
    assert isinstance(back, flytecodec.Batch) and back.model is model
    assert len(back) == len(records)
    for i, (record, data) in enumerate(zip(back, records)):
        assert record.serialize_to_string() == canonical(model, data), f"record {i}: {data!r}"
    return back


# -- round trips ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_corpus_round_trip(kind, backend):
    model, make = KINDS[kind]
    assert_round_trip(model, [m.SerializeToString() for m in make(150, seed=3)])


@pytest.mark.parametrize("kind", sorted(TOP))
def test_generated_messages_round_trip(kind, backend):
    model, _ = KINDS[kind]

    @settings(SETTINGS, max_examples=12)
    @given(TOP[kind]())
    def plain(message):
        assert_round_trip(model, [message.SerializeToString()])

    @settings(SETTINGS, max_examples=12)
    @given(strategies.unknown_fields(TOP[kind]()))
    def with_unknown_fields(data):
        assert_round_trip(model, [data])

    plain()
    with_unknown_fields()


@pytest.mark.parametrize("kind", sorted(TOP))
def test_damaged_records_round_trip(kind, backend):
    """Valid records written oddly: split messages, oneof rivals, repeated singular fields, wrong wire types,
    unknown fields, odd varints, packed runs, times out of range..."""
    model, _ = KINDS[kind]
    records = accepted_mutants(kind.replace("-", "_"), model._pb_class, 800, 800, f"nested-import-{kind}")
    assert len(records) > 250
    assert_round_trip(model, records)


def _unknown(number: int) -> bytes:
    return tag(number, 0) + varint(number) + ld(number + 1, b"u%d" % number) + tag(number + 2, 5) + b"\x01\x02\x03\x04"


def _literal_integer(value: int, extra: bytes = b"") -> bytes:
    return ld(1, ld(1, tag(1, 0) + varint(value % (1 << 64)) + extra))  # Literal.scalar.primitive.integer


def _collection(*literals: bytes) -> bytes:
    return ld(2, b"".join(ld(1, literal) for literal in literals))  # Literal.collection.literals


def _entry(key: bytes, value: bytes, extra: bytes = b"") -> bytes:
    return ld(1, ld(1, key) + ld(2, value) + extra)


def _ts(seconds: int, nanos: int) -> bytes:
    return tag(1, 0) + varint(seconds % (1 << 64)) + tag(2, 0) + varint(nanos % (1 << 64))


ODD = {  # execution records, each written in a way the corpus never is
    "unknown fields at every depth": (
        ld(1, ld(1, b"p") + _unknown(50))  # id
        + ld(2, ld(2, _entry(b"in", _literal_integer(5, _unknown(60)) + _unknown(70)) + _unknown(80)))  # inputs
        + ld(3, ld(2, ld(1, b"E") + _unknown(90)) + _unknown(100))  # closure.error
        + _unknown(2000)
    ),
    "merged sub-messages": ld(3, ld(2, ld(1, b"E1")))
    + ld(1, ld(2, b"d"))
    + ld(3, ld(2, ld(2, b"boom")) + ld(5, b""))
    + ld(3, ld(5, _ts(100, 0)) + ld(5, tag(2, 0) + b"\x07")),
    "oneof switches A, B, A": ld(3, ld(2, ld(1, b"E1")) + ld(10, b"stop") + ld(2, ld(2, b"late"))),
    "oneof switches A, B": ld(3, ld(2, ld(1, b"E1")) + ld(10, b"stop")),
    "oneof member of the wrong wire type": ld(3, ld(2, ld(1, b"E1")) + tag(10, 0) + b"\x01"),
    "packed and unpacked": ld(3, ld(9, tag(1, 0) + b"\x01" + ld(1, b"\x02\x03") + tag(1, 0) + b"\x04") + ld(9, b"")),
    "duplicate map keys": ld(2, ld(7, _entry(b"b", b"1") + _entry(b"a", b"2") + _entry(b"b", b"3"))),
    "map entries with foreign fields or none": ld(
        2, ld(7, _entry(b"x", b"1", tag(3, 0) + b"\x01") + ld(1, ld(1, b"k")) + ld(1, b"") + _entry(b"x", b"2"))
    ),
    "timestamps out of range": ld(3, ld(5, _ts(10**11, 0)) + ld(7, _ts(-(10**11), 1)) + ld(8, _ts(5, 10**9))),
    "negative nanos": ld(3, ld(5, _ts(5, -1)) + ld(6, _ts(-5, -7)) + ld(7, _ts(0, -(10**9)))),
    "durations of mixed signs and far": ld(3, ld(6, _ts(-1, 5)) + _unknown(40) + ld(6, _ts(10**12, 0))),
    "split times out of range": ld(3, ld(5, tag(1, 0) + varint(10**11)) + _unknown(30) + ld(5, tag(2, 0) + b"\x01")),
    "a oneof member out of range, switched away from and back": ld(
        2,
        ld(
            2,
            _entry(b"x", ld(1, ld(1, ld(5, _ts(10**11, 5)) + tag(1, 0) + b"\x03" + ld(5, tag(1, 0) + varint(10**11))))),
        ),
    ),
    "wrappers with extra fields": ld(2, ld(21, tag(1, 0) + b"\x01" + tag(2, 0) + b"\x05") + ld(21, b"")),
    "wrappers merged": ld(2, ld(21, tag(1, 0) + b"\x01") + ld(21, b"")),
    "enums of unknown numbers and long varints": ld(3, tag(4, 0) + varint((1 << 64) - 1))
    + ld(3, tag(4, 0) + varint((1 << 32) + 99)),
    "literal collections three deep": ld(
        3, ld(13, _entry(b"o", _collection(_collection(_collection(_literal_integer(-1)), b""))))
    ),
    "empty": b"",
}


@pytest.mark.parametrize("name", sorted(ODD))
def test_odd_encodings_round_trip(name, backend):
    assert_round_trip(Execution, [ODD[name]])


def test_odd_encodings_round_trip_together(backend):
    records = list(ODD.values())
    assert_round_trip(Execution, records * 2)


def test_parquet_round_trip(tmp_path, backend):
    records = [m.SerializeToString() for m in corpus.executions(120, seed=9)] + list(ODD.values())
    table = nested_table(Execution, records)
    pq.write_table(table, tmp_path / "executions.parquet", row_group_size=50)
    back = pq.read_table(tmp_path / "executions.parquet")
    assert back.schema.equals(table.schema, check_metadata=False)
    assert back.num_rows == len(records)
    assert_round_trip(Execution, records, back)


# -- inputs --------------------------------------------------------------------------------------------------------


def test_values_read_back(backend):
    message = corpus.executions(20, seed=4)[3]
    message.spec.labels.values["k\u00e9"] = "v"
    original = flytecodec.decode(Execution, [message.SerializeToString()])[0]
    back = flytecodec.from_arrow(nested_table(Execution, [message.SerializeToString()]), Execution)[0]
    assert back.closure.phase == original.closure.phase
    assert back.closure.started_at == original.closure.started_at
    assert back.spec.labels.values == original.spec.labels.values
    assert back == original


def test_kind_names_subclasses_record_batches_and_chunks(backend):
    records = [m.SerializeToString() for m in corpus.node_executions(40, seed=2)]
    table = nested_table(NodeExecution, records)
    expected = [canonical(NodeExecution, r) for r in records]
    by_name = flytecodec.from_arrow(table, "node-execution")
    assert by_name.model is NodeExecution
    assert [m.serialize_to_string() for m in by_name] == expected
    batch = table.to_batches()[0]
    assert [m.serialize_to_string() for m in flytecodec.from_arrow(batch, NodeExecution)] == expected[: len(batch)]
    chunked = pa.concat_tables([table.slice(0, 7), table.slice(7, 20), table.slice(27)])
    assert chunked["closure"].num_chunks == 3
    assert [m.serialize_to_string() for m in flytecodec.from_arrow(chunked, NodeExecution)] == expected
    executions = [m.SerializeToString() for m in corpus.executions(3)]
    remote = flytecodec.from_arrow(nested_table(Execution, executions), FlyteWorkflowExecution)
    assert remote.model is FlyteWorkflowExecution and len(remote) == 3


def test_empty_tables(backend):
    table = nested_table(TaskExecution, [])
    assert table.num_rows == 0
    assert len(flytecodec.from_arrow(table, TaskExecution)) == 0
    assert len(flytecodec.from_arrow(table.schema.empty_table(), TaskExecution)) == 0


def test_bad_arguments():
    table = nested_table(Execution, [b""])
    with pytest.raises(TypeError, match="Table or RecordBatch"):
        flytecodec.from_arrow(table.to_pylist(), Execution)
    with pytest.raises(TypeError, match="record kind"):
        flytecodec.from_arrow(table, int)
    with pytest.raises(ValueError, match="unknown kind"):
        flytecodec.from_arrow(table, "workflow")


# -- tables that are not of the layout -----------------------------------------------------------------------------


def test_a_flat_table_is_refused():
    flat = flytecodec.decode(Execution, [m.SerializeToString() for m in corpus.executions(5)]).to_arrow()
    with pytest.raises(ValueError, match=r"flat layout.*layout=.nested."):
        flytecodec.from_arrow(flat, Execution)
    with pytest.raises(ValueError, match="flat layout"):
        flytecodec.from_arrow(flat.select(["phase", "name"]), Execution)


def test_another_kinds_table_is_refused():
    table = nested_table(NodeExecution, [b""])
    with pytest.raises(
        ValueError, match=r"not a nested table of flyteidl.admin.Execution: .*'id\.project'.*layout='nested'"
    ):
        flytecodec.from_arrow(table, Execution)


def _retyped(schema: pa.Schema, path: list[str], new_type: pa.DataType) -> pa.Schema:
    def change(t: pa.DataType, rest: list[str]) -> pa.DataType:
        if not rest:
            return new_type
        fields = [f.with_type(change(f.type, rest[1:])) if f.name == rest[0] else f for f in t]
        return pa.struct(fields)

    return pa.schema([f.with_type(change(f.type, path[1:])) if f.name == path[0] else f for f in schema])


def test_a_differing_column_is_named():
    table = nested_table(Execution, [m.SerializeToString() for m in corpus.executions(5)])
    deep = _retyped(table.schema, ["closure", "error", "code"], pa.large_string())
    with pytest.raises(ValueError, match=r"column 'closure\.error\.code' is large_string, expected string"):
        flytecodec.from_arrow(table.cast(deep), Execution)
    with pytest.raises(ValueError, match=r"column '_rest' is missing"):
        flytecodec.from_arrow(table.drop_columns([layout.REST]), Execution)
    with pytest.raises(ValueError, match=r"column 'extra' is not in the layout"):
        flytecodec.from_arrow(table.append_column("extra", pa.array([1] * 5)), Execution)
    with pytest.raises(ValueError, match=r"column 'closure' where 'spec'"):
        flytecodec.from_arrow(table.select(["id", "closure", "spec", layout.REST]), Execution)
    renamed = table.rename_columns(["id", "spec", "closure", "rest"])
    with pytest.raises(ValueError, match=r"column 'rest' where '_rest'"):
        flytecodec.from_arrow(renamed, Execution)
    plain = table.schema.field("spec").type.field("labels").type.field("values").type
    assert pa.types.is_map(plain)
    loose = _retyped(table.schema, ["spec", "labels", "values"], pa.map_(pa.string(), pa.string()))
    with pytest.raises(ValueError, match=r"column 'spec\.labels\.values\[\]\.value' should be not nullable"):
        flytecodec.from_arrow(table.cast(loose), Execution)


def test_field_metadata_is_not_required():
    records = [m.SerializeToString() for m in corpus.executions(5)]
    table = nested_table(Execution, records)
    bare = pa.schema([f.with_type(_bare(f.type)).remove_metadata() for f in table.schema])
    stripped = table.cast(bare)
    assert not stripped.schema.equals(table.schema, check_metadata=True)
    assert_round_trip(Execution, records, stripped)


def _bare(t: pa.DataType) -> pa.DataType:
    """``t`` without field metadata, at any depth."""
    if pa.types.is_struct(t):
        return pa.struct([f.with_type(_bare(f.type)).remove_metadata() for f in t])
    if pa.types.is_map(t):
        return pa.map_(t.key_field, t.item_field.with_type(_bare(t.item_type)))
    if pa.types.is_list(t):
        return pa.list_(t.value_field.with_type(_bare(t.value_type)))
    return t


# -- bad values: named by column and row ---------------------------------------------------------------------------


def _edit(array: pa.Array, path: list[str], change) -> pa.Array:
    """``array`` with the column at ``path`` (struct field names, ``[]`` for a list's or map's values) replaced by
    ``change(column)``."""
    if not path:
        return change(array)
    step, rest = path[0], path[1:]
    if step == "[]":
        if pa.types.is_map(array.type):
            entries = array.values
            items = _edit(entries.field(1), rest, change)
            return pa.MapArray.from_arrays(array.offsets, entries.field(0), items, type=array.type)
        return pa.ListArray.from_arrays(array.offsets, _edit(array.values, rest, change), type=array.type)
    children = [array.field(i) for i in range(array.type.num_fields)]
    index = array.type.get_field_index(step)
    children[index] = _edit(children[index], rest, change)
    mask = pc.invert(array.is_valid()) if array.null_count else None
    return pa.StructArray.from_arrays(children, fields=list(array.type), mask=mask)


def _edited(table: pa.Table, path: list[str], change) -> pa.Table:
    table = table.combine_chunks()
    index = table.schema.get_field_index(path[0])
    column = _edit(table.column(index).chunk(0), path[1:], change)
    return table.set_column(index, table.schema.field(index), column)


def _set(row: int, value):
    def change(array: pa.Array) -> pa.Array:
        values = array.to_pylist()
        values[row] = value
        return pa.array(values, array.type)

    return change


def test_null_where_the_schema_forbids_one(backend):
    records = [m.SerializeToString() for m in corpus.executions(6, seed=1)]
    table = nested_table(Execution, records)
    with pytest.raises(flytecodec.DecodeError, match=r"column closure\.phase, row 4: null") as e:
        flytecodec.from_arrow(_edited(table, ["closure", "phase"], _set(4, None)), Execution)
    assert e.value.index == 4
    chunked = pa.concat_tables([table.slice(0, 2), _edited(table, ["closure", "phase"], _set(4, None)).slice(2)])
    with pytest.raises(flytecodec.DecodeError, match=r"closure\.phase, row 4"):
        flytecodec.from_arrow(chunked, Execution)
    with pytest.raises(flytecodec.DecodeError, match=r"column spec\.tags, row 0: null"):
        flytecodec.from_arrow(_edited(table, ["spec", "tags"], _set(0, None)), Execution)


def test_null_items_and_nulls_under_null_structs():
    data = ld(3, ld(9, tag(1, 0) + b"\x01") + ld(9, tag(1, 0) + b"\x02")) + ld(2, ld(24, b"t"))
    table = nested_table(Execution, [b"", data])

    def null_item(array: pa.Array) -> pa.Array:
        return pa.array([None, *array.to_pylist()[1:]], array.type)

    edited = _edited(table, ["closure", "notifications", "[]", "phases"], _set(1, None))
    with pytest.raises(flytecodec.DecodeError, match=r"column closure\.notifications\[\]\.phases, row 1: null"):
        flytecodec.from_arrow(edited, Execution)
    with pytest.raises(flytecodec.DecodeError, match=r"column spec\.tags\[\], row 1: null"):
        flytecodec.from_arrow(_edited(table, ["spec", "tags", "[]"], null_item), Execution)
    # row 0 has no closure: a null below it is no value at all
    quiet = _edited(table, ["closure", "phase"], _set(0, None))
    assert [m.serialize_to_string() for m in flytecodec.from_arrow(quiet, Execution)] == [
        b"",
        canonical(Execution, data),
    ]


def test_bytes_that_are_not_a_message(backend):
    records = list(ODD.values())
    row = list(ODD).index("literal collections three deep")
    table = nested_table(Execution, records)
    garbage = b"\x0a\x05ab"  # a field longer than what is left
    with pytest.raises(flytecodec.DecodeError, match=r"column _rest, row 2: not a valid flyteidl.admin.Execution"):
        flytecodec.from_arrow(_edited(table, [layout.REST], _set(2, garbage)), Execution)
    with pytest.raises(flytecodec.DecodeError, match=r"column closure\._rest, row 3: not a valid"):
        flytecodec.from_arrow(_edited(table, ["closure", layout.REST], _set(3, garbage)), Execution)
    cut = ["closure", "output_data", "literals", "[]", "collection", "literals", "[]"]
    assert table.combine_chunks().column("closure").chunk(0).field("output_data").is_valid()[row].as_py()
    with pytest.raises(
        flytecodec.DecodeError,
        match=rf"column closure\.output_data\.literals\[\]\.value\.collection\.literals\[\], row {row}",
    ):
        flytecodec.from_arrow(_edited(table, cut, _set(0, garbage)), Execution)
