"""The nested Arrow layout: every field of the records, nested as the message is, and back.

:func:`to_arrow` is ``Batch.to_arrow(layout="nested")``: the table whose schema is
:func:`flytecodec.layout.schema` of the batch's message. A native batch whose extension has the Rust builder
builds it there; otherwise (the python backend, or an extension without it) the builder below does, from the
records' bytes, by the reading rules of ``docs/nested.md`` (which are upb's). It is the reference the Rust builder
is checked against, so it is written to be read: one pass over the bytes of each message splits them into the
occurrences of each field, then each field becomes one Arrow array over all the rows (:meth:`_Builder.build`,
recursive on the nodes of the plan).

:func:`from_arrow` is the way back (``flytecodec.from_arrow``): such a table (or its Parquet) to a
:class:`~flytecodec.Batch` again; see :mod:`flytecodec._nested_import`.
"""

from __future__ import annotations

import functools
import struct
from typing import TYPE_CHECKING, NamedTuple

from flytecodec import layout as _layout
from flytecodec.framing import read_varint

if TYPE_CHECKING:
    import pyarrow as pa
    from google.protobuf.descriptor import Descriptor

    from flytecodec.bulk import Batch


def to_arrow(batch: Batch) -> pa.Table:
    """``batch`` as a table of the nested layout: one row per record, every field (``docs/nested.md``).

    A native batch is built in Rust when the extension can (``RecordList.arrow_nested``), otherwise by
    :func:`build_table`. Either way the table's schema is ``flytecodec.layout.schema`` of the record's message,
    field metadata included; a schema that differs is a bug (``AssertionError``).
    """
    pa = _layout._pyarrow()
    descriptor = batch.model._pb_class.DESCRIPTOR
    target = _layout.schema(descriptor)
    records = batch._records
    if hasattr(records, "arrow_nested"):  # a native batch: built in Rust from the same plan
        parts = [pa.record_batch(part) for part in records.arrow_nested(_layout.plan(descriptor))]
        table = pa.Table.from_batches(parts, schema=None if parts else target)
    else:
        table = build_table(descriptor, [records.raw(i) for i in range(len(records))])
    if not table.schema.equals(target, check_metadata=True):
        raise AssertionError(f"built {table.schema}, expected {target}")
    return table


def from_arrow(table, model) -> Batch:
    """A :class:`~flytecodec.Batch` of the records of ``table``, a table of the nested layout
    (``batch.to_arrow(layout="nested")``, or its Parquet read back with pyarrow).

    :param table: a ``pyarrow.Table`` (of any number of chunks) or ``pyarrow.RecordBatch``.
    :param model: the model class of a record kind (e.g. ``flytecodec.models.execution.Execution``), or the
        kind's name (``"execution"``, ``"node-execution"``, ... as in ``flytecodec.kinds.KINDS``).
    :returns: the records, decoded by the active backend; each serializes to exactly what protobuf's
        deterministic serialization (``SerializeToString(deterministic=True)``) of the original message gives.
    :raises ValueError: when the table's schema is not the kind's nested schema (field metadata aside): the
        message names the first column that differs. A table of the flat layout (``to_arrow()``) is refused
        so too.
    :raises flytecodec.DecodeError: for a null where the schema forbids one, or ``_rest`` or cut bytes that are
        not a valid message, naming the column and the row.
    """
    from flytecodec._nested_import import from_arrow as _from_arrow

    return _from_arrow(table, model)


def build_table(descriptor: Descriptor, records: list[bytes]) -> pa.Table:
    """The nested table of ``records`` (the bytes of messages of ``descriptor``'s type, each valid as upb reads
    it), built in Python."""
    pa = _layout._pyarrow()
    top = _Builder(descriptor).build(0, [bytes(record) for record in records])
    return pa.Table.from_arrays([top.field(i) for i in range(top.type.num_fields)], schema=_layout.schema(descriptor))


# -- reading the wire --------------------------------------------------------------------------------------------

VARINT, I64, LEN, SGROUP, EGROUP, I32 = 0, 1, 2, 3, 4, 5


class Occurrence(NamedTuple):
    """One field as it occurs in a message's bytes."""

    pos: int
    """Its place among the occurrences of its message (a merged message counting across its pieces)."""
    wire: int
    value: int | bytes | None
    """A varint as an unsigned int, a fixed-size value as an unsigned int of its bytes (little endian), a
    length-delimited value as its bytes; None for a group."""
    raw: bytes
    """Tag and value, as they are in the record."""


def _skip_group(data: bytes, pos: int, number: int) -> int:
    """The position after the end-group tag closing the group ``number`` that starts at ``pos``."""
    while True:
        key, pos = read_varint(data, pos)
        wire = key & 7
        if wire == EGROUP:
            if key >> 3 != number:
                raise ValueError("mismatched end-group tag")
            return pos
        pos = _skip_value(data, pos, wire, key >> 3)


