"""The model base class: a field table turned into lazy properties, a constructor, ``to_flyte_idl`` and the rest
of flytekit's ``FlyteIdlEntity`` surface.

A model class names its protobuf message and lists, in flytekit's constructor order, the fields flytekit
documents (:class:`~flytecodec.models._fields.Field`). Every other field of the message is added automatically
under its proto name, so that every field of the message is a property and a keyword-only constructor argument.

An instance holds either

* a *source* — the record or protobuf message it was decoded from (bulk decode, ``from_bytes``,
  ``from_flyte_idl``). A property is converted from the source the first time it is read and cached in the
  model. ``to_flyte_idl()`` gives a new message equal to the source: every field, unknown fields included,
  survives the round trip; or
* *values* — what the constructor was given, as given. ``to_flyte_idl()`` builds the message from them as
  flytekit does.

Properties are read-only, as flytekit's are, except where flytekit lets them be set (its dataclass models and
``Literal.hash``); setting one on a decoded model is remembered and applied on top of the source.

Layers, bottom up: ``_base`` (the base holding source and cache: Rust, or Python without the extension),
``_registry`` (which class models which message), ``_fields`` (the field table), ``_convert`` (protobuf
readers and writers), ``_properties`` (the descriptors), and this module.
"""

from __future__ import annotations

import os
import textwrap
from typing import ClassVar

from flytecodec import _backend
from flytecodec.models import _docs
from flytecodec.models._base import Base, over, read_message, set_dirty, set_raw, set_src
from flytecodec.models._fields import _NOT_A_PARAM, EMPTY, FALSY, NEVER, PRESENCE, REQUIRED, Field
from flytecodec.models._messages import fields_of, message_class
from flytecodec.models._properties import _field_property
from flytecodec.models._registry import model_for

__all__ = ["EMPTY", "FALSY", "NEVER", "PRESENCE", "REQUIRED", "Field", "FlyteIdlEntity", "model_for"]


class _MessageClass:
    """The class attribute ``_pb_class``: the protobuf class of a model's message, imported when first read (the
    models import without protobuf) and then kept in the model class itself."""

    def __get__(self, obj, owner):
        name = getattr(owner, "_pb_name", None)
        if name is None:
            raise AttributeError(f"{owner.__qualname__} is not a model of a protobuf message")
        pb_class = message_class(name)
        owner._pb_class = pb_class
        return pb_class


