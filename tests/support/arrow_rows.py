"""An Arrow table's rows as Python values read exactly: timestamps and durations as their int64 nanoseconds
(``to_pylist`` would otherwise round them to microseconds)."""

from __future__ import annotations

import pyarrow as pa


def exact_type(t: pa.DataType) -> pa.DataType:
    """``t`` with its timestamps and durations, at any depth, as int64."""
    if pa.types.is_timestamp(t) or pa.types.is_duration(t):
        return pa.int64()
    if pa.types.is_struct(t):
        return pa.struct([f.with_type(exact_type(f.type)) for f in t])
    if pa.types.is_map(t):
        return pa.map_(t.key_field.with_type(exact_type(t.key_type)), t.item_field.with_type(exact_type(t.item_type)))
    if pa.types.is_list(t):
        return pa.list_(t.value_field.with_type(exact_type(t.value_type)))
    return t


def exact_rows(table: pa.Table) -> list[dict]:
    """The rows of ``table`` as dicts, times as int64 nanoseconds."""
    schema = pa.schema([f.with_type(exact_type(f.type)) for f in table.schema])
    return table.cast(schema).to_pylist()
