"""Comparing flytecodec models with flytekit's, property by property (flytekit is the oracle)."""

from __future__ import annotations

import datetime
import enum
import inspect
from collections.abc import Mapping

from flytekit.models.common import FlyteIdlEntity as FkEntity
from google.protobuf.message import Message

from flytecodec.models._entity import FlyteIdlEntity
from flytecodec.models._properties import _FieldProperty
from support import tally

_PROPERTIES: dict[type, list[str]] = {}


def properties(cls: type) -> list[str]:
    """Every property of a model class: its fields (the documented ones and the ones added under their proto
    names) and flytekit's extra properties (``value``, ``target_metadata``, ``source_execution``, ``is_empty``…)."""
    names = _PROPERTIES.get(cls)
    if names is None:
        names = [f.name for f in cls._all_fields]
        for klass in cls.__mro__:
            for name, value in vars(klass).items():
                if isinstance(value, (property, _FieldProperty)) and not name.startswith("_") and name not in names:
                    names.append(name)
        _PROPERTIES[cls] = names
    return names


def _flytekit_cannot_serialize(model) -> bool:
    """flytekit models whose to_flyte_idl() fails or gives None (an empty SecurityContext, a Scalar holding an
    error): their serialization-based properties raise in flytekit, and answer in ours (docs/compatibility.md)."""
    try:
        return model.to_flyte_idl() is None
    except AttributeError:
        return True


def flytekit_properties(cls) -> list:
    """The public properties of a flytekit model class (its documented read API)."""
    names = []
    for klass in cls.__mro__:
        for name, value in vars(klass).items():
            if isinstance(value, property) and not name.startswith("_") and name not in names:
                names.append(name)
    return names


def _check_is_empty(ours, theirs, where: str) -> bool:
    """``is_empty`` says whether the model's message serializes to nothing. flytekit asks its own rebuilt
    message, which adds empty sub-messages or drops fields; where that message differs from ours (or flytekit
    cannot build one), ours answers for the message it actually holds (docs/compatibility.md). Returns whether
    flytekit's answer was compared."""
    assert ours.is_empty == (len(ours.serialize_to_string()) == 0), where
    if not _flytekit_cannot_serialize(theirs) and theirs.to_flyte_idl() == ours.to_flyte_idl():
        assert ours.is_empty == theirs.is_empty, where
        return True
    return False


def _read(obj, name):
    try:
        return getattr(obj, name), None
    except Exception as e:
        return None, e


def assert_same(ours, theirs, path: str = "", *, source: str = "constructed", record: bytes = b"") -> int:
    """``ours`` gives what ``theirs`` gives for every flytekit property, recursively.

    Returns how many property values were compared with flytekit's, and counts each once in ``support.tally`` under
    ``source`` (``decoded``, ``hypothesis`` or ``constructed``) for the record whose bytes are ``record``.
    """
    key = tally.record_key(record)
    return _Compare(source, key).same(ours, theirs, path)


class _Compare:
    def __init__(self, source: str, key: bytes):
        self.source = source
        self.key = key
        self.count = 0

    def _counted(self, where: str) -> None:
        tally.add("flytekit", self.source, self.key, where)
        self.count += 1

    def same(self, ours, theirs, path: str) -> int:
        self._same(ours, theirs, path)
        return self.count

    def _same(self, ours, theirs, path: str) -> None:
        if isinstance(theirs, FkEntity):
            assert isinstance(ours, FlyteIdlEntity), f"{path}: flytekit gives {type(theirs).__name__}, ours {ours!r}"
            if type(ours).__module__ == "flytecodec.models.generic":
                # a generic lazy model (made for messages without a hand-written model, in the module
                # flytecodec.models.generic that the model layer registers): flytekit must read the same thing
                # from our message as from its own
                again = type(theirs).from_flyte_idl(ours.to_flyte_idl()).to_flyte_idl()
                assert again == theirs.to_flyte_idl(), f"{path}: generic model differs"
                self._counted(path)
                return
            assert type(ours).__name__ == type(theirs).__name__, f"{path}: {type(ours)} vs {type(theirs)}"
            for name in flytekit_properties(type(theirs)):
                t_value, t_error = _read(theirs, name)
                o_value, o_error = _read(ours, name)
                where = f"{path}.{name}"
                if name == "is_empty":
                    if _check_is_empty(ours, theirs, where):
                        self._counted(where)
                    continue
                if t_error is not None:
                    assert o_error is not None, f"{where}: flytekit raises {t_error!r}, ours gives {o_value!r}"
                    assert type(t_error).__name__ == type(o_error).__name__, f"{where}: {t_error!r} vs {o_error!r}"
                    self._counted(where)
                    continue
                assert o_error is None, f"{where}: ours raises {o_error!r}, flytekit gives {t_value!r}"
                self._same(o_value, t_value, where)
                self._counted(where)
            return
        if isinstance(theirs, Message):
            assert isinstance(ours, Message) and ours == theirs, f"{path}: {ours!r} != {theirs!r}"
            return
        if isinstance(theirs, Mapping) or type(theirs).__name__ in ("ScalarMap", "MessageMap"):
            assert isinstance(ours, dict), f"{path}: expected a dict, got {type(ours).__name__}"
            assert set(ours) == set(theirs), f"{path}: keys {sorted(ours)} != {sorted(theirs)}"
            for k in theirs:
                self._same(ours[k], theirs[k], f"{path}[{k!r}]")
            return
        if isinstance(theirs, (list, tuple)) or type(theirs).__name__.startswith("Repeated"):
            assert isinstance(ours, list), f"{path}: expected a list, got {type(ours).__name__}"
            assert len(ours) == len(theirs), f"{path}: length {len(ours)} != {len(theirs)}"
            for i, (o, t) in enumerate(zip(ours, theirs)):
                self._same(o, t, f"{path}[{i}]")
            return
        if isinstance(theirs, datetime.datetime):
            assert isinstance(ours, datetime.datetime) and ours == theirs, f"{path}: {ours!r} != {theirs!r}"
            assert (ours.tzinfo is None) == (theirs.tzinfo is None), f"{path}: naive/aware differ: {ours!r} {theirs!r}"
            return
        if isinstance(theirs, enum.Enum):
            assert ours == theirs, f"{path}: {ours!r} != {theirs!r}"
            return
        if inspect.ismethod(theirs):
            assert inspect.ismethod(ours), f"{path}: flytekit has a method, ours {ours!r}"
            return
        assert type(ours) is type(theirs), f"{path}: type {type(ours).__name__} != {type(theirs).__name__} ({ours!r})"
        assert ours == theirs or (ours != ours and theirs != theirs), f"{path}: {ours!r} != {theirs!r}"


def for_flytekit(pb):
    """The message flytekit can read: without inline outputs, which crash its LiteralMapBlob.from_flyte_idl."""
    closure = getattr(pb, "closure", None)
    if closure is None or "outputs" not in closure.DESCRIPTOR.fields_by_name:
        return pb, None
    if not closure.HasField("outputs") or not closure.outputs.HasField("values"):
        return pb, None
    stripped = type(pb)()
    stripped.CopyFrom(pb)
    stripped.closure.ClearField("outputs")
    return stripped, pb.closure.outputs.values
