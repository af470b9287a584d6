"""Switching is an import change: same classes, constructor parameters, defaults, properties and methods."""

import inspect
import subprocess
import sys

import pytest

from _pairs import class_pairs

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


@pytest.mark.parametrize("ours, theirs", PAIRS, ids=IDS)
def test_constructor_parameters_match(ours, theirs):
    if theirs.__init__ is object.__init__:
        return
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


@pytest.mark.parametrize("ours, theirs", PAIRS, ids=IDS)
def test_public_attributes_present(ours, theirs):
    for name in dir(theirs):
        if name.startswith("_") or name in ("short_class_string", "verbose_class_string"):
            continue
        assert hasattr(ours, name), f"{ours.__name__} lacks {name}"


@pytest.mark.parametrize("ours, theirs", PAIRS, ids=IDS)
def test_class_constants_equal(ours, theirs):
    for name, value in vars(theirs).items():
        if name.isupper() and isinstance(value, int):
            assert getattr(ours, name) == value, name


def test_import_does_not_load_flytekit():
    code = (
        "import sys, flytecodec.models.execution, flytecodec.models.node_execution; "
        "import flytecodec.models.admin.task_execution, flytecodec.remote.executions, flytecodec; "
        "print(sorted(m for m in sys.modules if m.startswith('flytekit')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
