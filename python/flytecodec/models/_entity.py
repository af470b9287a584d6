"""The one definition of a model: a field table turned into lazy properties, a constructor and ``to_flyte_idl``.

A model class names its protobuf message and lists, in flytekit's constructor order, the fields flytekit
documents (:class:`Field`). Every other field of the message is added automatically under its proto name,
so that every field of the message is a property and a keyword-only constructor argument.

An instance holds either

* a *source* — the protobuf message it was decoded from (``from_flyte_idl`` or bulk decode). A property is
  converted from the source the first time it is read and cached in the instance ``__dict__``, where later
  reads find it without any Python code running. ``to_flyte_idl()`` returns a copy of the source: every field,
  unknown fields included, survives the round trip; or
* *values* — what the constructor was given. ``to_flyte_idl()`` builds the message from them as flytekit does.

Properties are read-only, as flytekit's are, except where flytekit lets them be set (its dataclass models and
``Literal.hash``); setting one on a decoded model is remembered and applied on top of the source.
"""

from __future__ import annotations

import enum as _enum
import operator
import os
import sys
import textwrap
import types
from typing import Any, Callable, ClassVar

from google.protobuf import message_factory as _message_factory

from flytecodec import _values
from flytecodec.models import _docs

try:
    from flytecodec._native import NativeProperty, NativeRecord
except ImportError:  # the extension is not built: every source is a protobuf message

    class NativeRecord:  # type: ignore[no-redef]
        """Stands in for the extension's record type, of which there are then no instances."""

    NativeProperty = None  # type: ignore[assignment,misc]

REQUIRED: Any = type("Required", (), {"__repr__": lambda self: "REQUIRED"})()
"""Marks a constructor parameter without a default."""

_NOT_A_PARAM: Any = type("NotAParam", (), {"__repr__": lambda self: "NOT_A_PARAM"})()

# What a property gives when its field is absent from the source:
PRESENCE = "presence"  # None when the field is not set (HasField is false)
FALSY = "falsy"  # None when the value is falsy (empty string, 0, empty list, absent message)
NEVER = "never"  # always a value: the field's default when unset
EMPTY = "empty"  # None when the message is not set or serializes to nothing

_REGISTRY: dict[str, type] = {}  # proto full name -> the model class that represents it
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
        "absent",
        "accept",
        "coerce",
        "convert",
        "elem",
        "fdesc",
        "init",
        "kind",
        "model",
        "name",
        "none",
        "proto",
        "read",
        "settable",
        "shape",
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

    # -- binding to the protobuf descriptor -------------------------------------------------------------

    def bind(self, fdesc) -> None:
        """Work out the field's shape from its protobuf descriptor; readers are made on first use."""
        self.fdesc = fdesc
        is_repeated = getattr(fdesc, "is_repeated", None)
        if is_repeated is None:  # protobuf < 6
            is_repeated = fdesc.label == fdesc.LABEL_REPEATED
        mtype = fdesc.message_type
        if is_repeated and mtype is not None and mtype.GetOptions().map_entry:
            self.shape = "map"
            value_desc = mtype.fields_by_name["value"]
            self.elem = self._elem_kind(value_desc.message_type)
        elif is_repeated:
            self.shape = "repeated"
            self.elem = "kvdict" if self.kind == "kvdict" else self._elem_kind(mtype)
            if self.elem == "kvdict":
                self.shape = "kvdict"
        else:
            self.shape = "single"
            self.elem = self._elem_kind(mtype)
        if self.absent is None:
            self.absent = PRESENCE if (self.shape == "single" and fdesc.has_presence) else NEVER
        self.read = self._first_read
        self.write = self._first_write
        self.coerce = self._make_coerce()

    def _elem_kind(self, mtype) -> str:
        if self.kind in ("raw", "naive"):
            return self.kind
        if mtype is None:
            return "scalar"
        full = mtype.full_name
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
        mtype = self.fdesc.message_type
        if self.shape == "map":
            mtype = mtype.fields_by_name["value"].message_type
        self.model = m = model_for(m or mtype.full_name)
        return m

    # -- reading from a protobuf source (the python backend) --------------------------------------------

    def _first_read(self, pb):
        self.read = _make_reader(self)
        return self.read(pb)

    # -- writing into a protobuf message (constructed models) -------------------------------------------

    def _first_write(self, pb, value) -> None:
        self.write = _make_writer(self)
        self.write(pb, value)

    # -- constructor arguments --------------------------------------------------------------------------

    def _make_coerce(self) -> Callable[[Any], Any]:
        none, accept = self.none, self.accept
        elem, shape = self.elem, self.shape

        if elem != "model":
            if none is None and accept is None:
                return _identity
            accept = accept or _identity
            return lambda v: (none() if none is not None else None) if v is None else accept(v)

        def to_model(v):
            if v is None or isinstance(v, FlyteIdlEntity) or not hasattr(v, "to_flyte_idl"):
                return v
            pb = v.to_flyte_idl()
            cls = self.model_class()
            return cls() if pb is None else cls.from_flyte_idl(pb)  # flytekit's empty SecurityContext gives None

        def coerce(v):
            if v is None:
                return none() if none is not None else None
            if accept is not None:
                v = accept(v)
            if shape == "single":
                return to_model(v)
            if shape == "map":
                if any(not isinstance(x, FlyteIdlEntity) for x in v.values()):
                    return {k: to_model(x) for k, x in v.items()}
                return v
            if any(not isinstance(x, FlyteIdlEntity) for x in v):
                return [to_model(x) for x in v]
            return v

        return coerce


