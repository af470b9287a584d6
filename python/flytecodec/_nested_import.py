"""A table of the nested layout back to records: :func:`flytecodec.from_arrow`.

On the native backend the records are written in Rust (``_native.nested_to_records``: upb's deterministic bytes
straight from the Arrow buffers, without the GIL, on every core). On the python backend the table is read
column-wise: for each field of a message, its column over all the rows sets that field in the
protobuf messages (upb's, the pb2 classes) of the rows where the message is present; a struct column goes down
into its submessages the same way, and each message's ``_rest`` is merged into it after its columns. The messages
are serialized deterministically and decoded by the active backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from google.protobuf.message import DecodeError as _PbDecodeError

from flytecodec import kinds as _kinds
from flytecodec import layout as _layout
from flytecodec.exceptions import DecodeError

if TYPE_CHECKING:
    import pyarrow as pa
    from google.protobuf.message import Message

    from flytecodec.bulk import Batch

NANOS = 1_000_000_000
NATIVE_REFUSED = "cannot import the Arrow batch"  # how _native.nested_to_records says arrow-rs refused a batch


def from_arrow(table, model) -> Batch:
    """See :func:`flytecodec.nested.from_arrow`."""
    from flytecodec.bulk import decode

    pa = _layout._pyarrow()
    model = _model(model)
    message_class = model._pb_class
    descriptor = message_class.DESCRIPTOR
    if isinstance(table, pa.RecordBatch):
        batches = [table]
    elif isinstance(table, pa.Table):
        batches = table.to_batches()
    else:
        raise TypeError(f"from_arrow() takes a pyarrow.Table or RecordBatch, got {type(table).__name__}")
    check_schema(table.schema, model)
    native = _native_import()
    if native is not None:  # the native backend: the records written in Rust, straight from the Arrow buffers
        try:
            return decode(model, native(_layout.plan(descriptor), batches), framing="delimited")
        except DecodeError:
            raise
        except ValueError as error:
            if not str(error).startswith(NATIVE_REFUSED):
                raise
            # arrow-rs refuses arrays it finds invalid (a null under a field that is not nullable, ...): the
            # importer below reads them anyway, and names the column and the row of what is wrong
    reader = _Reader(_layout.plan(descriptor), descriptor.full_name)
    records: list[bytes] = []
    for batch in batches:
        messages = [message_class() for _ in range(batch.num_rows)]
        start = len(records)
        reader.fill(0, batch.columns, messages, list(range(start, start + batch.num_rows)), "")
        records.extend(m.SerializeToString(deterministic=True) for m in messages)
    return decode(model, records)


def _native_import():
    """``_native.nested_to_records`` when the native backend is active, else None (the python backend builds
    upb messages)."""
    from flytecodec._backend import backend

    if backend() != "native":
        return None
    from flytecodec import _native

    return getattr(_native, "nested_to_records", None)


def _model(model) -> type:
    """The model class of ``model``: a model class of a record kind, or a kind's name."""
    if isinstance(model, str):
        return _kinds.get(model).load()
    name = getattr(model, "_pb_name", None) if isinstance(model, type) else None
    if name not in _kinds.BY_MESSAGE:
        names = ", ".join(kind.model for kind in _kinds.KINDS.values())
        raise TypeError(f"from_arrow() needs the model class of a record kind ({names}) or a kind name, got {model!r}")
    return model


# -- the schema --------------------------------------------------------------------------------------------------


def check_schema(schema: pa.Schema, model) -> None:
    """``ValueError`` unless ``schema`` is ``model``'s nested schema, field metadata aside: naming the first column
    that differs, or saying that a table of the flat layout was given."""
    descriptor = model._pb_class.DESCRIPTOR
    expected = _layout.schema(descriptor)
    if schema.equals(expected, check_metadata=False):
        return
    need = "from_arrow() needs a table from batch.to_arrow(layout='nested') (or its Parquet)"
    if _is_flat(schema, model):
        raise ValueError(
            f"this is a table of the flat layout (to_arrow()'s default), which keeps only some fields; {need}"
        )
    problem = _first_difference(list(schema), list(expected), "")
    raise ValueError(f"not a nested table of {descriptor.full_name}: {problem}; {need}")


def _is_flat(schema: pa.Schema, model) -> bool:
    from flytecodec.columns import column_names

    names = set(schema.names)
    return _layout.REST not in names and bool(names) and names <= set(column_names(model))


