"""Columnar export: a :class:`~flytecodec.Batch` as a ``pyarrow.Table`` (and so Parquet, pandas, polars).

The columns of each record kind are defined in :mod:`flytecodec.columns` (``docs/columns.md`` lists them).
On the native backend the columns are built in Rust from the record bytes, without the GIL and without a
Python object per value, and cross into pyarrow through the Arrow C data interface (the PyCapsule protocol).
The python backend builds the same table from protobuf's messages.

``to_arrow(..., layout="nested")`` gives every field instead, nested as the message is (``docs/nested.md``):
:mod:`flytecodec.nested` builds it, and :func:`flytecodec.from_arrow` reads it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from flytecodec.columns import Resolved, select

if TYPE_CHECKING:
    import pyarrow as pa

    from flytecodec.bulk import Batch

INT64 = (-(1 << 63), (1 << 63) - 1)
ERRORS = ("raise", "null")  # what to do with a time outside Arrow's range


def _pyarrow():
    try:
        import pyarrow
    except ImportError:
        raise ImportError("columnar export needs pyarrow: pip install 'flytecodec[arrow]'") from None
    return pyarrow


def arrow_type(column: Resolved) -> pa.DataType:
    """The Arrow type of a column."""
    pa = _pyarrow()
    kind = column.kind
    if kind == "string":
        return pa.string()
    if kind in ("bool", "bool_wrapper"):
        return pa.bool_()
    if kind in ("int32", "int64", "uint32", "uint64"):
        return getattr(pa, kind)()
    if kind == "enum":
        return pa.dictionary(pa.int32(), pa.string())
    if kind == "enum_number":
        return pa.int32()
    if kind == "timestamp":
        return pa.timestamp("us", tz="UTC")
    if kind == "duration":
        return pa.duration("us")
    if kind == "map":
        return pa.map_(pa.string(), pa.string())
    if kind == "list":
        return pa.list_(pa.string())
    raise AssertionError(f"column kind {kind}")


def schema(model, columns: Sequence[str] | None = None) -> pa.Schema:
    """The schema of ``model``'s table (every column, or those named in ``columns``)."""
    pa = _pyarrow()
    return pa.schema([pa.field(c.name, arrow_type(c)) for c in select(model, columns)])


LAYOUTS = ("flat", "nested")


def to_arrow(
    batch: Batch, columns: Sequence[str] | None = None, errors: str = "raise", layout: str = "flat"
) -> pa.Table:
    """``batch`` as a table of the columns named in ``columns`` (all when ``None``); only those are read.

    :param errors: a timestamp or duration outside Arrow's range (int64 microseconds: about 292 000 years
        either side of 1970) raises ``ValueError`` naming the record and column (``"raise"``), or is null
        (``"null"``). The nested layout never raises: a value its column cannot hold is kept in ``_rest``.
    :param layout: ``"flat"``, the columns of ``docs/columns.md``; or ``"nested"``, every field of the
        message nested as it is (``docs/nested.md``, :func:`flytecodec.nested.to_arrow`), which
        :func:`flytecodec.from_arrow` turns back into the records. ``columns`` is for the flat layout only.
    """
    pa = _pyarrow()
    if errors not in ERRORS:
        raise ValueError(f"errors must be 'raise' or 'null', got {errors!r}")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be 'flat' or 'nested', got {layout!r}")
    if layout == "nested":
        if columns is not None:
            raise ValueError("columns= is for the flat layout: the nested layout has every field")
        from flytecodec.nested import to_arrow as nested_table

        return nested_table(batch)
    if columns is not None and not isinstance(columns, str):
        columns = tuple(columns)
    chosen, target, specs, names = _plan(batch.model, columns, errors)
    records = batch._records
    if hasattr(records, "arrow_columns"):  # a native batch: columns built in Rust
        exported = records.arrow_columns(batch.model._pb_name, specs, names)
        table = pa.Table.from_batches([pa.record_batch(part) for part in exported])
    elif chosen:
        table = pa.Table.from_arrays(_python_columns(records, chosen, errors), schema=target)
    else:  # no column: a table that still has a row per record
        rows = pa.array([{}] * len(records), type=pa.struct([]))
        table = pa.Table.from_batches([pa.RecordBatch.from_struct_array(rows)])
    if not table.schema.equals(target):
        raise AssertionError(f"built {table.schema}, expected {target}")
    return table


@lru_cache(maxsize=256)
def _plan(model, columns: tuple[str, ...] | None, errors: str = "raise"):
    """What a table of ``columns`` of ``model`` needs, made once: the resolved columns, the schema, and the
    column specs and enum names the native builder takes (``timestamp_or_null``: out of range gives null)."""
    pa = _pyarrow()
    chosen = select(model, columns)
    target = pa.schema([pa.field(c.name, arrow_type(c)) for c in chosen])
    nullable = errors == "null"
    specs = [(c.name, c.numbers, _native_kind(c.kind, nullable), c.enum_numbers) for c in chosen]
    names = [list(c.enum_names) for c in chosen]
    return chosen, target, specs, names