def _identity(v):
    return v


def _make_reader(f: Field) -> Callable[[Any], Any]:
    """A function that converts field ``f`` of a protobuf message into its Python value."""
    n = f.proto
    elem = f.elem
    convert = f.convert
    if elem == "model":
        wrap = f.model_class()._wrap
    elif elem == "timestamp":
        wrap = _values.timestamp_aware
    elif elem == "naive":
        wrap = _values.timestamp_naive
    elif elem == "duration":
        wrap = _values.duration
    elif elem == "wrapper":

        def wrap(w):
            return w.value

    else:  # scalar, raw
        wrap = None

    if f.shape == "map":
        if wrap is None:

            def read(pb):
                return dict(getattr(pb, n))

        else:

            def read(pb):
                return {k: wrap(v) for k, v in getattr(pb, n).items()}

    elif f.shape == "kvdict":

        def read(pb):
            return {kv.key: kv.value for kv in getattr(pb, n)}

    elif f.shape == "repeated":
        if wrap is None:

            def read(pb):
                return list(getattr(pb, n))

        else:

            def read(pb):
                return [wrap(v) for v in getattr(pb, n)]

    elif wrap is None:
        read = operator.attrgetter(n)
    elif elem == "model":
        cls = f.model_class()

        def read(pb):  # _wrap inlined: this is the hot path of nested models
            obj = _new(cls)
            _set_src(obj, getattr(pb, n))
            return obj

    else:

        def read(pb):
            return wrap(getattr(pb, n))

    plain = read
    absent = f.absent
    if absent == PRESENCE and f.shape == "single":

        def read(pb):
            return plain(pb) if pb.HasField(n) else None

    elif absent == EMPTY:

        def read(pb):
            return plain(pb) if pb.HasField(n) and getattr(pb, n).ByteSize() else None

    elif absent == FALSY:
        if f.shape == "single" and f.fdesc.message_type is not None:

            def read(pb):
                return plain(pb) if pb.HasField(n) else None

        else:

            def read(pb):
                return plain(pb) if getattr(pb, n) else None

    if convert is not None:
        inner = read

        def read(pb):
            v = inner(pb)
            return None if v is None else convert(v)

    return read


def _scalar_out(v):
    return v.value if isinstance(v, _enum.Enum) else v