def _skip_value(data: bytes, pos: int, wire: int, number: int) -> int:
    if wire == VARINT:
        return read_varint(data, pos)[1]
    if wire == I64:
        return pos + 8
    if wire == I32:
        return pos + 4
    if wire == LEN:
        length, pos = read_varint(data, pos)
        return pos + length
    if wire == SGROUP:
        return _skip_group(data, pos, number)
    raise ValueError(f"wire type {wire}")


def occurrences(data: bytes, start: int = 0) -> list[tuple[int, Occurrence]]:
    """``(field number, occurrence)`` of each field of the message ``data``, in order; positions from
    ``start``."""
    found = []
    pos, end, index = 0, len(data), start
    while pos < end:
        tag_start = pos
        key, pos = read_varint(data, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes | None
        if wire == VARINT:
            value, pos = read_varint(data, pos)
        elif wire == I64:
            value, pos = int.from_bytes(data[pos : pos + 8], "little"), pos + 8
        elif wire == I32:
            value, pos = int.from_bytes(data[pos : pos + 4], "little"), pos + 4
        elif wire == LEN:
            length, pos = read_varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif wire == SGROUP:
            value, pos = None, _skip_group(data, pos, number)
        else:
            raise ValueError(f"wire type {wire} at byte {tag_start}")
        if pos > end:
            raise ValueError(f"a field runs past the end of its message at byte {tag_start}")
        found.append((number, Occurrence(index, wire, value, data[tag_start:pos])))
        index += 1
    return found


# -- reading values ----------------------------------------------------------------------------------------------

_WIRE = {
    "double": I64,
    "fixed64": I64,
    "sfixed64": I64,
    "float": I32,
    "fixed32": I32,
    "sfixed32": I32,
    "string": LEN,
    "bytes": LEN,
}
"""The wire type of each scalar kind that is not a varint."""

_DEFAULTS = {"bool": False, "string": "", "bytes": b""}
"""The default of each scalar kind that is not 0."""


def wire_of(kind: str) -> int:
    """The wire type of one value of ``kind`` (not packed)."""
    if kind in _layout.SCALAR_KINDS:
        return _WIRE.get(kind, VARINT)
    return LEN  # message, cut, timestamp, duration, wrappers


def packable(kind: str) -> bool:
    """Whether a repeated field of ``kind`` may come as a packed run."""
    return kind in _layout.SCALAR_KINDS and kind not in ("string", "bytes")


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) else value


def scalar(kind: str, value: int | bytes) -> int | bool | str | bytes:
    """One scalar of ``kind`` as it comes from the wire (an unsigned int or the bytes), as Python reads it; a
    ``float`` or ``double`` is kept as the unsigned int of its bits (see :func:`_array`)."""
    if kind in ("int64", "sfixed64"):
        return _signed(value, 64)
    if kind in ("int32", "enum", "sfixed32"):
        return _signed(value & 0xFFFF_FFFF, 32)
    if kind == "uint32":
        return value & 0xFFFF_FFFF
    if kind == "bool":
        return value != 0
    if kind == "sint32":
        value &= 0xFFFF_FFFF
        return (value >> 1) ^ -(value & 1)
    if kind == "sint64":
        return (value >> 1) ^ -(value & 1)
    if kind == "string":
        return value.decode("utf-8")
    return value  # uint64, fixed64, fixed32, bytes; float and double as their bits


def default(kind: str):
    return _DEFAULTS.get(kind, 0)


def unpacked(kind: str, run: bytes) -> list:
    """The values of a packed run of ``kind``."""
    wire = wire_of(kind)
    if wire == I64:
        return [scalar(kind, v) for (v,) in struct.iter_unpack("<Q", run)]
    if wire == I32:
        return [scalar(kind, v) for (v,) in struct.iter_unpack("<I", run)]
    values, pos = [], 0
    while pos < len(run):
        value, pos = read_varint(run, pos)
        values.append(scalar(kind, value))
    return values


NANOS = 1_000_000_000
INT64 = (-(1 << 63), (1 << 63) - 1)


