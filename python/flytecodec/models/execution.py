"""Workflow executions, as in ``flytekit.models.execution``."""

from __future__ import annotations

from flytecodec.models import common as _common
from flytecodec.models import literals as _literals  # noqa: F401  (registers LiteralMap for outputs)
from flytecodec.models import security as _security  # noqa: F401  (registers SecurityContext)
from flytecodec.models._entity import REQUIRED, Field, FlyteIdlEntity
from flytecodec.models.core import execution as _core_execution  # noqa: F401  (registers ExecutionError)
from flytecodec.models.core import identifier as _identifier  # noqa: F401  (registers identifiers)
from flytecodec.models.matchable_resource import ExecutionClusterLabel  # noqa: F401
from flytecodec.models.node_execution import DynamicWorkflowNodeMetadata  # noqa: F401


class SystemMetadata(FlyteIdlEntity, proto="flyteidl.admin.SystemMetadata"):
    """``flyteidl.admin.SystemMetadata``."""

    _fields = (Field("execution_cluster", init=REQUIRED),)


class ExecutionMetadata(FlyteIdlEntity, proto="flyteidl.admin.ExecutionMetadata"):
    """``flyteidl.admin.ExecutionMetadata``; ``scheduled_at`` is a naive UTC datetime, as in flytekit."""

    class ExecutionMode:
        MANUAL = 0
        SCHEDULED = 1
        SYSTEM = 2

    _fields = (
        Field("mode", init=REQUIRED),
        Field("principal", init=REQUIRED),
        Field("nesting", init=REQUIRED),
        Field("scheduled_at", init=None, kind="naive"),
        Field("parent_node_execution", init=None),
        Field("reference_execution", init=None),
        Field("system_metadata", init=None),
    )


class ExecutionSpec(FlyteIdlEntity, proto="flyteidl.admin.ExecutionSpec"):
    """``flyteidl.admin.ExecutionSpec``."""

    _fields = (
        Field("launch_plan", init=REQUIRED, absent="never"),
        Field("metadata", init=REQUIRED, absent="never"),
        Field("notifications", init=None),
        Field("disable_all", init=None),
        Field("labels", init=None, absent="never", none=lambda: _common.Labels({})),
        Field("annotations", init=None, absent="never", none=lambda: _common.Annotations({})),
        Field("auth_role", init=None, absent="never", none=lambda: _common.AuthRole()),
        Field("raw_output_data_config", init=None),
        Field("max_parallelism", init=None),
        Field("security_context", init=None, absent="never"),
        Field("overwrite_cache", init=None),
        Field("interruptible", init=None),
        Field("envs", init=None),
        Field("tags", init=None),
        Field("cluster_assignment", init=None),
        Field("execution_cluster_label", init=None),
    )


class ClusterAssignment(FlyteIdlEntity, proto="flyteidl.admin.ClusterAssignment"):
    """``flyteidl.admin.ClusterAssignment``; the pool is ``cluster_pool``, as in flytekit."""

    _fields = (Field("cluster_pool_name", name="cluster_pool", init=None),)


class LiteralMapBlob(FlyteIdlEntity, proto="flyteidl.admin.LiteralMapBlob"):
    """``flyteidl.admin.LiteralMapBlob``: inline ``values`` (a :class:`~flytecodec.models.literals.LiteralMap`)
    or an offloaded ``uri``."""

    _fields = (Field("values", init=None), Field("uri", init=None))


class Execution(FlyteIdlEntity, proto="flyteidl.admin.Execution"):
    """``flyteidl.admin.Execution``: a workflow execution."""

    _fields = (
        Field("id", init=REQUIRED, absent="never"),
        Field("spec", init=REQUIRED, absent="never"),
        Field("closure", init=REQUIRED, absent="never"),
    )


class AbortMetadata(FlyteIdlEntity, proto="flyteidl.admin.AbortMetadata"):
    """``flyteidl.admin.AbortMetadata``."""

    _fields = (Field("cause", init=REQUIRED), Field("principal", init=REQUIRED))


class ExecutionClosure(FlyteIdlEntity, proto="flyteidl.admin.ExecutionClosure"):
    """``flyteidl.admin.ExecutionClosure``; timestamps are timezone-aware UTC datetimes, as in flytekit."""

    _fields = (
        Field("phase", init=REQUIRED),
        Field("started_at", init=REQUIRED, absent="never"),
        Field("duration", init=REQUIRED, absent="never"),
        Field("error", init=None),
        Field("outputs", init=None),
        Field("abort_metadata", init=None),
        Field("created_at", init=None),
        Field("updated_at", init=None),
    )


class NotificationList(FlyteIdlEntity, proto="flyteidl.admin.NotificationList"):
    """``flyteidl.admin.NotificationList``."""

    _fields = (Field("notifications", init=REQUIRED),)


def _data_fields():
    """The fields the three ``*GetDataResponse`` messages share (each class needs its own Field objects)."""
    return tuple(
        Field(name, init=REQUIRED, absent="never") for name in ("inputs", "outputs", "full_inputs", "full_outputs")
    )


class WorkflowExecutionGetDataResponse(FlyteIdlEntity, proto="flyteidl.admin.WorkflowExecutionGetDataResponse"):
    """``flyteidl.admin.WorkflowExecutionGetDataResponse``."""

    _fields = _data_fields()


class TaskExecutionGetDataResponse(FlyteIdlEntity, proto="flyteidl.admin.TaskExecutionGetDataResponse"):
    """``flyteidl.admin.TaskExecutionGetDataResponse``."""

    _fields = _data_fields()


class NodeExecutionGetDataResponse(FlyteIdlEntity, proto="flyteidl.admin.NodeExecutionGetDataResponse"):
    """``flyteidl.admin.NodeExecutionGetDataResponse``, with the ``dynamic_workflow`` of a dynamic node."""

    _fields = (*_data_fields(), Field("dynamic_workflow", init=None))