def _make_writer(f: Field) -> Callable[[Any, Any], None]:
    """A function that stores the Python value of field ``f`` into a protobuf message."""
    n = f.proto
    elem = f.elem
    unconvert = f.unconvert or _scalar_out

    def put(target, v):  # store one element into a message target
        if elem == "model":
            sub = v.to_flyte_idl()
            if sub is not None:
                target.CopyFrom(sub)
        elif elem in ("timestamp", "naive"):
            _values.set_timestamp(target, v)
        elif elem == "duration":
            _values.set_duration(target, v)
        elif elem == "wrapper":
            target.value = v
        else:  # raw
            target.CopyFrom(v)

    if f.shape == "map":
        if f.elem == "scalar":

            def write(pb, v):
                getattr(pb, n).update(v)

        else:

            def write(pb, v):
                m = getattr(pb, n)
                for k, x in v.items():
                    put(m[k], x)

    elif f.shape == "kvdict":

        def write(pb, v):
            container = getattr(pb, n)
            for k, x in v.items():
                container.add(key=k, value=x)

    elif f.shape == "repeated":
        if f.elem == "scalar":

            def write(pb, v):
                getattr(pb, n).extend(unconvert(x) for x in v)

        else:

            def write(pb, v):
                container = getattr(pb, n)
                for x in v:
                    put(container.add(), x)

    elif elem == "scalar":

        def write(pb, v):
            setattr(pb, n, unconvert(v))

    elif elem == "model":

        def write(pb, v):
            sub = v.to_flyte_idl()
            if sub is not None:
                getattr(pb, n).CopyFrom(sub)

    else:

        def write(pb, v):
            target = getattr(pb, n)
            put(target, v)
            target.SetInParent()

    return write


class _FieldProperty:
    """The class attribute behind a model property when the extension is not built (else ``NativeProperty``).

    It is a non-data descriptor: the first read converts the field from the source and stores the result in
    the instance ``__dict__``, so every later read is a plain attribute lookup. Assignment is guarded by
    :meth:`FlyteIdlEntity.__setattr__`. Each field has its own subclass, whose ``__get__`` is replaced on first
    use by one specialized for the field (one Python frame per first read, none after).
    """

    __slots__ = ("__dict__", "field", "name")

    def __init__(self, field: Field, doc: str | None):
        self.field = field
        self.name = field.name
        self.__doc__ = doc

    def __get__(self, obj, owner=None):
        type(self).__get__ = _specialized_get(self.field)
        return type(self).__get__(self, obj, owner)


def _field_property(field: Field, doc: str):
    """The property for ``field``: the extension's ``NativeProperty`` (its ``__get__`` in Rust) when it is
    built, else a ``_FieldProperty``."""
    if NativeProperty is not None:
        spec = _native_spec(field)
        resolve_model = field.model_class if spec is not None and field.elem == "model" else None
        return NativeProperty(
            field.name,
            doc,
            spec,
            resolve_model,
            lambda: _resolved_read(field),
            lambda: _protobuf_read(field),
            _set_src,
        )
    cls = type(f"_FieldProperty_{field.name}", (_FieldProperty,), {"__slots__": ()})
    return cls(field, doc)


_NATIVE_ELEMS = frozenset(["scalar", "timestamp", "naive", "duration", "wrapper", "model"])


def _native_spec(f: Field):
    """``(message, number, elem, absent)`` when Rust reads the field from a record, else None: single values
    with the common policies; repeated fields, maps, raw messages and converted values go through protobuf."""
    if f.shape == "single" and f.elem in _NATIVE_ELEMS and f.absent in (NEVER, PRESENCE, FALSY) and not f.convert:
        return (f.fdesc.containing_type.full_name, f.fdesc.number, f.elem, f.absent)
    return None


def _resolved_read(f: Field) -> Callable[[Any], Any]:
    """Field ``f``'s reader of protobuf messages, made now."""
    f.read = _make_reader(f)
    return f.read


def _protobuf_read(f: Field) -> Callable[[Any], Any]:
    """Field ``f``'s reader of native records through their protobuf message (parsed once per record)."""
    read = _resolved_read(f)
    pb_class = _message_factory.GetMessageClass(f.fdesc.containing_type)
    parse = NativeRecord.pb
    return lambda rec: read(parse(rec, pb_class))


def _specialized_get(f: Field):
    """A ``__get__`` for field ``f`` of protobuf sources, with the common conversions inlined."""
    read = _make_reader(f)
    f.read = read
    name, n = f.name, f.proto
    if f.elem == "scalar" and f.shape == "single" and f.absent == NEVER and f.convert is None:

        def get(desc, obj, owner=None):
            if obj is None:
                return desc
            src = obj._src
            value = None if src is None else getattr(src, n)
            obj.__dict__[name] = value
            return value

    elif f.elem == "model" and f.shape == "single" and f.absent == NEVER:
        cls = f.model_class()

        def get(desc, obj, owner=None):
            if obj is None:
                return desc
            src = obj._src
            if src is None:
                value = None
            else:
                value = _new(cls)
                _set_src(value, getattr(src, n))
            obj.__dict__[name] = value
            return value

    else:

        def get(desc, obj, owner=None):
            if obj is None:
                return desc
            src = obj._src
            value = None if src is None else read(src)
            obj.__dict__[name] = value
            return value

    return get


