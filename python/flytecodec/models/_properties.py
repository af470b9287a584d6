"""The class attribute behind each model property: the extension's ``NativeProperty`` (Rust) when it is built,
else :class:`_FieldProperty`, a Python descriptor that converts a field on first read and caches it in the
instance ``__dict__``."""

from __future__ import annotations

from typing import Any, Callable

from flytecodec.models._base import NativeProperty, over
from flytecodec.models._convert import make_reader
from flytecodec.models._fields import FALSY, NEVER, PRESENCE, Field


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


def _field_property(field: Field, doc: str, slot: int, slots: int):
    """The property for ``field``: the extension's ``NativeProperty`` (its ``__get__`` in Rust, its value cached in
    slot ``slot`` of the model's ``slots``) when it is built, else a ``_FieldProperty``."""
    if NativeProperty is not None:
        spec = _native_spec(field)
        resolve_model = field.model_class if spec is not None and field.elem == "model" else None
        return NativeProperty(field.name, doc, slot, slots, spec, resolve_model, lambda: _resolved_read(field))
    cls = type(f"_FieldProperty_{field.name}", (_FieldProperty,), {"__slots__": ()})
    return cls(field, doc)


_NATIVE_ELEMS = frozenset(["scalar", "timestamp", "naive", "duration", "wrapper", "model"])


def _native_spec(f: Field):
    """``(message, number, shape, elem, absent)`` when Rust reads the field from a record, else None: single
    values with the common policies, and lists and maps of scalars or of sub-messages; key/value lists, raw
    messages and converted values go through protobuf."""
    if f.convert:
        return None
    single = f.shape == "single" and f.elem in _NATIVE_ELEMS and f.absent in (NEVER, PRESENCE, FALSY)
    several = f.shape in ("repeated", "map") and f.elem in ("scalar", "model") and f.absent in (NEVER, FALSY)
    if f.shape == "map" and not f.string_keys:
        return None
    if single or several:
        return (f.message, f.number, f.shape, f.elem, f.absent)
    return None


def _resolved_read(f: Field) -> Callable[[Any], Any]:
    """Field ``f``'s reader of protobuf messages, made now."""
    f.read = make_reader(f)
    return f.read


def _specialized_get(f: Field):
    """A ``__get__`` for field ``f`` of protobuf sources, with the common conversions inlined."""
    read = make_reader(f)
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
            value = None if src is None else over(cls, getattr(src, n))
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
