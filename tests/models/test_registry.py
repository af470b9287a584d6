"""The static map of hand-written model classes (``models._registry.MODELS``) is the truth the classes tell."""

from __future__ import annotations

import importlib
import pkgutil

import flytecodec.models
import flytecodec.remote
from flytecodec.models._entity import FlyteIdlEntity
from flytecodec.models._registry import MODELS, model_for


def _hand_written() -> dict[str, type]:
    """Every model class defined in the package's model modules, by its message (the first class defined for a
    message, subclasses such as the remote wrappers aside)."""
    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(flytecodec.models.__path__, "flytecodec.models."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            classes = (
                [value, *(v for v in vars(value).values() if isinstance(v, type))] if isinstance(value, type) else []
            )
            for cls in classes:
                if issubclass(cls, FlyteIdlEntity) and cls.__module__ == info.name and "_pb_name" in cls.__dict__:
                    found.setdefault(cls._pb_name, cls)
    return found


def test_every_hand_written_class_is_in_the_map_and_nothing_else():
    classes = _hand_written()
    assert {name: f"{c.__module__}:{c.__qualname__}" for name, c in classes.items()} == MODELS


def test_model_for_gives_the_hand_written_class_or_a_generic_one():
    for name, cls in _hand_written().items():
        assert model_for(name) is cls
    generic = model_for("flyteidl.core.BlobType")
    assert generic.__module__ == "flytecodec.models.generic"
    assert model_for("flyteidl.core.BlobType") is generic


def test_importing_the_models_does_not_need_the_remote_wrappers():
    assert all(not path.startswith(flytecodec.remote.__name__) for path in MODELS.values())