def _native_kind(kind: str, nullable: bool) -> str:
    """A column kind as the native builder takes it: ``timestamp_or_null`` for a time that is null when out
    of range."""
    return f"{kind}_or_null" if nullable and kind in ("timestamp", "duration") else kind


def to_pandas(batch: Batch, columns: Sequence[str] | None = None, errors: str = "raise"):
    """``batch`` as a ``pandas.DataFrame`` (through :func:`to_arrow`). Map columns (``labels``,
    ``annotations``, ...) hold dicts and list columns (``tags``, ...) lists, ``{}`` and ``[]`` where the table
    has null (no entries), so that every cell of such a column can be used the same way."""
    pa = _pyarrow()
    table = to_arrow(batch, columns, errors)
    frame = table.to_pandas(maps_as_pydicts="strict")
    for field in table.schema:
        if pa.types.is_map(field.type):
            frame[field.name] = _filled(frame[field.name], dict)
        elif pa.types.is_list(field.type):
            frame[field.name] = _filled(frame[field.name], list)
    return frame


def _filled(series, empty: type):
    """``series`` (of objects) with ``empty()`` for each missing value; lists as lists, not numpy arrays."""
    import pandas

    values = [empty() if value is None else empty(value) for value in series]
    return pandas.Series(values, index=series.index, dtype=object, name=series.name)


def to_polars(batch: Batch, columns: Sequence[str] | None = None, errors: str = "raise"):
    """``batch`` as a ``polars.DataFrame`` (through :func:`to_arrow`, without copying the buffers)."""
    try:
        import polars
    except ImportError:
        raise ImportError("to_polars() needs polars: pip install 'flytecodec[polars]'") from None
    return polars.from_arrow(to_arrow(batch, columns, errors))


# The python backend: the same columns from protobuf messages.


def _python_columns(records: Sequence, chosen: Sequence[Resolved], errors: str = "raise") -> list[pa.Array]:
    pa = _pyarrow()
    values: list[list[Any]] = [[] for _ in chosen]
    tree = _tree(chosen, errors)
    for index, message in enumerate(records):
        _visit(tree, message, values, index)
    arrays = []
    for column, column_values in zip(chosen, values):
        if column.kind == "enum":
            indices = pa.array(column_values, pa.int32())
            arrays.append(pa.DictionaryArray.from_arrays(indices, pa.array(column.enum_names, pa.string())))
        else:
            arrays.append(pa.array(column_values, arrow_type(column)))
    return arrays


def _tree(chosen: Sequence[Resolved], errors: str) -> dict:
    """The columns as a tree of field names: ``{name: (subtree or None, [(column index, reader)])}``."""
    tree: dict = {}
    for i, column in enumerate(chosen):
        node = tree
        for field in column.fields[:-1]:
            sub, leaves = node.setdefault(field.name, (None, []))
            if sub is None:
                sub = {}
                node[field.name] = (sub, leaves)
            node = sub
        node.setdefault(column.fields[-1].name, (None, []))[1].append((i, _reader(column, errors)))
    return tree


def _visit(tree: dict, message, values: list[list[Any]], index: int) -> None:
    """Append to ``values`` what each column under ``tree`` reads in ``message`` (``None``: not set)."""
    for name, (sub, leaves) in tree.items():
        if sub is not None:
            _visit(
                sub, getattr(message, name) if message is not None and message.HasField(name) else None, values, index
            )
        for i, read in leaves:
            values[i].append(None if message is None else read(message, name, index))


def _reader(column: Resolved, errors: str):
    """How a column reads its field of a (set) message: ``read(message, field name, record index)``."""
    kind = column.kind
    if kind == "string":
        return lambda m, name, _: getattr(m, name) or None
    if kind == "enum":
        position = {number: i for i, number in enumerate(column.enum_numbers)}
        return lambda m, name, _: position.get(getattr(m, name))
    if kind in ("timestamp", "duration"):
        nullable = errors == "null"
        return lambda m, name, index: (
            _micros(column.name, index, getattr(m, name), nullable) if m.HasField(name) else None
        )
    if kind == "bool_wrapper":
        return lambda m, name, _: getattr(m, name).value if m.HasField(name) else None
    if kind == "map":
        return lambda m, name, _: sorted(getattr(m, name).items()) or None
    if kind == "list":
        return lambda m, name, _: list(getattr(m, name)) or None
    return lambda m, name, _: getattr(m, name)


def _micros(column: str, index: int, value, nullable: bool) -> int | None:
    """A Timestamp's or Duration's whole microseconds (nanoseconds cut toward zero); out of Arrow's range, None
    when ``nullable``, else ``ValueError``."""
    nanos = value.nanos
    micros = value.seconds * 1_000_000 + (nanos // 1000 if nanos >= 0 else -(-nanos // 1000))
    if not INT64[0] <= micros <= INT64[1]:
        if nullable:
            return None
        raise ValueError(f"record {index}: column {column}: {micros} µs is outside Arrow's int64 range")
    return micros
