"""Task executions, as in ``flytekit.models.admin.task_execution``."""

from __future__ import annotations

from flytecodec.models import event as _event  # noqa: F401  (registers TaskExecutionMetadata)
from flytecodec.models._entity import REQUIRED, Field, FlyteIdlEntity
from flytecodec.models.core import execution as _core_execution  # noqa: F401  (registers TaskLog, ExecutionError)
from flytecodec.models.core import identifier as _identifier  # noqa: F401  (registers identifiers)


class TaskExecutionClosure(FlyteIdlEntity, proto="flyteidl.admin.TaskExecutionClosure"):
    """``flyteidl.admin.TaskExecutionClosure``; timestamps are naive UTC datetimes, as in flytekit."""

    _fields = (
        Field("phase", init=REQUIRED),
        Field("logs", init=REQUIRED),
        Field("started_at", init=REQUIRED, kind="naive", absent="never"),
        Field("duration", init=REQUIRED, absent="never"),
        Field("created_at", init=REQUIRED, kind="naive", absent="never"),
        Field("updated_at", init=REQUIRED, kind="naive", absent="never"),
        Field("output_uri", init=None),
        Field("error", init=None),
        Field("metadata", init=None),
    )


class TaskExecution(FlyteIdlEntity, proto="flyteidl.admin.TaskExecution"):
    """``flyteidl.admin.TaskExecution``."""

    _fields = (
        Field("id", init=REQUIRED, absent="never"),
        Field("input_uri", init=REQUIRED),
        Field("closure", init=REQUIRED, absent="never"),
        Field("is_parent", init=REQUIRED),
    )
