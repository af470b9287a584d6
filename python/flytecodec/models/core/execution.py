"""Phases, errors and task logs, as in ``flytekit.models.core.execution``."""

from __future__ import annotations

from flytecodec.models._entity import REQUIRED, Field, FlyteIdlEntity


class _PhaseEnum:
    # the subclasses hold flyteidl's enum numbers, written out so that the models import without protobuf (a test
    # compares every constant class with flytekit's)

    @classmethod
    def enum_to_string(cls, int_value) -> str:
        for name, value in vars(cls).items():
            if value == int_value:
                return name
        return str(int_value)


class WorkflowExecutionPhase(_PhaseEnum):
    UNDEFINED = 0
    QUEUED = 1
    RUNNING = 2
    SUCCEEDING = 3
    SUCCEEDED = 4
    FAILING = 5
    FAILED = 6
    ABORTED = 7
    TIMED_OUT = 8
    ABORTING = 9


class NodeExecutionPhase(_PhaseEnum):
    UNDEFINED = 0
    QUEUED = 1
    RUNNING = 2
    SUCCEEDED = 3
    FAILING = 4
    FAILED = 5
    ABORTED = 6
    SKIPPED = 7
    TIMED_OUT = 8
    DYNAMIC_RUNNING = 9
    RECOVERED = 10


class TaskExecutionPhase(_PhaseEnum):
    UNDEFINED = 0
    RUNNING = 2
    SUCCEEDED = 3
    FAILED = 5
    ABORTED = 4
    QUEUED = 1
    INITIALIZING = 6
    WAITING_FOR_RESOURCES = 7


class ExecutionError(FlyteIdlEntity, proto="flyteidl.core.ExecutionError"):
    """``flyteidl.core.ExecutionError``."""

    class ErrorKind:
        UNKNOWN = 0
        USER = 1
        SYSTEM = 2

    _fields = (
        Field("code", init=REQUIRED),
        Field("message", init=REQUIRED),
        Field("error_uri", init=REQUIRED),
        Field("kind", init=REQUIRED),
    )

    def _repr_html_(self) -> str:
        return f"<b>{self.code}</b> <pre>{self.message}</pre>"


class TaskLog(FlyteIdlEntity, proto="flyteidl.core.TaskLog"):
    """``flyteidl.core.TaskLog``; ``ttl`` is a timedelta (zero when unset), as flytekit reads it."""

    class MessageFormat:
        UNKNOWN = 0
        CSV = 1
        JSON = 2

    _fields = (
        Field("uri", init=REQUIRED),
        Field("name", init=REQUIRED),
        Field("message_format", init=None),
        Field("ttl", init=None, absent="never"),
    )
