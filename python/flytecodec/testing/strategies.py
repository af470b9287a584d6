"""Hypothesis strategies for arbitrary valid protobuf messages, derived from their descriptors.

:func:`messages` walks a pb2 message class's ``DESCRIPTOR`` and draws every kind of field
generically: scalars of each protobuf type with their edge values, enums, repeated fields, maps,
oneofs and proto3 ``optional`` presence (a single-member oneof in the descriptor, so it is drawn
the same way: unset, or set, possibly to its default value). Where :mod:`flytecodec.testing.corpus`
is realistic, these are adversarial: they are for round-trip and backend-equivalence properties.

Values are constrained only where protobuf itself would refuse them or where flytekit's readers
would, and each constraint is listed here:

- integers stay within their field's width; upb raises ``ValueError`` on assignment otherwise;
- strings are valid Unicode without lone surrogates: upb cannot encode them (``UnicodeEncodeError``
  on assignment) and refuses invalid UTF-8 in proto3 ``string`` fields when parsing;
- closed (proto2) enums take declared values only; open (proto3) enums also take any other
  ``int32``, which upb keeps as is;
- ``google.protobuf.Timestamp`` stays within what ``ToDatetime`` accepts (seconds in
  [-62135596800, 253402300799], nanos in [0, 999999999]) and ``google.protobuf.Duration`` within
  the range the well-known-type spec allows (seconds within ±315576000000, nanos within
  ±999999999 with the sign of seconds), since the models convert them to ``datetime`` and
  ``timedelta``;
- ``google.protobuf.Struct`` / ``Value`` / ``ListValue`` hold small JSON documents with finite
  numbers, because they stand for JSON (``json_format`` refuses NaN and infinity there);
- a message type occurs at most ``max_depth`` times on any path from the root, so recursive types
  (a ``Literal`` inside a ``LiteralCollection`` inside a ``Literal``…) terminate, and at most
  ``max_leaves`` values and messages are set in one example, so examples stay small.

:func:`unknown_fields` wraps a message strategy and appends well-formed unknown fields to the
serialized bytes, to check that decoders keep them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flyteidl.admin import execution_pb2, node_execution_pb2, task_execution_pb2
from google.protobuf import struct_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

from flytecodec.testing.corpus import varint

__all__ = ["executions", "messages", "node_executions", "task_executions", "unknown_fields"]

M = TypeVar("M", bound=Message)

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_UINT32 = (0, 2**32 - 1)
_UINT64 = (0, 2**64 - 1)

_TIMESTAMP_SECONDS = (-62_135_596_800, 253_402_300_799)  # 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z
_DURATION_SECONDS = 315_576_000_000  # 10 000 years
_MAX_NANOS = 999_999_999

_MAX_REPEATED = 3
_MAX_STRING = 16
_MAX_JSON_LEAVES = 6

_UNKNOWN_FIELD_NUMBERS = st.one_of(st.integers(10_001, 18_999), st.integers(20_000, 2**29 - 1))
"""Field numbers for unknown fields: above 10 000, avoiding 19000–19999, which protobuf reserves."""


def _integers(bounds: tuple[int, int]) -> st.SearchStrategy[int]:
    low, high = bounds
    edges = sorted(value for value in {0, 1, -1, low, low + 1, high - 1, high} if low <= value <= high)
    return st.one_of(st.sampled_from(edges), st.integers(low, high))


_SCALARS: dict[int, st.SearchStrategy[Any]] = {
    FieldDescriptor.TYPE_INT32: _integers(_INT32),
    FieldDescriptor.TYPE_SINT32: _integers(_INT32),
    FieldDescriptor.TYPE_SFIXED32: _integers(_INT32),
    FieldDescriptor.TYPE_INT64: _integers(_INT64),
    FieldDescriptor.TYPE_SINT64: _integers(_INT64),
    FieldDescriptor.TYPE_SFIXED64: _integers(_INT64),
    FieldDescriptor.TYPE_UINT32: _integers(_UINT32),
    FieldDescriptor.TYPE_FIXED32: _integers(_UINT32),
    FieldDescriptor.TYPE_UINT64: _integers(_UINT64),
    FieldDescriptor.TYPE_FIXED64: _integers(_UINT64),
    FieldDescriptor.TYPE_BOOL: st.booleans(),
    FieldDescriptor.TYPE_FLOAT: st.floats(width=32),
    FieldDescriptor.TYPE_DOUBLE: st.floats(),
    FieldDescriptor.TYPE_STRING: st.one_of(
        st.sampled_from(("", "é", "日本語", "🚀", "\x00")), st.text(st.characters(codec="utf-8"), max_size=_MAX_STRING)
    ),
    FieldDescriptor.TYPE_BYTES: st.binary(max_size=_MAX_STRING),
}

_JSON: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=_MAX_JSON_LEAVES,
)
_JSON_OBJECT = st.dictionaries(st.text(max_size=8), _JSON, max_size=3)


def _timestamp(draw: st.DrawFn, message: Any) -> None:
    message.seconds = draw(_integers(_TIMESTAMP_SECONDS))
    message.nanos = draw(_integers((0, _MAX_NANOS)))


def _duration(draw: st.DrawFn, message: Any) -> None:
    seconds = draw(_integers((-_DURATION_SECONDS, _DURATION_SECONDS)))
    low = -_MAX_NANOS if seconds <= 0 else 0
    high = _MAX_NANOS if seconds >= 0 else 0
    message.seconds = seconds
    message.nanos = draw(_integers((low, high)))


def _struct(draw: st.DrawFn, message: Any) -> None:
    message.update(draw(_JSON_OBJECT))


def _list_value(draw: st.DrawFn, message: Any) -> None:
    message.extend(draw(st.lists(_JSON, max_size=3)))


def _value(draw: st.DrawFn, message: Any) -> None:
    # Value has no setter for a Python value; a one-element ListValue converts it for us.
    holder = struct_pb2.ListValue()
    holder.append(draw(_JSON))
    message.CopyFrom(holder.values[0])


_WELL_KNOWN: dict[str, Callable[[st.DrawFn, Any], None]] = {
    "google.protobuf.Timestamp": _timestamp,
    "google.protobuf.Duration": _duration,
    "google.protobuf.Struct": _struct,
    "google.protobuf.ListValue": _list_value,
    "google.protobuf.Value": _value,
}


def _scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    if field.type != FieldDescriptor.TYPE_ENUM:
        return _SCALARS[field.type]
    known = st.sampled_from([value.number for value in field.enum_type.values])
    if field.enum_type.is_closed:
        return known
    return st.one_of(known, _integers(_INT32))


def _is_repeated(field: FieldDescriptor) -> bool:
    """``FieldDescriptor.is_repeated`` from protobuf 6 on, ``label`` before."""
    repeated = getattr(field, "is_repeated", None)
    return field.label == FieldDescriptor.LABEL_REPEATED if repeated is None else repeated


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


class _Filler:
    """Fills one message in place, drawing from hypothesis, within the depth and leaf limits."""

    __slots__ = ("_draw", "_leaves", "_max_depth", "_path")

    def __init__(self, draw: st.DrawFn, max_depth: int, max_leaves: int) -> None:
        self._draw = draw
        self._max_depth = max_depth
        self._leaves = max_leaves
        self._path: dict[str, int] = {}

    def _spend(self) -> bool:
        """Take one leaf from the budget; False once it is spent."""
        if self._leaves <= 0:
            return False
        self._leaves -= 1
        return True

    def _may_enter(self, descriptor: Descriptor) -> bool:
        return self._path.get(descriptor.full_name, 0) < self._max_depth

    def fill(self, message: Message) -> None:
        descriptor = message.DESCRIPTOR
        special = _WELL_KNOWN.get(descriptor.full_name)
        if special is not None:
            special(self._draw, message)
            return
        self._path[descriptor.full_name] = self._path.get(descriptor.full_name, 0) + 1
        draw = self._draw
        for oneof in descriptor.oneofs:
            branch = draw(st.integers(0, len(oneof.fields)))
            if branch:
                self._set(message, oneof.fields[branch - 1])
        fields = [field for field in descriptor.fields if field.containing_oneof is None]
        if fields:
            # start at a drawn field so the leaf budget does not always go to the first fields
            start = draw(st.integers(0, len(fields) - 1))
            for field in fields[start:] + fields[:start]:
                if draw(st.booleans()):
                    self._set(message, field)
        self._path[descriptor.full_name] -= 1

    def _set(self, message: Message, field: FieldDescriptor) -> None:
        if field.message_type is not None and not _is_map(field) and not self._may_enter(field.message_type):
            return
        if not self._spend():
            return
        draw = self._draw
        name = field.name
        if _is_map(field):
            self._set_map(getattr(message, name), field.message_type)
        elif _is_repeated(field) and field.message_type is not None:
            container = getattr(message, name)
            for _ in range(draw(st.integers(0, _MAX_REPEATED))):
                if self._spend():
                    self.fill(container.add())
        elif _is_repeated(field):
            getattr(message, name).extend(draw(st.lists(_scalar(field), max_size=_MAX_REPEATED)))
        elif field.message_type is not None:
            child = getattr(message, name)
            child.SetInParent()
            self.fill(child)
        else:
            setattr(message, name, draw(_scalar(field)))

    def _set_map(self, container: Any, entry: Descriptor) -> None:
        draw = self._draw
        key_field, value_field = entry.fields_by_name["key"], entry.fields_by_name["value"]
        keys = draw(st.lists(_scalar(key_field), max_size=_MAX_REPEATED, unique=True))
        if value_field.message_type is None:
            for key in keys:
                container[key] = draw(_scalar(value_field))
        elif self._may_enter(value_field.message_type):
            for key in keys:
                if self._spend():
                    self.fill(container[key])


@st.composite
def _messages(draw: st.DrawFn, message_class: type[M], max_depth: int, max_leaves: int) -> M:
    message = message_class()
    _Filler(draw, max_depth, max_leaves).fill(message)
    return message


def messages(message_class: type[M], *, max_depth: int = 4, max_leaves: int = 64) -> st.SearchStrategy[M]:
    """Arbitrary valid instances of the pb2 ``message_class``.

    ``max_depth`` bounds how often one message type may nest inside itself (a ``Literal`` in a
    ``Literal`` in…); ``max_leaves`` bounds how many fields, repeated messages and map entries are
    set in all. Examples shrink towards the empty message.
    """
    if max_depth < 1:
        raise ValueError(f"max_depth must be >= 1, got {max_depth}")
    return _messages(message_class, max_depth, max_leaves)


def executions(*, max_depth: int = 4, max_leaves: int = 64) -> st.SearchStrategy[execution_pb2.Execution]:
    """Arbitrary ``flyteidl.admin.Execution`` messages (see :func:`messages`)."""
    return messages(execution_pb2.Execution, max_depth=max_depth, max_leaves=max_leaves)


def node_executions(*, max_depth: int = 4, max_leaves: int = 64) -> st.SearchStrategy[node_execution_pb2.NodeExecution]:
    """Arbitrary ``flyteidl.admin.NodeExecution`` messages (see :func:`messages`)."""
    return messages(node_execution_pb2.NodeExecution, max_depth=max_depth, max_leaves=max_leaves)


def task_executions(*, max_depth: int = 4, max_leaves: int = 64) -> st.SearchStrategy[task_execution_pb2.TaskExecution]:
    """Arbitrary ``flyteidl.admin.TaskExecution`` messages (see :func:`messages`)."""
    return messages(task_execution_pb2.TaskExecution, max_depth=max_depth, max_leaves=max_leaves)


_UNKNOWN_VALUES: dict[int, st.SearchStrategy[bytes]] = {
    0: _integers(_UINT64).map(varint),
    1: st.binary(min_size=8, max_size=8),
    2: st.binary(max_size=_MAX_STRING).map(lambda data: varint(len(data)) + data),
    5: st.binary(min_size=4, max_size=4),
}


@st.composite
def _unknown_field(draw: st.DrawFn) -> bytes:
    number = draw(_UNKNOWN_FIELD_NUMBERS)
    wire_type = draw(st.sampled_from(sorted(_UNKNOWN_VALUES)))
    return varint(number << 3 | wire_type) + draw(_UNKNOWN_VALUES[wire_type])


@st.composite
def _with_unknown_fields(draw: st.DrawFn, strategy: st.SearchStrategy[Message]) -> bytes:
    message = draw(strategy)
    extra = draw(st.lists(_unknown_field(), min_size=1, max_size=4))
    return message.SerializeToString(deterministic=True) + b"".join(extra)


def unknown_fields(strategy: st.SearchStrategy[Message]) -> st.SearchStrategy[bytes]:
    """Serialized messages from ``strategy`` followed by 1–4 unknown fields.

    Each unknown field has a number above 10 000 (outside 19000–19999) and one of the wire types
    0 (varint), 1 (64-bit), 2 (length-delimited) and 5 (32-bit), correctly encoded. A lossless
    decoder re-serializes these bytes unchanged: upb keeps unknown fields, in order, after the
    known ones.
    """
    return _with_unknown_fields(strategy)
