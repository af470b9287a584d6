"""flytecodec as a type checker sees it, through the generated stubs.

``tests/packaging/test_stubs.py`` runs mypy (``--strict``) on this file, where every ``assert_type`` must hold and every
``type: ignore`` must be needed (each marks a mistake the stubs must catch), and runs the functions below on
decoded records, so the types asserted here are also the ones the models give.
"""

from __future__ import annotations

import datetime
from typing import Optional

from typing_extensions import assert_type

import flytecodec
from flytecodec.models.admin.task_execution import TaskExecution
from flytecodec.models.common import Labels
from flytecodec.models.core.execution import ExecutionError, TaskLog
from flytecodec.models.core.identifier import WorkflowExecutionIdentifier
from flytecodec.models.execution import Execution, ExecutionClosure, LiteralMapBlob
from flytecodec.models.literals import Literal
from flytecodec.models.node_execution import NodeExecution, TaskNodeMetadata, WorkflowNodeMetadata
from flytecodec.remote.executions import FlyteWorkflowExecution

Row = tuple[str, int, datetime.datetime, datetime.timedelta, Optional[str]]


def first_started_at(page: bytes) -> datetime.datetime:
    """The start time of the first execution of an ``ExecutionList`` response."""
    started = flytecodec.decode_executions(page, framing="list")[0].closure.started_at
    assert_type(started, datetime.datetime)
    return started


def execution_rows(page: bytes) -> list[Row]:
    """One row per execution: name, phase, start, duration and error code."""
    batch = flytecodec.decode_executions(page, framing="list")
    assert_type(batch, flytecodec.Batch[Execution])
    assert_type(batch.token, str)
    assert_type(batch[:2], flytecodec.Batch[Execution])
    rows: list[Row] = []
    for execution in batch:
        assert_type(execution.id, WorkflowExecutionIdentifier)
        assert_type(execution.id.name, str)
        closure = execution.closure
        assert_type(closure, ExecutionClosure)
        assert_type(closure.phase, int)
        assert_type(closure.duration, datetime.timedelta)
        assert_type(closure.created_at, Optional[datetime.datetime])
        assert_type(closure.outputs, Optional[LiteralMapBlob])
        error = closure.error
        assert_type(error, Optional[ExecutionError])
        rows.append(
            (
                execution.id.name,
                closure.phase,
                closure.started_at,
                closure.duration,
                error.code if error is not None else None,
            )
        )
    return rows


def spec_summary(execution: Execution) -> tuple[str, dict[str, str], list[str], int | None]:
    """Launch plan name, labels, tags and the number of inline outputs of an execution."""
    spec = execution.spec
    labels = spec.labels
    assert_type(labels, Labels)
    assert_type(labels.values, dict[str, str])
    assert_type(spec.tags, list[str])
    assert_type(spec.launch_plan.resource_type_name(), str)
    outputs = execution.closure.outputs
    inline: int | None = None
    if outputs is not None and outputs.values is not None:
        literals = outputs.values.literals
        assert_type(literals, dict[str, Literal])
        inline = len(literals)
    return spec.launch_plan.name, labels.values, spec.tags, inline


def node_targets(data: bytes) -> list[str | None]:
    """For each node execution of a delimited dump, the cache status or the child execution's name."""
    out: list[str | None] = []
    for node in flytecodec.decode_node_executions(data, framing="delimited"):
        assert_type(node, NodeExecution)
        target = node.closure.target_metadata
        assert_type(target, "WorkflowNodeMetadata | TaskNodeMetadata | None")
        if isinstance(target, TaskNodeMetadata):
            out.append(str(target.cache_status))
        elif isinstance(target, WorkflowNodeMetadata):
            out.append(target.execution_id.name)
        else:
            out.append(None)
    return out


def task_logs(task: TaskExecution) -> list[tuple[str, datetime.datetime]]:
    """The logs of a task execution, each with the (naive UTC) start of its attempt."""
    logs = task.closure.logs
    assert_type(logs, list[TaskLog])
    assert_type(task.closure.started_at, datetime.datetime)
    return [(log.uri, task.closure.started_at) for log in logs]


def remote_done(page: bytes) -> list[bool]:
    """Whether each execution is done, read through flytekit's remote wrapper."""
    batch = flytecodec.decode_executions(page, framing="list", model=FlyteWorkflowExecution)
    assert_type(batch, flytecodec.Batch[FlyteWorkflowExecution])
    return [execution.is_done for execution in batch]


def round_trip(execution: Execution) -> Execution:
    """A model from its own message, and a closure built by hand."""
    copy = Execution.from_flyte_idl(execution.to_flyte_idl())
    assert_type(copy, Execution)
    closure = ExecutionClosure(
        phase=1, started_at=datetime.datetime.now(datetime.timezone.utc), duration=datetime.timedelta()
    )
    assert_type(closure.phase, int)
    return copy


def mistakes(execution: Execution) -> None:
    """Each line is an error the stubs must report (mypy fails on a ``type: ignore`` it does not need)."""
    name: int = execution.id.name  # type: ignore[assignment]
    execution.closure.started_at = datetime.datetime.now()  # type: ignore[misc]
    ExecutionClosure(phase="RUNNING", started_at=None, duration=None)  # type: ignore[arg-type]
    execution.closure.no_such_field  # type: ignore[attr-defined]
    del name
