"""Switching is an import change: same classes, constructor parameters, defaults, properties and methods."""

import enum
import inspect
import subprocess
import sys

import pytest
from flytekit.models.common import FlyteIdlEntity as FkEntity

from support.pairs import class_pairs

PAIRS = class_pairs()
IDS = [f"{c.__module__}.{c.__qualname__}" for c, _ in PAIRS]


def test_every_listed_class_is_paired():
    names = {c.__name__ for c, _ in PAIRS}
    for expected in [
        "AbortMetadata",
        "ClusterAssignment",
        "Execution",
        "ExecutionClosure",
        "ExecutionMetadata",
        "ExecutionSpec",
        "LiteralMapBlob",
        "NotificationList",
        "SystemMetadata",
        "WorkflowExecutionGetDataResponse",
        "NodeExecutionGetDataResponse",
        "TaskExecutionGetDataResponse",
        "NodeExecution",
        "NodeExecutionClosure",
        "TaskNodeMetadata",
        "WorkflowNodeMetadata",
        "DynamicWorkflowNodeMetadata",
        "TaskExecution",
        "TaskExecutionClosure",
        "FlyteTaskExecution",
        "FlyteWorkflowExecution",
        "FlyteNodeExecution",
        "Identifier",
        "WorkflowExecutionIdentifier",
        "NodeExecutionIdentifier",
        "TaskExecutionIdentifier",
        "ExecutionError",
        "TaskLog",
        "CatalogMetadata",
        "CatalogArtifactTag",
        "Labels",
        "Annotations",
        "AuthRole",
        "RawOutputDataConfig",
        "Envs",
        "UrlBlob",
        "Notification",
        "EmailNotification",
        "SlackNotification",
        "PagerDutyNotification",
        "SecurityContext",
        "Identity",
        "Secret",
        "OAuth2Client",
        "OAuth2TokenRequest",
        "ExecutionClusterLabel",
        "LiteralMap",
        "Literal",
        "Scalar",
        "Primitive",
        "LiteralCollection",
        "WorkflowExecutionPhase",
        "NodeExecutionPhase",
        "TaskExecutionPhase",
        "ResourceType",
    ]:
        assert expected in names, expected


def _params(cls):
    init = cls.__init__
    return [p for p in inspect.signature(init).parameters.values() if p.name != "self"]


CONSTRUCTED = [(o, t) for o, t in PAIRS if t.__init__ is not object.__init__]
NO_CONSTRUCTOR = [(o, t) for o, t in PAIRS if t.__init__ is object.__init__]


@pytest.mark.parametrize("ours, theirs", CONSTRUCTED, ids=[f"{o.__module__}.{o.__qualname__}" for o, _ in CONSTRUCTED])
def test_constructor_parameters_match(ours, theirs):
    mine = {p.name: p for p in _params(ours)}
    for p in _params(theirs):
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        assert p.name in mine, f"{ours.__name__} lacks constructor parameter {p.name}"
        q = mine[p.name]
        if p.default is inspect.Parameter.empty:
            assert q.default is inspect.Parameter.empty or ours.__name__.startswith("Flyte"), p.name
        else:
            same = q.default == p.default or getattr(q.default, "value", q) == getattr(p.default, "value", p)
            assert same, f"{ours.__name__}({p.name}=...) default {q.default!r} != {p.default!r}"
    positional = [p.name for p in _params(theirs) if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert [p.name for p in _params(ours)][: len(positional)] == positional


@pytest.mark.parametrize(
    "ours, theirs", NO_CONSTRUCTOR, ids=[f"{o.__module__}.{o.__qualname__}" for o, _ in NO_CONSTRUCTOR]
)
def test_classes_without_a_constructor_take_no_arguments(ours, theirs):
    """flytekit's constant holders and Void take no constructor arguments: ours neither, and build alike."""
    assert type(ours()).__name__ == type(theirs()).__name__
    with pytest.raises(TypeError):
        ours(1)
    with pytest.raises(TypeError):
        theirs(1)


@pytest.mark.parametrize("ours, theirs", PAIRS, ids=IDS)
def test_public_attributes_present(ours, theirs):
    for name in dir(theirs):
        if name.startswith("_") or name in ("short_class_string", "verbose_class_string"):
            continue
        assert hasattr(ours, name), f"{ours.__name__} lacks {name}"


def _constants(cls, prefix: str = "") -> dict:
    """A class's integer constants and enum members, and those of the classes nested in it (``ExecutionMode``,
    ``ErrorKind``, ``MountType``...), by dotted name."""
    found = {}
    if isinstance(cls, enum.EnumMeta):
        return {f"{prefix}{m.name}": m.value for m in cls}
    for name, value in vars(cls).items():
        if name.isupper() and isinstance(value, int):
            found[prefix + name] = int(value)
        elif isinstance(value, type) and not name.startswith("_") and not issubclass(value, FkEntity):
            found.update(_constants(value, f"{prefix}{name}."))
    return found


WITH_CONSTANTS = [(o, t) for o, t in PAIRS if _constants(t)]


def test_constant_holders_are_the_expected_ones():
    """The classes with constants the test below compares (a class that lost its constants must not slip by)."""
    assert {t.__name__ for _, t in WITH_CONSTANTS} >= {
        "ExecutionMetadata",
        "ExecutionError",
        "TaskLog",
        "Secret",
        "OAuth2TokenRequest",
        "ResourceType",
        "WorkflowExecutionPhase",
        "NodeExecutionPhase",
        "TaskExecutionPhase",
    }


@pytest.mark.parametrize(
    "ours, theirs", WITH_CONSTANTS, ids=[f"{o.__module__}.{o.__qualname__}" for o, _ in WITH_CONSTANTS]
)
def test_class_constants_equal(ours, theirs):
    expected = _constants(theirs)
    assert expected
    assert _constants(ours) == expected


def test_import_does_not_load_flytekit():
    code = (
        "import sys, flytecodec.models.execution, flytecodec.models.node_execution; "
        "import flytecodec.models.admin.task_execution, flytecodec.remote.executions, flytecodec; "
        "print(sorted(m for m in sys.modules if m.startswith('flytekit')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
