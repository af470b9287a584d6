"""A model's field table: :class:`Field` (one protobuf field exposed as a property) and the policies that say
what a property gives for an unset field."""

from __future__ import annotations

from typing import Any, Callable

from flytecodec.models._messages import FieldRow, message_class
from flytecodec.models._registry import model_for

REQUIRED: Any = type("Required", (), {"__repr__": lambda self: "REQUIRED"})()
"""Marks a constructor parameter without a default."""

_NOT_A_PARAM: Any = type("NotAParam", (), {"__repr__": lambda self: "NOT_A_PARAM"})()

# What a property gives when its field is absent from the source:
PRESENCE = "presence"  # None when the field is not set (HasField is false)
FALSY = "falsy"  # None when the value is falsy (empty string, 0, empty list, absent message)
NEVER = "never"  # always a value: the field's default when unset
EMPTY = "empty"  # None when the message is not set or serializes to nothing

_WELL_KNOWN_RAW = frozenset(
    ["google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue", "google.protobuf.Any"]
)
_WRAPPERS = frozenset(
    "google.protobuf." + n
    for n in (
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


class Field:
    """One protobuf field exposed as a model property.

    :param proto: the field's name in the protobuf message.
    :param name: the property name, when flytekit's differs from the proto name.
    :param init: ``REQUIRED`` for a positional parameter without default, or the parameter's default value.
        Fields a model does not list are keyword-only parameters defaulting to ``None``.
    :param absent: what the property gives when the field is unset: one of ``PRESENCE``, ``FALSY``,
        ``NEVER``, ``EMPTY``. Defaults: ``PRESENCE`` for fields with presence (messages, oneof members,
        ``optional``), ``NEVER`` for the rest.
    :param model: the model class (or its proto full name) for a message field, when not the registered one.
    :param kind: ``"raw"`` to give the protobuf message itself, ``"naive"`` for a naive UTC datetime,
        ``"kvdict"`` for a repeated ``KeyValuePair`` read as a dict.
    :param convert: applied to the value read (e.g. an ``int`` into an ``Enum``); ``unconvert`` reverses it.
    :param none: a factory for the value the constructor stores when given ``None``.
    :param accept: normalizes a value given to the constructor (not ``None``), e.g. a naive datetime.
    :param settable: whether the property can be assigned to, as in flytekit.
    """

    __slots__ = (
        "_fdesc",
        "absent",
        "accept",
        "coerce",
        "convert",
        "elem",
        "init",
        "kind",
        "message",
        "message_type",
        "model",
        "name",
        "none",
        "number",
        "proto",
        "read",
        "settable",
        "shape",
        "string_keys",
        "unconvert",
        "write",
    )

    def __init__(
        self,
        proto: str,
        *,
        name: str | None = None,
        init: Any = _NOT_A_PARAM,
        absent: str | None = None,
        model: Any = None,
        kind: str | None = None,
        convert: Callable[[Any], Any] | None = None,
        unconvert: Callable[[Any], Any] | None = None,
        none: Callable[[], Any] | None = None,
        accept: Callable[[Any], Any] | None = None,
        settable: bool = False,
    ):
        self.proto = proto
        self.name = name or proto
        self.init = init
        self.absent = absent
        self.model = model
        self.kind = kind
        self.convert = convert
        self.unconvert = unconvert
        self.none = none
        self.accept = accept
        self.settable = settable

    def __repr__(self) -> str:
        return f"Field({self.proto!r}, name={self.name!r}, shape={getattr(self, 'shape', None)!r})"

    # -- binding to the message -------------------------------------------------------------------------

    def bind(self, message: str, row: FieldRow) -> None:
        """Work out the field's shape from its row in ``message``'s description (``_messages``); readers are made
        on first use."""
        _, self.number, shape, self.message_type, presence, self.string_keys = row
        self.message = message
        self._fdesc = None
        if shape == "repeated":
            self.shape = "kvdict" if self.kind == "kvdict" else "repeated"
            self.elem = "kvdict" if self.kind == "kvdict" else self._elem_kind(self.message_type)
        else:
            self.shape = shape
            self.elem = self._elem_kind(self.message_type)
        if self.absent is None:
            self.absent = PRESENCE if (shape == "single" and presence) else NEVER
        self.read = self._first_read
        self.write = self._first_write
        self.coerce = self._make_coerce()

    @property
    def fdesc(self):
        """The field's protobuf descriptor (its message's module imported now if it was not)."""
        fdesc = self._fdesc
        if fdesc is None:
            fdesc = self._fdesc = message_class(self.message).DESCRIPTOR.fields_by_name[self.proto]
        return fdesc

    def _elem_kind(self, full: str | None) -> str:
        if self.kind in ("raw", "naive"):
            return self.kind
        if full is None:
            return "scalar"
        if full == "google.protobuf.Timestamp":
            return "timestamp"
        if full == "google.protobuf.Duration":
            return "duration"
        if full in _WRAPPERS:
            return "wrapper"
        if full in _WELL_KNOWN_RAW:
            return "raw"
        return "model"

    def model_class(self) -> type:
        """The model class of a message field (resolved when first needed, so definition order is free)."""
        m = self.model
        if isinstance(m, type):
            return m
        self.model = m = model_for(m or self.message_type)
        return m

    # -- reading from a protobuf source (the python backend) --------------------------------------------

    def _first_read(self, pb):
        from flytecodec.models._convert import make_reader

        self.read = make_reader(self)
        return self.read(pb)

    # -- writing into a protobuf message (constructed models) -------------------------------------------

    def _first_write(self, pb, value) -> None:
        from flytecodec.models._convert import make_writer

        self.write = make_writer(self)
        self.write(pb, value)

    # -- constructor arguments --------------------------------------------------------------------------

    def _make_coerce(self) -> Callable[[Any], Any]:
        """What the constructor stores for a value: the value as given (as flytekit stores it, our models or
        flytekit's alike), the ``none`` factory's value for ``None``, or what ``accept`` normalizes it to."""
        none, accept = self.none, self.accept
        if none is None and accept is None:
            return _identity
        accept = accept or _identity
        return lambda v: (none() if none is not None else None) if v is None else accept(v)


def _identity(v):
    return v