def _first_difference(got: list[pa.Field], want: list[pa.Field], path: str) -> str:
    """Where the fields ``got`` first differ from ``want`` (field metadata aside), in words."""
    for index, expected in enumerate(want):
        name = f"{path}{expected.name}"
        if index >= len(got):
            return f"column {name!r} is missing (expected {expected.type})"
        found = got[index]
        if found.name != expected.name:
            return f"column {found.name!r} where {name!r} ({expected.type}) was expected"
        if found.nullable != expected.nullable:
            want_null = "nullable" if expected.nullable else "not nullable"
            return f"column {name!r} should be {want_null}"
        if found.type.equals(expected.type, check_metadata=False):
            continue
        inner = _inner_difference(found.type, expected.type, name)
        return inner or f"column {name!r} is {found.type}, expected {expected.type}"
    extra = got[len(want) :]
    return f"column {path}{extra[0].name!r} is not in the layout" if extra else "the schemas differ"


def _children(arrow_type: pa.DataType) -> list[pa.Field] | None:
    pa = _layout._pyarrow()
    if pa.types.is_struct(arrow_type):
        return list(arrow_type)
    if pa.types.is_map(arrow_type):
        return [arrow_type.key_field, arrow_type.item_field]
    if pa.types.is_list(arrow_type):
        return [arrow_type.value_field]
    return None


def _inner_difference(got: pa.DataType, want: pa.DataType, name: str) -> str | None:
    mine, theirs = _children(got), _children(want)
    if mine is None or theirs is None or type(got) is not type(want):
        return None
    pa = _layout._pyarrow()
    separator = "." if pa.types.is_struct(want) else "[]."
    return _first_difference(mine, theirs, f"{name}{separator}")


# -- the values --------------------------------------------------------------------------------------------------


