"""Output files of ``flytecodec decode``: Arrow tables written batch by batch, in the format the suffix names.

Every writer opens its file with the schema of the first table it is given (or, for an input without records,
the schema it is given at :meth:`TableWriter.finish`), so an empty input still gives a valid, typed file.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any, Callable

import pyarrow as pa
import pyarrow.compute as pc

# suffix → format
FORMATS = {
    ".parquet": "parquet",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
    ".jsonl": "jsonl",
    ".csv": "csv",
}


def format_for(path: str | os.PathLike) -> str:
    """The output format named by ``path``'s suffix; ``ValueError`` listing the known suffixes otherwise."""
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    try:
        return FORMATS[suffix]
    except KeyError:
        what = f"the suffix {suffix!r}" if suffix else "a name without a suffix"
        raise ValueError(f"cannot tell the output format from {what}; use one of {', '.join(FORMATS)}") from None


def writer_for(path: str | os.PathLike, fmt: str) -> TableWriter:
    return {"parquet": ParquetWriter, "arrow": IpcWriter, "jsonl": JsonLinesWriter, "csv": CsvWriter}[fmt](path)


class TableWriter:
    """Writes Arrow tables of one schema to ``path``; opened on the first table."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._opened = False

    def write(self, table: pa.Table) -> None:
        if not self._opened:
            self._open(table.schema)
            self._opened = True
        self._write(table)

    def finish(self, schema: pa.Schema) -> None:
        """Complete and close the file; ``schema`` is the one to write when no table came."""
        if not self._opened:
            self._open(schema)
        self._opened = False
        self._close()

    def abort(self) -> None:
        """Release the file after a failure (its content is not to be kept)."""
        if self._opened:
            self._opened = False
            self._close()

    def _open(self, schema: pa.Schema) -> None:
        raise NotImplementedError

    def _write(self, table: pa.Table) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError


class ParquetWriter(TableWriter):
    def _open(self, schema: pa.Schema) -> None:
        import pyarrow.parquet as pq

        self._writer = pq.ParquetWriter(self.path, schema)

    def _write(self, table: pa.Table) -> None:
        self._writer.write_table(table)

    def _close(self) -> None:
        self._writer.close()


class IpcWriter(TableWriter):
    """The Arrow IPC file format (also Feather v2).

    An IPC file allows one dictionary per column, extended by deltas but never replaced, so each batch's
    dictionary columns are re-expressed against one growing dictionary per column.
    """

    def _open(self, schema: pa.Schema) -> None:
        self._sink = pa.OSFile(self.path, "wb")
        options = pa.ipc.IpcWriteOptions(emit_dictionary_deltas=True)
        self._writer = pa.ipc.new_file(self._sink, schema, options=options)
        self._dictionaries: dict[str, _GrowingDictionary] = {}

    def _write(self, table: pa.Table) -> None:
        columns = []
        for field, column in zip(table.schema, table.columns):
            if pa.types.is_dictionary(field.type):
                grown = self._dictionaries.setdefault(field.name, _GrowingDictionary(field.type))
                column = pa.chunked_array([grown.extend(chunk) for chunk in column.chunks], field.type)
            columns.append(column)
        self._writer.write_table(pa.Table.from_arrays(columns, schema=table.schema))

    def _close(self) -> None:
        try:
            self._writer.close()
        finally:
            self._sink.close()


class _GrowingDictionary:
    """One column's dictionary across batches: values only ever appended, so later batches are deltas."""

    def __init__(self, type_: pa.DictionaryType):
        self._type = type_
        self._values: list = []
        self._positions: dict = {}
        self._array = pa.array([], type_.value_type)

    def extend(self, chunk: pa.DictionaryArray) -> pa.DictionaryArray:
        new = chunk.dictionary.to_pylist()
        if new == self._values[: len(new)]:  # the usual case: the same dictionary (or a prefix of it)
            indices = chunk.indices
        else:
            for value in new:
                if value not in self._positions:
                    self._positions[value] = len(self._values)
                    self._values.append(value)
            self._array = pa.array(self._values, self._type.value_type)
            mapping = pa.array([self._positions[value] for value in new], self._type.index_type)
            indices = pc.take(mapping, chunk.indices)
        return pa.DictionaryArray.from_arrays(indices, self._array)


# -- rows as JSON values ---------------------------------------------------------------------------------------


_SECONDS = {"s": 1, "ms": 1e3, "us": 1e6, "ns": 1e9}


