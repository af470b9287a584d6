"""The upb oracle: every field of a message, as upb parsed it, against the model's public property.

Written from the protobuf descriptors and the documented model API (README.md, docs/compatibility.md), not from
the model layer's readers: the model under test is only read through its properties, ``to_flyte_idl``,
``serialize_to_string`` and ``is_empty``. For each field of the message's descriptor:

* a property that gives ``None`` is right only when the field carries nothing: an unset or empty message,
  a zero/empty scalar, an empty repeated field or map (models give ``None`` for absent values, as flytekit's
  do, and some give a default instead: both are allowed, a wrong value is not);
* a scalar is the same Python value (an enum may be an ``enum.Enum`` of the same number);
* a ``Timestamp`` is a UTC datetime of the same instant cut to microseconds toward zero, timezone-aware or
  naive UTC; a ``Duration`` is a ``timedelta`` cut toward zero the same way (protobuf's ``ToTimedelta``);
* a wrapper (``BoolValue``…) is its value; a message the model hands out as a protobuf message (``Struct``,
  raw fields) is equal to upb's; any other message is a model, compared field by field, recursively;
* a repeated field is a list of as many items, each compared; a map is a dict with the same keys, each value
  compared; a repeated ``KeyValuePair`` read as a dict maps each key to its last value.
"""

from __future__ import annotations

import datetime
import enum
import math

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from hypothesis import settings

from support import examples, tally

SETTINGS = settings(examples.SETTINGS, max_examples=120)  # derandomized, as the rest of the suite
UTC = datetime.timezone.utc
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)

# Properties that flytekit names differently from the proto field (the model documents flytekit's name).
RENAMED = {
    ("flyteidl.admin.ClusterAssignment", "cluster_pool_name"): "cluster_pool",
    ("flyteidl.admin.WorkflowNodeMetadata", "executionId"): "execution_id",
    ("flyteidl.admin.Envs", "values"): "envs",
    ("flyteidl.core.Union", "type"): "stored_type",
    ("flyteidl.core.Secret", "type"): "type_",
    ("flyteidl.core.OAuth2TokenRequest", "type"): "type_",
}
WRAPPERS = frozenset(
    "google.protobuf." + name
    for name in (
        "DoubleValue",
        "FloatValue",
        "Int64Value",
        "UInt64Value",
        "Int32Value",
        "UInt32Value",
        "BoolValue",
        "StringValue",
        "BytesValue",
    )
)


