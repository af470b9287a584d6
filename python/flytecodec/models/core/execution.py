"""Phases, errors and task logs, as in ``flytekit.models.core.execution``."""

from __future__ import annotations

from flyteidl.core import execution_pb2

from flytecodec.models._entity import REQUIRED, Field, FlyteIdlEntity


class _PhaseEnum:
    @classmethod
    def enum_to_string(cls, int_value) -> str:
        for name, value in vars(cls).items():
            if value == int_value:
                return name
        return str(int_value)


class WorkflowExecutionPhase(_PhaseEnum):
    UNDEFINED = execution_pb2.WorkflowExecution.UNDEFINED
    QUEUED = execution_pb2.WorkflowExecution.QUEUED
    RUNNING = execution_pb2.WorkflowExecution.RUNNING
    SUCCEEDING = execution_pb2.WorkflowExecution.SUCCEEDING
    SUCCEEDED = execution_pb2.WorkflowExecution.SUCCEEDED
    FAILING = execution_pb2.WorkflowExecution.FAILING
    FAILED = execution_pb2.WorkflowExecution.FAILED
    ABORTED = execution_pb2.WorkflowExecution.ABORTED
    TIMED_OUT = execution_pb2.WorkflowExecution.TIMED_OUT
    ABORTING = execution_pb2.WorkflowExecution.ABORTING


class NodeExecutionPhase(_PhaseEnum):
    UNDEFINED = execution_pb2.NodeExecution.UNDEFINED
    QUEUED = execution_pb2.NodeExecution.QUEUED
    RUNNING = execution_pb2.NodeExecution.RUNNING
    SUCCEEDED = execution_pb2.NodeExecution.SUCCEEDED
    FAILING = execution_pb2.NodeExecution.FAILING
    FAILED = execution_pb2.NodeExecution.FAILED
    ABORTED = execution_pb2.NodeExecution.ABORTED
    SKIPPED = execution_pb2.NodeExecution.SKIPPED
    TIMED_OUT = execution_pb2.NodeExecution.TIMED_OUT
    DYNAMIC_RUNNING = execution_pb2.NodeExecution.DYNAMIC_RUNNING
    RECOVERED = execution_pb2.NodeExecution.RECOVERED


class TaskExecutionPhase(_PhaseEnum):
    UNDEFINED = execution_pb2.TaskExecution.UNDEFINED
    RUNNING = execution_pb2.TaskExecution.RUNNING
    SUCCEEDED = execution_pb2.TaskExecution.SUCCEEDED
    FAILED = execution_pb2.TaskExecution.FAILED
    ABORTED = execution_pb2.TaskExecution.ABORTED
    QUEUED = execution_pb2.TaskExecution.QUEUED
    INITIALIZING = execution_pb2.TaskExecution.INITIALIZING
    WAITING_FOR_RESOURCES = execution_pb2.TaskExecution.WAITING_FOR_RESOURCES


class ExecutionError(FlyteIdlEntity, proto=execution_pb2.ExecutionError):
    """``flyteidl.core.ExecutionError``."""

    class ErrorKind:
        UNKNOWN = execution_pb2.ExecutionError.ErrorKind.UNKNOWN
        USER = execution_pb2.ExecutionError.ErrorKind.USER
        SYSTEM = execution_pb2.ExecutionError.ErrorKind.SYSTEM

    _fields = (
        Field("code", init=REQUIRED),
        Field("message", init=REQUIRED),
        Field("error_uri", init=REQUIRED),
        Field("kind", init=REQUIRED),
    )

    def _repr_html_(self) -> str:
        return f"<b>{self.code}</b> <pre>{self.message}</pre>"


class TaskLog(FlyteIdlEntity, proto=execution_pb2.TaskLog):
    """``flyteidl.core.TaskLog``; ``ttl`` is a timedelta (zero when unset), as flytekit reads it."""

    class MessageFormat:
        UNKNOWN = execution_pb2.TaskLog.UNKNOWN
        CSV = execution_pb2.TaskLog.CSV
        JSON = execution_pb2.TaskLog.JSON

    _fields = (
        Field("uri", init=REQUIRED),
        Field("name", init=REQUIRED),
        Field("message_format", init=None),
        Field("ttl", init=None, absent="never"),
    )
