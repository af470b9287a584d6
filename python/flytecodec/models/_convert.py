"""Field values to and from protobuf messages: the readers of the python backend (and of the shapes the native
backend leaves to protobuf) and the writers that build a constructed model's message, one function per field,
made once."""

from __future__ import annotations

import enum as _enum
import operator
from typing import Any, Callable

from flytecodec import _values
from flytecodec.models._base import over
from flytecodec.models._fields import EMPTY, FALSY, PRESENCE, Field


def make_reader(f: Field) -> Callable[[Any], Any]:
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

    if f.shape == "map":  # sorted by key: a parsed map's own order varies from process to process
        if wrap is None:

            def read(pb):
                return dict(sorted(getattr(pb, n).items(), key=_first))

        else:

            def read(pb):
                return {k: wrap(v) for k, v in sorted(getattr(pb, n).items(), key=_first)}

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
            return over(cls, getattr(pb, n))

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


_first = operator.itemgetter(0)


def _scalar_out(v):
    return v.value if isinstance(v, _enum.Enum) else v


def make_writer(f: Field) -> Callable[[Any, Any], None]:
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
