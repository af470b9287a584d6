"""The nested Arrow layout of a record kind: every field of the message, nested as the message is.

One definition, read by both builders (Rust from the bytes, Python from the bytes too) and by the import back
to messages (:func:`flytecodec.from_arrow`); ``docs/nested.md`` describes it for users. The layout of a message
is a :class:`Plan`: a list of :class:`Node` (one per message *on a path from the record*; node 0 is the record's
message), each a list of :class:`Slot` (one per field, in the order the message declares them). The Arrow schema
is derived from the plan (:func:`schema`), so the builders and the schema cannot disagree.

The rules, in short:

- a message is a struct of its fields plus ``_rest``: the bytes of its fields that no column holds (unknown
  fields, a field whose wire type does not match, a value its Arrow type cannot hold exactly), in the order
  they came; null when there are none;
- scalars as their Arrow type; an enum as its number (``int32``), its names in the field's metadata;
- ``google.protobuf.Timestamp`` as ``timestamp[ns, UTC]`` and ``Duration`` as ``duration[ns]``; the wrapper
  messages (``Int64Value``, ...) as a nullable scalar;
- a field without presence (a proto3 scalar) is not nullable; a message, a oneof member or a proto3
  ``optional`` field is, and is null when not set; only the set member of a oneof is non-null;
- a repeated field is a non-null list, a map a non-null Arrow map sorted by key;
- a message type met again below itself (``Literal`` in a ``LiteralCollection`` in a ``Literal``) is cut:
  kept as the bytes of that message (``binary``) as they were in the record.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, NamedTuple

from google.protobuf.descriptor import Descriptor, FieldDescriptor

if TYPE_CHECKING:
    import pyarrow as pa

REST = "_rest"
"""The column of a message's fields that no column holds, as protobuf bytes."""

TIMESTAMP = "google.protobuf.Timestamp"
DURATION = "google.protobuf.Duration"
WRAPPERS = {
    "google.protobuf.DoubleValue": "double",
    "google.protobuf.FloatValue": "float",
    "google.protobuf.Int64Value": "int64",
    "google.protobuf.UInt64Value": "uint64",
    "google.protobuf.Int32Value": "int32",
    "google.protobuf.UInt32Value": "uint32",
    "google.protobuf.BoolValue": "bool",
    "google.protobuf.StringValue": "string",
    "google.protobuf.BytesValue": "bytes",
}
"""The wrapper messages and the scalar kind of their ``value`` (field 1)."""

_SCALARS = {
    FieldDescriptor.TYPE_DOUBLE: "double",
    FieldDescriptor.TYPE_FLOAT: "float",
    FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_UINT64: "uint64",
    FieldDescriptor.TYPE_INT32: "int32",
    FieldDescriptor.TYPE_FIXED64: "fixed64",
    FieldDescriptor.TYPE_FIXED32: "fixed32",
    FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_BYTES: "bytes",
    FieldDescriptor.TYPE_UINT32: "uint32",
    FieldDescriptor.TYPE_ENUM: "enum",
    FieldDescriptor.TYPE_SFIXED32: "sfixed32",
    FieldDescriptor.TYPE_SFIXED64: "sfixed64",
    FieldDescriptor.TYPE_SINT32: "sint32",
    FieldDescriptor.TYPE_SINT64: "sint64",
}

SCALAR_KINDS = frozenset(_SCALARS.values())
"""The kinds of a scalar field; the other kinds are ``message``, ``timestamp``, ``duration``, ``cut`` and the
wrappers' ``wrapper:<scalar kind>``."""

SHAPES = ("single", "optional", "repeated", "map")
"""``single``: no presence, never null; ``optional``: present or not (a message, a oneof member, a proto3
``optional``); ``repeated``: a list; ``map``: a map (``key`` names the key's kind, ``kind`` the value's)."""


class Slot(NamedTuple):
    """One field of a message in the layout."""

    number: int
    name: str
    kind: str
    """A scalar kind (``int32``, ``sint64``, ``fixed32``, ``string``, ``enum``, ...), ``message`` (a struct: see
    ``child``), ``timestamp``, ``duration``, ``wrapper:<scalar kind>``, or ``cut`` (a message kept as bytes)."""
    shape: str
    """One of :data:`SHAPES`."""
    child: int
    """For ``message``: the index of its node in the plan; otherwise -1."""
    key: str
    """For a map: the kind of its key (a scalar kind); otherwise ``""``."""
    oneof: int
    """The index of its oneof in the message (real oneofs only, not a proto3 ``optional``'s); otherwise -1."""
    metadata: tuple[tuple[str, str], ...]
    """The Arrow field's metadata: for an enum, ``protobuf.enum`` (its full name) and ``protobuf.enum_values``
    (a JSON object of number to name)."""


class Node(NamedTuple):
    """One message on a path from the record."""

    message: str
    """Its full name."""
    slots: tuple[Slot, ...]


Plan = tuple[Node, ...]


@functools.cache
def plan(descriptor: Descriptor) -> Plan:
    """The layout of ``descriptor``'s message: node 0 is that message."""
    nodes: list[Node | None] = []
    _add(descriptor, (), nodes)
    return tuple(node for node in nodes if node is not None)