def special(kind: str, payload: bytes) -> tuple[bool, object]:
    """A ``timestamp``, ``duration`` or ``wrapper:<kind>`` read from its (merged) bytes: ``(True, value)``, or
    ``(False, None)`` when the Arrow type cannot hold it exactly (the field then goes to ``_rest``).

    A time is its nanoseconds since the epoch (a duration: in all); a wrapper its scalar.
    """
    if kind.startswith("wrapper:"):
        inner = kind.removeprefix("wrapper:")
        value = default(inner)
        for number, occ in occurrences(payload):
            if number != 1 or occ.wire != wire_of(inner):
                return False, None
            value = scalar(inner, occ.value)
        return True, value
    seconds = nanos = 0
    for number, occ in occurrences(payload):
        if occ.wire != VARINT or number not in (1, 2):
            return False, None
        if number == 1:
            seconds = _signed(occ.value, 64)
        else:
            nanos = _signed(occ.value & 0xFFFF_FFFF, 32)
    if kind == "timestamp":
        fits = 0 <= nanos < NANOS
    else:  # a duration's seconds and nanos have the same sign
        fits = -NANOS < nanos < NANOS and not (seconds < 0 < nanos or nanos < 0 < seconds)
    total = seconds * NANOS + nanos
    if not fits or not INT64[0] <= total <= INT64[1]:
        return False, None
    return True, total


def _special(kind: str) -> bool:
    return kind in ("timestamp", "duration") or kind.startswith("wrapper:")


# -- building the arrays -----------------------------------------------------------------------------------------


class _Message:
    """The occurrences of one message's fields (one row of a node): by slot, and those for ``_rest``."""

    __slots__ = ("fits", "rest")

    def __init__(self, node: _NodeInfo, payload: bytes | None):
        self.fits: dict[int, list[Occurrence]] = {}
        self.rest: list[Occurrence] = []
        if payload is None:
            return
        for number, occ in occurrences(payload):
            found = node.by_number.get(number)
            if found is None:
                self.rest.append(occ)  # an unknown field
                continue
            index, wires = found
            if occ.wire in wires:
                self.fits.setdefault(index, []).append(occ)
            else:
                self.rest.append(occ)  # a known number with the wrong wire type: unknown too
        for members in node.oneofs:
            self._choose(members)

    def _choose(self, members: list[int]) -> None:
        """Keep of a oneof only the member that came last, and of it only what came after the last switch."""
        present = [(self.fits[m][-1].pos, m) for m in members if m in self.fits]
        if len(present) < 2:
            return
        _, chosen = max(present)
        switch = max(self.fits[m][-1].pos for m in members if m in self.fits and m != chosen)
        for m in members:
            if m != chosen:
                self.fits.pop(m, None)
        self.fits[chosen] = [occ for occ in self.fits[chosen] if occ.pos > switch]

    def rest_bytes(self) -> bytes | None:
        return b"".join(occ.raw for occ in sorted(self.rest)) or None


class _NodeInfo:
    """What reading a node's messages needs: its slots by field number (with the wire types that fit each),
    its oneofs (the slot indices of their members), and its struct's Arrow fields."""

    __slots__ = ("by_number", "fields", "oneofs")

    def __init__(self, node: _layout.Node, fields: list[pa.Field]):
        self.fields = fields
        self.by_number = {}
        oneofs: dict[int, list[int]] = {}
        for index, slot in enumerate(node.slots):
            wires = {LEN} if slot.shape == "map" else {wire_of(slot.kind)}
            if slot.shape == "repeated" and packable(slot.kind):
                wires.add(LEN)
            self.by_number[slot.number] = (index, frozenset(wires))
            if slot.oneof >= 0:
                oneofs.setdefault(slot.oneof, []).append(index)
        self.oneofs = list(oneofs.values())


@functools.cache
def _nodes(descriptor: Descriptor) -> list[_NodeInfo]:
    """The :class:`_NodeInfo` of each node of ``descriptor``'s plan, their Arrow fields taken from its schema
    (each node's struct is the type of its slot in its parent's)."""
    plan = _layout.plan(descriptor)
    fields: list = [None] * len(plan)

    def visit(node: int, struct_fields: list[pa.Field]) -> None:
        fields[node] = struct_fields
        for slot, field in zip(plan[node].slots, struct_fields):
            if slot.kind == "message":
                value = field.type
                if slot.shape == "repeated":
                    value = value.value_type
                elif slot.shape == "map":
                    value = value.item_type
                visit(slot.child, list(value))

    visit(0, list(_layout.schema(descriptor)))
    return [_NodeInfo(node, node_fields) for node, node_fields in zip(plan, fields)]


