"""The bottom of the model layer: the base class that holds a model's source and its cached values.

When the extension is built, the base is ``flytecodec._native.ModelBase`` (Rust): it holds the source — nothing
for a constructed model, a record's bytes, or a protobuf message — and a fixed array of cached field values, and
its ``NativeProperty`` descriptors read fields from the bytes in Rust. Without the extension, :class:`Base` below
is the same surface in Python, for protobuf sources (its properties cache values in the instance ``__dict__``).
Nothing here imports the rest of the package.
"""

from __future__ import annotations

try:
    from flytecodec._native import ModelBase as Base
    from flytecodec._native import NativeProperty, read_message
except ImportError:  # the extension is not built: every source is a protobuf message
    NativeProperty = None  # type: ignore[assignment,misc]
    read_message = None  # type: ignore[assignment]

    class Base:  # type: ignore[no-redef]
        """The model base when the extension is not built: the same surface as ``_native.ModelBase``, for
        protobuf sources only (the values a property converts are cached in the instance ``__dict__``)."""

        # the message read from (None for a constructed model), the names of the fields assigned on a decoded
        # model (a set, or None), and the python backend's (RecordBytes, index) of a bulk-decoded record
        __slots__ = ("_dirty", "_raw", "_src")

        @staticmethod
        def _over(cls, pb):
            obj = _new(cls)
            set_src(obj, pb)
            set_dirty(obj, None)
            set_raw(obj, None)
            return obj

        @property
        def _decoded(self) -> bool:
            return self._src is not None

        def _source_copy(self):
            src = self._src
            if src is None:
                return None
            pb = self._pb_class()
            pb.CopyFrom(src)
            return pb

        def _source_bytes(self):
            src = self._src
            return None if src is None else src.SerializeToString()

        def _source_empty(self):
            src = self._src
            return None if src is None else src.ByteSize() == 0


_new = object.__new__
set_src = Base._src.__set__  # type: ignore[attr-defined]
set_dirty = Base._dirty.__set__  # type: ignore[attr-defined]
set_raw = Base._raw.__set__  # type: ignore[attr-defined]
over = Base._over
"""``over(cls, pb)``: a new model of class ``cls`` over the protobuf message ``pb`` (taken over, not copied)."""