class FlyteIdlEntity(Base):
    """Base of every model: equality, hashing, printing, pickling and the protobuf round trip.

    Compatible with ``flytekit.models.common.FlyteIdlEntity``: equality compares ``to_flyte_idl()``, with this
    package's models and with anything else that has ``to_flyte_idl`` (flytekit's models included).
    """

    __slots__ = ("__dict__", "__weakref__")

    _pb_name: ClassVar[str]  # the message's full name
    _pb_class = _MessageClass()  # its protobuf class, imported when first asked for
    _fields: ClassVar[tuple[Field, ...]] = ()
    _all_fields: ClassVar[tuple[Field, ...]]
    _field_map: ClassVar[dict[str, Field]]

    def __init_subclass__(cls, proto: str | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if proto is None:
            return
        cls._pb_name = proto
        rows = {row[0]: row for row in fields_of(proto)}
        declared = list(cls.__dict__.get("_fields", ()))
        unknown = {f.proto for f in declared} - set(rows)
        if unknown:
            raise TypeError(f"{cls.__name__}: {proto} has no field(s) {sorted(unknown)}")
        named = {f.proto for f in declared}
        all_fields = tuple(declared + [Field(name) for name in rows if name not in named])
        for f in all_fields:
            f.bind(proto, rows[f.proto])
        cls._all_fields = all_fields
        cls._field_map = {f.name: f for f in all_fields}
        for slot, f in enumerate(all_fields):
            if f.name not in cls.__dict__:
                setattr(cls, f.name, _field_property(f, _field_doc(proto, f), slot, len(all_fields)))
        if "__init__" not in cls.__dict__:
            cls.__init__ = _make_init(cls, all_fields)
        cls.__doc__ = _docs.class_doc(cls.__doc__, proto, [(f.name, f.proto) for f in all_fields])

    # -- making instances ----------------------------------------------------------------------------------

    @classmethod
    def _wrap(cls, pb):
        """A lazy model over ``pb``, which the model takes ownership of (no copy)."""
        return over(cls, pb)

    @classmethod
    def from_flyte_idl(cls, pb2_object):
        """A lazy model of ``pb2_object`` as it is now (later changes to the message do not show through): its
        serialization, read by the native backend, or a copy of it on the python backend."""
        pb_class = cls._pb_class
        if type(pb2_object) is not pb_class:
            descriptor = getattr(pb2_object, "DESCRIPTOR", None)
            if getattr(descriptor, "full_name", None) != cls._pb_name:
                raise TypeError(
                    f"{cls.__name__}.from_flyte_idl expects a {cls._pb_name} message, got {type(pb2_object).__name__}"
                )
            return over(cls, pb_class.FromString(pb2_object.SerializeToString()))
        if read_message is not None and _backend.backend() == "native":
            return read_message(cls, cls._pb_name, pb2_object.SerializeToString())
        copy = pb_class()
        copy.CopyFrom(pb2_object)
        return over(cls, copy)

    @classmethod
    def from_bytes(cls, data) -> FlyteIdlEntity:
        """Decode one serialized message (bytes-like) into a lazy model, validated as a bulk decode validates
        it (:class:`flytecodec.DecodeError` when it is not valid)."""
        from flytecodec.bulk import decode

        return decode(cls, data, framing="message")[0]

    # -- the protobuf round trip ---------------------------------------------------------------------------

    def to_flyte_idl(self):
        """The flyteidl protobuf message: for a decoded model, a copy of the original (unknown fields too)."""
        pb = self._source_copy()
        if pb is not None:
            dirty = self._dirty
            if not dirty:
                return pb
            fields = [self._field_map[name] for name in dirty]
            for f in fields:
                pb.ClearField(f.proto)
        else:
            pb = self._pb_class()
            fields = self._all_fields
        values = self.__dict__
        for f in fields:
            v = values.get(f.name)
            if v is not None:
                f.write(pb, v)
        return pb

    def serialize_to_string(self) -> bytes:
        """The serialized message: for a record of a bulk decode, exactly the bytes it was decoded from."""
        if not self._dirty:
            raw = self._raw  # the python backend's (RecordBytes, index) of a bulk-decoded record
            if raw is not None:
                return bytes(raw[0][raw[1]])
            data = self._source_bytes()
            if data is not None:
                return data
        pb = self.to_flyte_idl()
        return b"" if pb is None else pb.SerializeToString()

    @property
    def is_empty(self) -> bool:
        if not self._dirty:
            empty = self._source_empty()  # protobuf's answer: fields set to their defaults serialize to nothing
            if empty is not None:
                return empty
        pb = self.to_flyte_idl()
        return pb is None or pb.ByteSize() == 0

    def to_flytekit(self):
        """The equivalent flytekit model (needs flytekit installed)."""
        import importlib

        module = type(self).__module__
        if not module.startswith("flytecodec.") or module == "flytecodec.models.generic":
            raise TypeError(f"{type(self).__qualname__} has no flytekit counterpart")
        target = importlib.import_module("flytekit." + module[len("flytecodec.") :])
        for part in type(self).__qualname__.split("."):
            target = getattr(target, part)
        return target.from_flyte_idl(self.to_flyte_idl())

    # -- comparisons -----------------------------------------------------------------------------------------

    def __eq__(self, other):
        if self is other:
            return True
        if isinstance(other, FlyteIdlEntity):
            if not self._dirty and not other._dirty:
                mine, theirs = self._src, other._src
                if mine is not None and theirs is not None:
                    return _same_message(mine, theirs)
        elif not hasattr(other, "to_flyte_idl"):
            return False
        return _same_message(self.to_flyte_idl(), other.to_flyte_idl())

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(self.to_flyte_idl().SerializeToString(deterministic=True))

    # -- printing --------------------------------------------------------------------------------------------

    def __repr__(self):
        return str(self.to_flyte_idl())

    def __str__(self):
        return self.short_string()

    def short_string(self) -> str:
        body = _yaml_like(self.to_flyte_idl(), 2).rstrip(os.linesep)
        return f"Flyte Serialized object ({type(self).__name__}):" + os.linesep + body

    def _repr_html_(self) -> str:
        body = _yaml_like(self.to_flyte_idl(), 0).rstrip(os.linesep)
        return f"<h4>{type(self).__name__}</h4><pre>{body}</pre>"

    # -- assignment ------------------------------------------------------------------------------------------

    def __setattr__(self, name, value):
        f = getattr(type(self), "_field_map", _NO_FIELDS).get(name)
        if f is None:
            object.__setattr__(self, name, value)
            return
        if not f.settable:
            raise AttributeError(f"property '{name}' of '{type(self).__name__}' object has no setter")
        self._assign(f, value)

    def _assign(self, f: Field, value) -> None:
        """Give field ``f`` a new value; on a decoded model it is applied over the source by to_flyte_idl."""
        self.__dict__[f.name] = f.coerce(value)
        if self._decoded:
            dirty = self._dirty
            if dirty is None:
                dirty = set()
                set_dirty(self, dirty)
            dirty.add(f.name)

    # -- pickling --------------------------------------------------------------------------------------------

    def __reduce__(self):
        fields = self._field_map
        state = {k: v for k, v in self.__dict__.items() if k not in fields and k not in _PRIVATE} or None
        if self._decoded:
            return _restore_decoded, (type(self), self.serialize_to_string()), state
        values = tuple(self.__dict__.get(f.name) for f in self._all_fields)
        return _restore_constructed, (type(self), values), state

    def __setstate__(self, state) -> None:
        """Apply a pickle's state: only attributes of subclasses (e.g. a remote execution's), never a field's
        value or the model's bookkeeping, which come from the validated bytes or the constructor's values."""
        if state is None:
            return
        if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
            raise TypeError(f"cannot unpickle {type(self).__name__}: its state must be a dict of attributes")
        refused = sorted(k for k in state if k in self._field_map or k in _PRIVATE)
        if refused:
            raise TypeError(
                f"cannot unpickle {type(self).__name__}: its state sets {', '.join(refused)}, which a pickle of "
                "this package never carries (field values travel as the message's bytes)"
            )
        self.__dict__.update(state)


_NO_FIELDS: dict[str, Field] = {}
# bookkeeping that pickling leaves out (and refuses in a pickle's state)
_PRIVATE = frozenset(["_dirty", "_raw", "_src", "_decoded", "__dict__", "__weakref__"])


def _same_message(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return a.DESCRIPTOR.full_name == b.DESCRIPTOR.full_name and a == b


def _restore_decoded(cls, data):
    """A decoded model from a pickle: its bytes validated as a decode validates them (a crafted pickle gets
    :class:`flytecodec.DecodeError`)."""
    if not (isinstance(cls, type) and issubclass(cls, FlyteIdlEntity) and hasattr(cls, "_pb_name")):
        raise TypeError(f"cannot unpickle a model of {cls!r}: not a flytecodec model class")
    if not isinstance(data, bytes):
        raise TypeError(f"cannot unpickle {cls.__name__}: its message must be bytes, got {type(data).__name__}")
    return cls.from_bytes(data)


def _restore_constructed(cls, values):
    """A constructed model from a pickle: its constructor's values, stored as the constructor stores them."""
    if not (isinstance(cls, type) and issubclass(cls, FlyteIdlEntity) and hasattr(cls, "_pb_name")):
        raise TypeError(f"cannot unpickle a model of {cls!r}: not a flytecodec model class")
    if not isinstance(values, tuple) or len(values) != len(cls._all_fields):
        raise TypeError(f"cannot unpickle {cls.__name__}: its values must be a tuple of {len(cls._all_fields)}")
    obj = cls.__new__(cls)
    _init_values(obj, values)
    return obj


def _init_values(obj, values) -> None:
    set_src(obj, None)
    set_dirty(obj, None)
    set_raw(obj, None)
    d = obj.__dict__
    for f, v in zip(type(obj)._all_fields, values):
        d[f.name] = f.coerce(v)


def _make_init(cls, fields):
    """A constructor with flytekit's signature: its parameters, then keyword-only ones for the other fields."""
    positional, keyword = [], []
    namespace = {"_init_values": _init_values}
    for i, f in enumerate(fields):
        if f.init is REQUIRED:
            positional.append(f.name)
        elif f.init is _NOT_A_PARAM:
            keyword.append(f"{f.name}=None")
        else:
            namespace[f"_d{i}"] = f.init
            positional.append(f"{f.name}=_d{i}")
    params = ", ".join(positional + (["*", *keyword] if keyword else []))
    args = ", ".join(f.name for f in fields)
    source = f"def __init__(self, {params}):\n    _init_values(self, ({args}{',' if len(fields) == 1 else ''}))\n"
    exec(source, namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    return init


def _field_doc(message: str, f: Field) -> str:
    return _docs.property_doc(message, f.proto) or f"``{message}.{f.proto}`` ({f.shape} {f.elem})"


def _yaml_like(msg, indent: int) -> str:
    """The indented ``name: value`` rendering flytekit's ``short_string`` uses."""
    lines = []
    for fdesc, value in msg.ListFields():
        if hasattr(value, "ListFields"):
            if value.ListFields():  # a header for any message with a field set, even if nothing prints under it
                lines.append(" " * indent + fdesc.name + ":" + os.linesep + _yaml_like(value, indent + 2))
            continue
        text = textwrap.shorten(str(value).strip(), width=80)
        if text:
            lines.append(" " * indent + fdesc.name + ": " + text + os.linesep)
    return "".join(lines)


# -- models for messages nobody wrote a class for -----------------------------------------------------------