class _Builder:
    """Builds the arrays of a plan's nodes, column-wise, from the bytes of their messages."""

    def __init__(self, descriptor: Descriptor):
        self.plan = _layout.plan(descriptor)
        self.pa = _layout._pyarrow()
        self.nodes = _nodes(descriptor)

    def build(self, node: int, payloads: list[bytes | None]) -> pa.StructArray:
        """The struct array of ``node``'s messages, one per payload (the message's bytes, its occurrences
        concatenated; None for a message that is not set, a null struct whose fields hold their defaults)."""
        pa = self.pa
        info = self.nodes[node]
        rows = [_Message(info, payload) for payload in payloads]
        arrays = [self.column(slot, index, rows, info) for index, slot in enumerate(self.plan[node].slots)]
        arrays.append(pa.array([row.rest_bytes() for row in rows], pa.binary()))
        mask = None if all(p is not None for p in payloads) else pa.array([p is None for p in payloads])
        return pa.StructArray.from_arrays(arrays, fields=info.fields, mask=mask)

    def column(self, slot: _layout.Slot, index: int, rows: list[_Message], info: _NodeInfo) -> pa.Array:
        """The array of one field over the rows; what the column cannot hold goes to the rows' ``rest``."""
        field_type = info.fields[index].type
        if slot.shape == "repeated":
            return self._repeated(slot, index, rows, field_type)
        if slot.shape == "map":
            return self._map(slot, index, rows, field_type)
        kind = slot.kind
        values = []
        for row in rows:
            found = row.fits.get(index)
            if not found:
                values.append(None if slot.shape == "optional" else default(kind))
            elif kind in _layout.SCALAR_KINDS:
                values.append(scalar(kind, found[-1].value))  # the last one wins
            else:  # a message, read as the concatenation of its occurrences
                payload = b"".join(occ.value for occ in found)
                if _special(kind):
                    ok, payload = special(kind, payload)
                    if not ok:
                        row.rest.extend(found)
                values.append(payload)
        return self._array(slot, values, field_type)

    def _repeated(self, slot: _layout.Slot, index: int, rows: list[_Message], field_type: pa.DataType) -> pa.Array:
        kind = slot.kind
        values: list = []
        offsets = [0]
        for row in rows:
            found = row.fits.get(index, ())
            items = []
            for occ in found:
                if occ.wire == LEN and packable(kind):
                    items.extend(unpacked(kind, occ.value))
                elif kind in _layout.SCALAR_KINDS:
                    items.append(scalar(kind, occ.value))
                else:
                    items.append(occ.value)
            if _special(kind):
                read = [special(kind, item) for item in items]
                if all(ok for ok, _ in read):
                    items = [value for _, value in read]
                else:  # one value it cannot hold: the whole field goes to _rest
                    row.rest.extend(found)
                    items = []
            values.extend(items)
            offsets.append(len(values))
        item_type = field_type.value_type
        return self.pa.ListArray.from_arrays(
            self.pa.array(offsets, self.pa.int32()), self._array(slot, values, item_type), type=field_type
        )

    def _map(self, slot: _layout.Slot, index: int, rows: list[_Message], field_type: pa.DataType) -> pa.Array:
        kind, key_kind = slot.kind, slot.key
        value_wire, key_wire = wire_of(kind), wire_of(key_kind)
        keys: list = []
        values: list = []
        offsets = [0]
        for row in rows:
            found = row.fits.get(index, ())
            entries: dict = {}
            kept = []  # the entries read (not those kept whole in _rest)
            whole = True  # every value fits its Arrow type
            for occ in found:
                key, pieces, foreign = default(key_kind), [], False
                for number, part in occurrences(occ.value):
                    if number == 1 and part.wire == key_wire:
                        key = scalar(key_kind, part.value)
                    elif number == 2 and part.wire == value_wire:
                        pieces.append(part.value)
                    else:
                        foreign = True
                if foreign:  # protobuf keeps the whole entry as an unknown field
                    row.rest.append(occ)
                    continue
                if kind in _layout.SCALAR_KINDS:
                    value = scalar(kind, pieces[-1]) if pieces else default(kind)
                else:
                    value = b"".join(pieces)
                    if _special(kind):
                        ok, value = special(kind, value)
                        whole = whole and ok
                entries[key] = value  # a later entry of the same key replaces it
                kept.append(occ)
            if not whole:  # one value it cannot hold: the whole map goes to _rest
                row.rest.extend(kept)
                entries = {}
            for key in sorted(entries):
                keys.append(key)
                values.append(entries[key])
            offsets.append(len(keys))
        pa = self.pa
        key_array = self._array(slot._replace(kind=key_kind), keys, field_type.key_type)
        return pa.MapArray.from_arrays(
            pa.array(offsets, pa.int32()), key_array, self._array(slot, values, field_type.item_type), type=field_type
        )

    def _array(self, slot: _layout.Slot, values: list, arrow_type: pa.DataType) -> pa.Array:
        """One value of ``slot`` per item of ``values`` (None: null) as an array of ``arrow_type``."""
        pa = self.pa
        kind = slot.kind.removeprefix("wrapper:")
        if kind == "message":
            return self.build(slot.child, values)
        if kind == "double":  # from the bits, so that every NaN stays as it was
            return pa.array(values, pa.uint64()).view(pa.float64())
        if kind == "float":
            return pa.array(values, pa.uint32()).view(pa.float32())
        if kind in ("timestamp", "duration"):
            return pa.array(values, pa.int64()).view(arrow_type)
        return pa.array(values, arrow_type)
