"""Models built by their constructors serialize exactly as flytekit's built from the same arguments.

Every flytekit model in the corpus is rebuilt twice from the values flytekit read — once with flytekit's
constructors, once with ours, recursively — and the two ``to_flyte_idl()`` results must be equal.
"""

from __future__ import annotations

import importlib
import inspect
import pickle

import pytest
from flytekit.models.common import FlyteIdlEntity as FkEntity
from test_models_vs_flytekit import KINDS, _records

from flytecodec.models._entity import FlyteIdlEntity
from support.oracle import assert_same, for_flytekit

N = 300


def our_class(theirs_cls):
    """Our class of the same module path and name, or None when we model it generically."""
    module = "flytecodec." + theirs_cls.__module__[len("flytekit.") :]
    try:
        target = importlib.import_module(module)
    except ImportError:
        return None
    for part in theirs_cls.__qualname__.split("."):
        target = getattr(target, part, None)
    return target if isinstance(target, type) and issubclass(target, FlyteIdlEntity) else None


def _params(cls):
    return [
        p.name
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def rebuild(value):
    """``(ours, theirs)``: ``value`` rebuilt through the constructors, recursively."""
    if isinstance(value, FkEntity):
        ours_cls = our_class(type(value))
        if ours_cls is None:
            return value, value  # a type we model generically: our constructors take flytekit's instance
        pairs = {name: rebuild(getattr(value, name)) for name in _params(type(value))}
        ours = ours_cls(**{k: v[0] for k, v in pairs.items()})
        theirs = type(value)(**{k: v[1] for k, v in pairs.items()})
        return ours, theirs
    if isinstance(value, dict):
        pairs = {k: rebuild(v) for k, v in value.items()}
        return {k: v[0] for k, v in pairs.items()}, {k: v[1] for k, v in pairs.items()}
    if isinstance(value, list) or type(value).__name__.startswith("Repeated"):
        pairs = [rebuild(v) for v in value]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    return value, value


@pytest.mark.parametrize("name", sorted(KINDS))
def test_constructed_models_serialize_like_flytekit(name):
    make_list, _, theirs_cls = KINDS[name]
    compared = 0
    for pb in _records(make_list(N, seed=11)):
        readable, _ = for_flytekit(pb)
        ours, theirs = rebuild(theirs_cls.from_flyte_idl(readable))
        expected = theirs.to_flyte_idl()
        assert ours.to_flyte_idl() == expected
        # protobuf maps have no order: compare the messages the bytes encode
        assert type(expected).FromString(ours.serialize_to_string()) == expected
        assert_same(ours, theirs, name, source="constructed", record=expected.SerializeToString())
        assert ours == theirs and hash(ours) == hash(theirs)
        assert pickle.loads(pickle.dumps(ours)) == ours
        compared += 1
    assert compared == N