def _seconds_nanos(kind: str, total: int) -> tuple[int, int]:
    """A timestamp's or duration's nanoseconds as protobuf's ``(seconds, nanos)``: a timestamp's nanos are
    ``0..10^9`` (floor division), a duration's have the sign of its seconds (division toward zero)."""
    if kind == "timestamp" or total >= 0:
        return divmod(total, NANOS)
    seconds = -(-total // NANOS)
    return seconds, total - seconds * NANOS


def _python_values(array: pa.Array, kind: str) -> list:
    """The Python values of ``array`` (None for null); times as their int nanoseconds."""
    pa = _layout._pyarrow()
    if kind in ("timestamp", "duration"):
        array = array.cast(pa.int64())
    return array.to_pylist()


class _Reader:
    """Fills protobuf messages from the columns of a plan's nodes."""

    def __init__(self, plan: _layout.Plan, message: str):
        self.plan = plan
        self.message = message

    def _error(self, path: str, row: int, what: str) -> DecodeError:
        return DecodeError(f"column {path}, row {row}: {what}", index=row, model=self.message)

    def _check_valid(self, array: pa.Array, live: list[int], rows: list[int], path: str) -> None:
        """DecodeError at the first of the ``live`` positions where ``array`` (non-nullable) is null."""
        if array.null_count == 0:
            return
        valid = array.is_valid().to_pylist()
        for i in live:
            if not valid[i]:
                raise self._error(path, rows[i], "null, where the schema forbids one")

    def _merge(self, message: Message, data: bytes, path: str, row: int) -> None:
        try:
            message.MergeFromString(data)
        except _PbDecodeError as e:
            raise self._error(path, row, f"not a valid {message.DESCRIPTOR.full_name} message ({e})") from None

    def fill(self, node: int, columns: list[pa.Array], targets: list, rows: list[int], path: str) -> None:
        """Set the fields of ``targets`` (the messages of ``node``, None where there is none) from ``columns``
        (the node's struct children: one per slot, then ``_rest``); ``rows`` gives each position's table row."""
        live = [i for i, target in enumerate(targets) if target is not None]
        if not live:
            return
        slots = self.plan[node].slots
        for slot, column in zip(slots, columns):
            where = f"{path}{slot.name}"
            if slot.shape == "repeated":
                self._repeated(slot, column, targets, live, rows, where)
            elif slot.shape == "map":
                self._map(slot, column, targets, live, rows, where)
            else:
                self._single(slot, column, targets, live, rows, where)
        rest = columns[len(slots)].to_pylist()
        where = f"{path}{_layout.REST}"
        for i in live:
            if rest[i] is not None:
                self._merge(targets[i], rest[i], where, rows[i])

    def _single(self, slot: _layout.Slot, column: pa.Array, targets: list, live, rows, path: str) -> None:
        kind, name = slot.kind, slot.name
        if slot.shape == "single":
            self._check_valid(column, live, rows, path)
        if kind == "message":
            valid = column.is_valid().to_pylist()
            children: list = [None] * len(targets)
            for i in live:
                if valid[i]:
                    child = children[i] = getattr(targets[i], name)
                    child.SetInParent()
            self.fill(slot.child, [column.field(k) for k in range(column.type.num_fields)], children, rows, path + ".")
            return
        values = _python_values(column, kind)
        for i in live:
            value = values[i]
            if value is not None:
                if kind in _layout.SCALAR_KINDS:
                    setattr(targets[i], name, value)
                else:
                    self._set(getattr(targets[i], name), kind, value, path, rows[i])

    def _set(self, message: Message, kind: str, value, path: str, row: int) -> None:
        """Set ``message`` (a timestamp, duration, wrapper or cut message, already in its parent) to ``value``."""
        message.SetInParent()
        if kind == "cut":
            self._merge(message, value, path, row)
        elif kind in ("timestamp", "duration"):
            message.seconds, message.nanos = _seconds_nanos(kind, value)
        else:  # a wrapper
            message.value = value

    def _elements(self, column: pa.Array, live: list[int], rows: list[int], path: str) -> list[tuple[int, int, int]]:
        """``(position, first, end)`` of the elements of each live list (or map) of ``column``, its items being
        ``column.values[first:end]``; checks that none of those lists is null (their items are checked by the
        caller)."""
        self._check_valid(column, live, rows, path)
        offsets = column.offsets.to_pylist()
        return [(i, offsets[i], offsets[i + 1]) for i in live]

    def _repeated(self, slot: _layout.Slot, column: pa.Array, targets: list, live, rows, path: str) -> None:
        kind, name = slot.kind, slot.name
        spans = self._elements(column, live, rows, path)
        items = column.values
        item_path = f"{path}[]"
        item_rows = self._item_rows(spans, len(items), rows)
        self._check_valid(items, [j for _, a, b in spans for j in range(a, b)], item_rows, item_path)
        if kind == "message":
            children: list = [None] * len(items)
            for i, a, b in spans:
                container = getattr(targets[i], name)
                for j in range(a, b):
                    children[j] = container.add()
            fields = [items.field(k) for k in range(items.type.num_fields)]
            self.fill(slot.child, fields, children, item_rows, item_path + ".")
            return
        values = _python_values(items, kind)
        for i, a, b in spans:
            container = getattr(targets[i], name)
            if kind in _layout.SCALAR_KINDS:
                container.extend(values[a:b])
            else:
                for j in range(a, b):
                    self._set(container.add(), kind, values[j], item_path, rows[i])

    def _map(self, slot: _layout.Slot, column: pa.Array, targets: list, live, rows, path: str) -> None:
        kind, name = slot.kind, slot.name
        spans = self._elements(column, live, rows, path)
        entries = column.values
        keys, items = entries.field(0), entries.field(1)
        entry_rows = self._item_rows(spans, len(entries), rows)
        inside = [j for _, a, b in spans for j in range(a, b)]
        self._check_valid(keys, inside, entry_rows, f"{path}[].key")
        value_path = f"{path}[].value"
        self._check_valid(items, inside, entry_rows, value_path)
        key_values = keys.to_pylist()
        if kind == "message":
            children: list = [None] * len(entries)
            for i, a, b in spans:
                container = getattr(targets[i], name)
                for j in range(a, b):
                    children[j] = container[key_values[j]]
            fields = [items.field(k) for k in range(items.type.num_fields)]
            self.fill(slot.child, fields, children, entry_rows, value_path + ".")
            return
        values = _python_values(items, kind)
        for i, a, b in spans:
            container = getattr(targets[i], name)
            for j in range(a, b):
                if kind in _layout.SCALAR_KINDS:
                    container[key_values[j]] = values[j]
                else:
                    self._set(container[key_values[j]], kind, values[j], value_path, rows[i])

    @staticmethod
    def _item_rows(spans: list[tuple[int, int, int]], count: int, rows: list[int]) -> list[int]:
        """The table row of each item of a list column's values (-1 for items of no live list)."""
        item_rows = [-1] * count
        for i, a, b in spans:
            for j in range(a, b):
                item_rows[j] = rows[i]
        return item_rows