def _toward_zero_micros(nanos: int) -> int:
    return -((-nanos) // 1000) if nanos < 0 else nanos // 1000


def expected_timestamp(ts) -> datetime.datetime:
    """The aware UTC datetime of a ``Timestamp``, nanoseconds cut toward zero."""
    return EPOCH + datetime.timedelta(seconds=ts.seconds, microseconds=_toward_zero_micros(ts.nanos))


def expected_duration(d) -> datetime.timedelta:
    """The ``timedelta`` of a ``Duration``, nanoseconds cut toward zero."""
    return datetime.timedelta(seconds=d.seconds, microseconds=_toward_zero_micros(d.nanos))


def is_repeated(f: FieldDescriptor) -> bool:
    flag = getattr(f, "is_repeated", None)
    return f.label == f.LABEL_REPEATED if flag is None else flag


def _is_map(f: FieldDescriptor) -> bool:
    return is_repeated(f) and f.message_type is not None and f.message_type.GetOptions().map_entry


def _carries_nothing(pb: Message, f: FieldDescriptor) -> bool:
    """Whether the field of ``pb`` holds nothing a reader could tell from absent."""
    value = getattr(pb, f.name)
    if is_repeated(f):
        return len(value) == 0
    if f.message_type is not None:
        return not pb.HasField(f.name) or value.ByteSize() == 0
    if f.has_presence and pb.HasField(f.name):
        return not value
    return value == f.default_value or not value


def _unrepresentable(pb: Message, f: FieldDescriptor) -> bool:
    """Whether a field of ``pb`` holds a value that has no Python counterpart (see ``Walk.model``)."""
    held = getattr(pb, f.name)
    if _is_map(f):
        f, items = f.message_type.fields_by_name["value"], list(held.values())
    else:
        items = list(held) if is_repeated(f) else [held]
    if f.enum_type is not None:
        return any(n not in f.enum_type.values_by_number for n in items)
    name = f.message_type.full_name if f.message_type is not None else ""
    for item in items:
        try:
            if name == "google.protobuf.Timestamp":
                if not 0 <= item.nanos < 1_000_000_000:
                    return True
                expected_timestamp(item)
            elif name == "google.protobuf.Duration":
                expected_duration(item)
        except OverflowError:
            return True
    return False


class Walk:
    """One comparison of a model with the message upb parsed from the same bytes; counts what it compares."""

    def __init__(self, source: str, record: bytes, oracle: str = "upb"):
        self.source = source
        self.key = tally.record_key(record)
        self.oracle = oracle

    def _count(self, path: str) -> None:
        tally.add(self.oracle, self.source, self.key, path)

    def model(self, model, pb: Message, path: str) -> None:
        """Every field of ``pb`` against ``model``'s property, and the model's bytes and emptiness."""
        assert not isinstance(model, Message), f"{path}: a protobuf message where a model was expected"
        assert model.to_flyte_idl() == pb, f"{path}: to_flyte_idl() differs from upb's message"
        assert type(pb).FromString(model.serialize_to_string()) == pb, f"{path}: serialize_to_string() differs"
        assert model.is_empty == (pb.ByteSize() == 0), f"{path}: is_empty {model.is_empty}, upb size {pb.ByteSize()}"
        self._count(f"{path}#bytes")
        descriptor = pb.DESCRIPTOR
        for f in descriptor.fields:
            name = RENAMED.get((descriptor.full_name, f.name), f.name)
            where = f"{path}.{name}"
            try:
                value = getattr(model, name)
            except AttributeError as e:
                raise AssertionError(f"{where}: the model has no property for field {f.full_name}") from e
            except (ValueError, OverflowError) as e:
                # a value Python cannot hold: an enum number outside the enum converted to flytekit's Enum
                # class (proto3 enums are open), a Timestamp outside 0001..9999 or with nanos outside
                # [0, 1e9), a Duration outside timedelta's range. It raises, as protobuf's ToDatetime and
                # flytekit's from_flyte_idl do for the same message (docs/compatibility.md)
                assert _unrepresentable(pb, f), f"{where}: raises {e!r}, upb holds {getattr(pb, f.name)!r}"
                self._count(where)
                continue
            self.field(value, pb, f, where)

    def field(self, value, pb: Message, f: FieldDescriptor, path: str) -> None:
        if value is None:
            assert _carries_nothing(pb, f), f"{path}: None, upb has {getattr(pb, f.name)!r}"
            self._count(path)
            return
        held = getattr(pb, f.name)
        if _is_map(f):
            assert isinstance(value, dict), f"{path}: a map as {type(value).__name__}"
            assert sorted(value) == sorted(held), f"{path}: keys {sorted(value)!r} != upb's {sorted(held)!r}"
            value_field = f.message_type.fields_by_name["value"]
            for key in held:
                self.element(value[key], held[key], value_field, f"{path}[{key!r}]")
            self._count(f"{path}#len")
            return
        if is_repeated(f):
            if isinstance(value, dict):  # a repeated KeyValuePair read as a dict
                assert set(f.message_type.fields_by_name) == {"key", "value"}, f"{path}: a dict of {f.full_name}"
                assert value == {kv.key: kv.value for kv in held}, f"{path}: {value!r} != upb's {list(held)!r}"
                self._count(path)
                return
            assert isinstance(value, list), f"{path}: a repeated field as {type(value).__name__}"
            assert len(value) == len(held), f"{path}: {len(value)} items, upb has {len(held)}"
            for i, (item, pb_item) in enumerate(zip(value, held)):
                self.element(item, pb_item, f, f"{path}[{i}]")
            self._count(f"{path}#len")
            return
        self.element(value, held, f, path)

    def element(self, value, held, f: FieldDescriptor, path: str) -> None:
        """One value (a singular field, a repeated item or a map value) against upb's."""
        mtype = f.message_type
        if mtype is None:
            self._scalar(value, held, f, path)
        elif mtype.full_name == "google.protobuf.Timestamp":
            expected = expected_timestamp(held)
            assert isinstance(value, datetime.datetime), f"{path}: a Timestamp as {value!r}"
            if value.tzinfo is None:
                expected = expected.replace(tzinfo=None)
            else:
                assert value.utcoffset() == datetime.timedelta(0), f"{path}: not UTC: {value!r}"
            assert value == expected, f"{path}: {value!r} != {expected!r} ({held.seconds}s {held.nanos}ns)"
        elif mtype.full_name == "google.protobuf.Duration":
            expected = expected_duration(held)
            assert type(value) is datetime.timedelta, f"{path}: a Duration as {value!r}"
            assert value == expected, f"{path}: {value!r} != {expected!r} ({held.seconds}s {held.nanos}ns)"
        elif mtype.full_name in WRAPPERS and not isinstance(value, Message):
            self._scalar(value, held.value, mtype.fields_by_name["value"], path)
            return
        elif isinstance(value, Message):
            assert value == held, f"{path}: {value!r} != upb's {held!r}"
        else:
            self.model(value, held, path)
            return
        self._count(path)

    def _scalar(self, value, held, f: FieldDescriptor, path: str) -> None:
        if f.enum_type is not None:
            number = value.value if isinstance(value, enum.Enum) else value
            assert isinstance(number, int) and number == held, f"{path}: enum {value!r} != upb's {held!r}"
        elif isinstance(held, float):
            assert type(value) is float, f"{path}: a float as {value!r}"
            assert value == held or (math.isnan(value) and math.isnan(held)), f"{path}: {value!r} != {held!r}"
        else:
            assert type(value) is type(held), f"{path}: {type(value).__name__} where upb has {held!r}"
            assert value == held, f"{path}: {value!r} != upb's {held!r}"
        self._count(path)


INT64 = (-(2**63), 2**63 - 1)


def micros(value) -> int:
    """A Timestamp's or Duration's whole microseconds, nanoseconds cut toward zero."""
    return value.seconds * 1_000_000 + _toward_zero_micros(value.nanos)


def expected_column(pb: Message, path: str, number: bool, *, as_micros: bool = False):
    """What the ``Batch.to_arrow()`` column at the dotted ``path`` holds for the message ``pb``, by the rules
    of docs/columns.md; times as datetimes/timedeltas, or as whole microseconds with ``as_micros``."""
    *holders, leaf = path.split(".")
    for name in holders:
        if not pb.HasField(name):
            return None  # a message on the path is not set
        pb = getattr(pb, name)
    f = pb.DESCRIPTOR.fields_by_name[leaf]
    value = getattr(pb, leaf)
    if _is_map(f):
        return sorted(value.items()) or None
    if is_repeated(f):
        return list(value) or None
    mtype = f.message_type
    if mtype is not None:
        if not pb.HasField(leaf):
            return None
        if as_micros and mtype.full_name in ("google.protobuf.Timestamp", "google.protobuf.Duration"):
            return micros(value)
        if mtype.full_name == "google.protobuf.Timestamp":
            return expected_timestamp(value)
        if mtype.full_name == "google.protobuf.Duration":
            return expected_duration(value)
        assert mtype.full_name in WRAPPERS, f"{path}: a column of {mtype.full_name}"
        return value.value
    if f.enum_type is not None and not number:
        known = f.enum_type.values_by_number.get(value)
        return None if known is None else known.name
    if isinstance(value, str):
        return value or None
    return value