def _add(descriptor: Descriptor, path: tuple[str, ...], nodes: list[Node | None]) -> int:
    index = len(nodes)
    nodes.append(None)  # reserved: children come after their parent
    inside = (*path, descriptor.full_name)
    slots = tuple(_slot(field, inside, nodes) for field in descriptor.fields)
    nodes[index] = Node(descriptor.full_name, slots)
    return index


def _slot(field: FieldDescriptor, path: tuple[str, ...], nodes: list[Node | None]) -> Slot:
    oneof = field.containing_oneof
    oneof_index = oneof.index if oneof is not None and not _synthetic(oneof) else -1
    if field.is_repeated:
        entry = field.message_type
        if entry is not None and entry.GetOptions().map_entry:
            key, value = entry.fields_by_number[1], entry.fields_by_number[2]
            kind, child, metadata = _value(value, path, nodes)
            return Slot(field.number, field.name, kind, "map", child, _SCALARS[key.type], -1, metadata)
        shape = "repeated"
    elif field.has_presence:
        shape = "optional"
    else:
        shape = "single"
    kind, child, metadata = _value(field, path, nodes)
    return Slot(field.number, field.name, kind, shape, child, "", oneof_index, metadata)


def _synthetic(oneof) -> bool:
    """Whether ``oneof`` is the one protoc makes for a proto3 ``optional`` field."""
    fields = oneof.fields
    return len(fields) == 1 and oneof.name == f"_{fields[0].name}"


def _value(field: FieldDescriptor, path: tuple[str, ...], nodes: list[Node | None]):
    """``(kind, child, metadata)`` of one value of ``field``."""
    if field.type == FieldDescriptor.TYPE_GROUP:
        raise ValueError(f"{field.full_name}: groups have no nested layout")
    if field.type != FieldDescriptor.TYPE_MESSAGE:
        return _SCALARS[field.type], -1, _enum_metadata(field)
    message = field.message_type
    name = message.full_name
    if name == TIMESTAMP:
        return "timestamp", -1, ()
    if name == DURATION:
        return "duration", -1, ()
    if name in WRAPPERS:
        return f"wrapper:{WRAPPERS[name]}", -1, ()
    if name in path:
        return "cut", -1, ()
    return "message", _add(message, path, nodes), ()


def _enum_metadata(field: FieldDescriptor) -> tuple[tuple[str, str], ...]:
    if field.type != FieldDescriptor.TYPE_ENUM:
        return ()
    enum = field.enum_type
    names = {str(value.number): value.name for value in enum.values}
    return (("protobuf.enum", enum.full_name), ("protobuf.enum_values", json.dumps(names, separators=(",", ":"))))


# The Arrow schema of a plan.

_ARROW_SCALARS = {
    "double": "float64",
    "float": "float32",
    "int64": "int64",
    "sint64": "int64",
    "sfixed64": "int64",
    "uint64": "uint64",
    "fixed64": "uint64",
    "int32": "int32",
    "sint32": "int32",
    "sfixed32": "int32",
    "enum": "int32",
    "uint32": "uint32",
    "fixed32": "uint32",
    "bool": "bool_",
    "string": "string",
    "bytes": "binary",
}


def _pyarrow():
    try:
        import pyarrow
    except ImportError:
        raise ImportError("the nested layout needs pyarrow: pip install 'flytecodec[arrow]'") from None
    return pyarrow


def value_type(layout: Plan, slot: Slot) -> pa.DataType:
    """The Arrow type of one value of ``slot`` (an element of a list, a map's value)."""
    pa = _pyarrow()
    kind = slot.kind
    if kind == "message":
        return struct_type(layout, slot.child)
    if kind == "timestamp":
        return pa.timestamp("ns", tz="UTC")
    if kind == "duration":
        return pa.duration("ns")
    if kind == "cut":
        return pa.binary()
    if kind.startswith("wrapper:"):
        kind = kind.removeprefix("wrapper:")
    return getattr(pa, _ARROW_SCALARS[kind])()


def field(layout: Plan, slot: Slot) -> pa.Field:
    """The Arrow field of ``slot``."""
    pa = _pyarrow()
    value = value_type(layout, slot)
    metadata = dict(slot.metadata) or None
    if slot.shape == "repeated":
        return pa.field(slot.name, pa.list_(pa.field("item", value, nullable=False)), False, metadata)
    if slot.shape == "map":
        key = pa.field("key", value_type(layout, slot._replace(kind=slot.key)), nullable=False)
        return pa.field(slot.name, pa.map_(key, pa.field("value", value, nullable=False)), False, metadata)
    return pa.field(slot.name, value, slot.shape == "optional", metadata)


def fields(layout: Plan, node: int) -> list[pa.Field]:
    """The Arrow fields of a node's struct: one per slot, then ``_rest``."""
    pa = _pyarrow()
    return [*(field(layout, slot) for slot in layout[node].slots), pa.field(REST, pa.binary(), True)]


def struct_type(layout: Plan, node: int) -> pa.StructType:
    return _pyarrow().struct(fields(layout, node))


@functools.cache
def schema(descriptor: Descriptor) -> pa.Schema:
    """The Arrow schema of a nested table of ``descriptor``'s records: the record's fields, then ``_rest``."""
    layout = plan(descriptor)
    return _pyarrow().schema(
        fields(layout, 0), metadata={"flytecodec.layout": "nested", "protobuf.message": descriptor.full_name}
    )