_new = object.__new__


class FlyteIdlEntity:
    """Base of every model: equality, hashing, printing, pickling and the protobuf round trip.

    Compatible with ``flytekit.models.common.FlyteIdlEntity``: equality compares ``to_flyte_idl()``, with this
    package's models and with anything else that has ``to_flyte_idl`` (flytekit's models included).
    """

    __slots__ = ("__dict__", "__weakref__", "_src")

    _pb_class: ClassVar[type]
    _fields: ClassVar[tuple[Field, ...]] = ()
    _all_fields: ClassVar[tuple[Field, ...]]
    _field_map: ClassVar[dict[str, Field]]

    def __init_subclass__(cls, proto: type | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if proto is None:
            return
        cls._pb_class = proto
        descriptor = proto.DESCRIPTOR
        declared = list(cls.__dict__.get("_fields", ()))
        by_proto = {f.proto: f for f in declared}
        unknown = set(by_proto) - set(descriptor.fields_by_name)
        if unknown:
            raise TypeError(f"{cls.__name__}: {descriptor.full_name} has no field(s) {sorted(unknown)}")
        extra = [Field(fd.name) for fd in descriptor.fields if fd.name not in by_proto]
        all_fields = tuple(declared + extra)
        for f in all_fields:
            f.bind(descriptor.fields_by_name[f.proto])
        cls._all_fields = all_fields
        cls._field_map = {f.name: f for f in all_fields}
        for f in all_fields:
            if f.name not in cls.__dict__:
                setattr(cls, f.name, _field_property(f, _field_doc(descriptor, f)))
        if "__init__" not in cls.__dict__:
            cls.__init__ = _make_init(cls, all_fields)
        cls.__doc__ = _docs.class_doc(cls.__doc__, descriptor.full_name, [(f.name, f.proto) for f in all_fields])
        _REGISTRY.setdefault(descriptor.full_name, cls)

    # -- making instances ----------------------------------------------------------------------------------

    @classmethod
    def _wrap(cls, pb):
        """A lazy model over ``pb``, which the model takes ownership of (no copy)."""
        obj = _new(cls)
        _set_src(obj, pb)
        return obj

    @classmethod
    def from_flyte_idl(cls, pb2_object):
        """A lazy model of a copy of ``pb2_object`` (later changes to the message do not show through)."""
        pb_class = cls._pb_class
        if type(pb2_object) is not pb_class:
            descriptor = getattr(pb2_object, "DESCRIPTOR", None)
            if getattr(descriptor, "full_name", None) != pb_class.DESCRIPTOR.full_name:
                raise TypeError(
                    f"{cls.__name__}.from_flyte_idl expects a {pb_class.DESCRIPTOR.full_name} message, "
                    f"got {type(pb2_object).__name__}"
                )
            return cls._wrap(pb_class.FromString(pb2_object.SerializeToString()))
        copy = pb_class()
        copy.CopyFrom(pb2_object)
        return cls._wrap(copy)

    @classmethod
    def from_bytes(cls, data) -> FlyteIdlEntity:
        """Decode one serialized message (bytes-like) into a lazy model; see :func:`flytecodec.decode`."""
        from flytecodec.bulk import decode

        return decode(cls, data, framing="message")[0]

    # -- the protobuf round trip ---------------------------------------------------------------------------

    def to_flyte_idl(self):
        """The flyteidl protobuf message: for a decoded model, a copy of the original (unknown fields too)."""
        src = self._src
        if src is not None:
            if type(src) is NativeRecord:
                pb = self._pb_class.FromString(src.to_bytes())
            else:
                pb = self._pb_class()
                pb.CopyFrom(src)
            dirty = self.__dict__.get("_dirty")
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
        src = self._src
        if src is not None and not self.__dict__.get("_dirty"):
            raw = self.__dict__.get("_raw")  # (RecordBytes, index) of a bulk-decoded record
            if raw is not None:
                return bytes(raw[0][raw[1]])
            return src.serialize(self._pb_class) if type(src) is NativeRecord else src.SerializeToString()
        pb = self.to_flyte_idl()
        return b"" if pb is None else pb.SerializeToString()

    @property
    def is_empty(self) -> bool:
        src = self._src
        if src is not None and not self.__dict__.get("_dirty"):
            if type(src) is NativeRecord:  # protobuf's answer: fields set to their defaults serialize to nothing
                return src.size() == 0 or src.pb(self._pb_class).ByteSize() == 0
            return src.ByteSize() == 0
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
            mine, theirs = self._src, other._src
            if (
                mine is not None
                and theirs is not None
                and type(mine) is not NativeRecord
                and type(theirs) is not NativeRecord
                and not self.__dict__.get("_dirty")
                and not other.__dict__.get("_dirty")
            ):
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
        d = self.__dict__
        d[f.name] = f.coerce(value)
        if self._src is not None:
            d.setdefault("_dirty", set()).add(f.name)

    # -- pickling --------------------------------------------------------------------------------------------

    def __reduce__(self):
        fields = self._field_map
        state = {k: v for k, v in self.__dict__.items() if k not in fields and k not in _PRIVATE} or None
        if self._src is not None:
            return _restore_decoded, (type(self), self.serialize_to_string()), state
        values = tuple(self.__dict__.get(f.name) for f in self._all_fields)
        return _restore_constructed, (type(self), values), state


_NO_FIELDS: dict[str, Field] = {}
_PRIVATE = frozenset(["_dirty", "_raw"])  # bookkeeping in the instance dict that pickling leaves out
_set_src = FlyteIdlEntity._src.__set__  # type: ignore[attr-defined]


def _same_message(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return a.DESCRIPTOR.full_name == b.DESCRIPTOR.full_name and a == b


def _restore_decoded(cls, data):
    obj = cls._wrap(cls._pb_class.FromString(data))
    obj.__dict__["_raw"] = ((data,), 0)  # serialize_to_string() gives back the pickled bytes exactly
    return obj


def _restore_constructed(cls, values):
    obj = _new(cls)
    _init_values(obj, values)
    return obj


def _init_values(obj, values) -> None:
    _set_src(obj, None)
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


def _field_doc(descriptor, f: Field) -> str:
    return (
        _docs.property_doc(descriptor.full_name, f.proto)
        or f"``{descriptor.full_name}.{f.proto}`` ({f.shape} {f.elem})"
    )


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

_generic_module = types.ModuleType(
    "flytecodec.models.generic",
    "Lazy models made on demand for protobuf messages outside the execution domain (field access, equality, "
    "to_flyte_idl); each class is named after its message, with dots as underscores.",
)


def _generic_getattr(name: str):
    full_name = name.replace("__", ".")
    try:
        return model_for(full_name)
    except KeyError:
        raise AttributeError(f"module 'flytecodec.models.generic' has no attribute {name!r}") from None


_generic_module.__getattr__ = _generic_getattr  # type: ignore[attr-defined]
sys.modules.setdefault("flytecodec.models.generic", _generic_module)


def model_for(full_name: str) -> type:
    """The model class for a protobuf message full name, creating a generic lazy model if there is none."""
    cls = _REGISTRY.get(full_name)
    if cls is not None:
        return cls
    import flytecodec.models.all  # noqa: F401  (every hand-written model registers before a generic is made)

    cls = _REGISTRY.get(full_name)
    if cls is not None:
        return cls
    from google.protobuf import descriptor_pool

    try:
        descriptor = descriptor_pool.Default().FindMessageTypeByName(full_name)
    except KeyError:
        raise KeyError(f"unknown protobuf message {full_name!r}") from None
    pb_class = _message_factory.GetMessageClass(descriptor)
    attr = full_name.replace(".", "__")
    namespace = {"__module__": "flytecodec.models.generic", "__qualname__": attr, "__doc__": f"Lazy {full_name}."}
    cls = types.new_class(attr, (FlyteIdlEntity,), {"proto": pb_class}, lambda ns: ns.update(namespace))
    setattr(_generic_module, attr, cls)
    return cls