def json_values(column: pa.ChunkedArray | pa.Array) -> list:
    """The values of an Arrow column as JSON-ready Python values: timestamps as ISO-8601 strings in UTC,
    durations as seconds, maps as objects, lists as arrays, binary as base64, nulls as ``None``.

    Top-level timestamps and durations are converted by Arrow compute kernels, not one Python object each."""
    type_ = column.type
    if pa.types.is_dictionary(type_):
        column, type_ = column.cast(type_.value_type), type_.value_type
    if pa.types.is_timestamp(type_):
        utc = column if type_.tz is None else column.cast(pa.timestamp(type_.unit, tz="UTC"))
        text = pc.strftime(utc, format="%Y-%m-%dT%H:%M:%S", locale="C")
        return pc.binary_join_element_wise(text, "+00:00", "").to_pylist()
    if pa.types.is_duration(type_):
        return pc.divide(column.cast(pa.int64()).cast(pa.float64()), _SECONDS[type_.unit]).to_pylist()
    convert = _converter(type_)
    values = column.to_pylist()
    return values if convert is _identity else [convert(v) for v in values]


def _converter(type_: pa.DataType) -> Callable[[Any], Any]:
    """A function turning one value of ``to_pylist()`` of a ``type_`` column into a JSON-ready value."""
    if pa.types.is_dictionary(type_):
        return _converter(type_.value_type)
    if pa.types.is_timestamp(type_):
        return _null_safe(_iso_utc)
    if pa.types.is_duration(type_):
        return _null_safe(lambda v: v.total_seconds() if hasattr(v, "total_seconds") else v / 1e9)
    if pa.types.is_date(type_) or pa.types.is_time(type_):
        return _null_safe(lambda v: v.isoformat())
    if pa.types.is_decimal(type_):
        return _null_safe(str)
    if pa.types.is_binary(type_) or pa.types.is_large_binary(type_) or pa.types.is_fixed_size_binary(type_):
        return _null_safe(lambda v: base64.b64encode(v).decode("ascii"))
    if pa.types.is_map(type_):
        key, item = _converter(type_.key_type), _converter(type_.item_type)
        return _null_safe(lambda v: {str(key(k)): item(x) for k, x in v})
    if pa.types.is_list(type_) or pa.types.is_large_list(type_) or pa.types.is_fixed_size_list(type_):
        element = _converter(type_.value_type)
        return _null_safe(lambda v: [element(x) for x in v])
    if pa.types.is_struct(type_):
        fields = [(f.name, _converter(f.type)) for f in type_]
        return _null_safe(lambda v: {name: convert(v[name]) for name, convert in fields})
    return _identity


def _identity(value):
    return value


def _null_safe(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda v: None if v is None else convert(v)


def _iso_utc(value) -> str:
    """``2024-05-01T12:00:00.123456+00:00`` — the form ``datetime.fromisoformat`` reads back on every Python."""
    import datetime

    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc).isoformat()


class JsonLinesWriter(TableWriter):
    """One JSON object per record, one per line, UTF-8."""

    def _open(self, schema: pa.Schema) -> None:
        self._file = open(self.path, "w", encoding="utf-8", newline="\n")  # noqa: SIM115 (closed in _close)

    def _write(self, table: pa.Table) -> None:
        names = table.column_names
        columns = [json_values(column) for column in table.columns]
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        self._file.writelines(dumps(dict(zip(names, row))) + "\n" for row in zip(*columns))

    def _close(self) -> None:
        self._file.close()


class CsvWriter(TableWriter):
    """CSV with a header row. Dictionary columns are written as their strings, durations as seconds, and
    nested columns (maps, lists, structs) as JSON text."""

    def _open(self, schema: pa.Schema) -> None:
        import pyarrow.csv as csv

        self._writer = csv.CSVWriter(self.path, _csv_schema(schema))

    def _write(self, table: pa.Table) -> None:
        columns = [_csv_column(column) for column in table.columns]
        self._writer.write_table(pa.Table.from_arrays(columns, schema=_csv_schema(table.schema)))

    def _close(self) -> None:
        self._writer.close()


def _is_nested(type_: pa.DataType) -> bool:
    return pa.types.is_nested(type_) or pa.types.is_binary(type_) or pa.types.is_large_binary(type_)


def _csv_type(type_: pa.DataType) -> pa.DataType:
    if pa.types.is_dictionary(type_):
        return _csv_type(type_.value_type)
    if pa.types.is_duration(type_):
        return pa.float64()
    if _is_nested(type_):
        return pa.string()
    return type_


def _csv_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, _csv_type(f.type)) for f in schema])


def _csv_column(column: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    type_ = column.type
    if pa.types.is_dictionary(type_):
        column = column.cast(type_.value_type)
        type_ = type_.value_type
    if pa.types.is_duration(type_):
        return pa.array(json_values(column), pa.float64())
    if _is_nested(type_):
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        return pa.array([None if v is None else dumps(v) for v in json_values(column)], pa.string())
    return column
