"""Node executions, as in ``flytekit.models.node_execution``."""

from __future__ import annotations

from flytecodec.models._entity import REQUIRED, Field, FlyteIdlEntity
from flytecodec.models.core import catalog as _catalog  # noqa: F401  (registers CatalogMetadata)
from flytecodec.models.core import execution as _core_execution  # noqa: F401  (registers ExecutionError)
from flytecodec.models.core import identifier as _identifier  # noqa: F401  (registers identifiers)


class WorkflowNodeMetadata(FlyteIdlEntity, proto="flyteidl.admin.WorkflowNodeMetadata"):
    """``flyteidl.admin.WorkflowNodeMetadata``; the proto's ``executionId`` is ``execution_id``."""

    _fields = (Field("executionId", name="execution_id", init=REQUIRED, absent="never"),)


class DynamicWorkflowNodeMetadata(FlyteIdlEntity, proto="flyteidl.admin.DynamicWorkflowNodeMetadata"):
    """``flyteidl.admin.DynamicWorkflowNodeMetadata``; ``compiled_workflow`` is a lighter lazy model."""

    _fields = (
        Field("id", init=REQUIRED, absent="never"),
        Field("compiled_workflow", init=REQUIRED, absent="never"),
    )


class TaskNodeMetadata(FlyteIdlEntity, proto="flyteidl.admin.TaskNodeMetadata"):
    """``flyteidl.admin.TaskNodeMetadata``."""

    _fields = (Field("cache_status", init=REQUIRED), Field("catalog_key", init=REQUIRED, absent="never"))


class NodeExecutionClosure(FlyteIdlEntity, proto="flyteidl.admin.NodeExecutionClosure"):
    """``flyteidl.admin.NodeExecutionClosure``; timestamps are timezone-aware UTC datetimes, as in flytekit."""

    _fields = (
        Field("phase", init=REQUIRED),
        Field("started_at", init=REQUIRED, absent="never"),
        Field("duration", init=REQUIRED, absent="never"),
        Field("output_uri", init=None),
        Field("deck_uri", init=None),
        Field("error", init=None),
        Field("workflow_node_metadata", init=None),
        Field("task_node_metadata", init=None),
        Field("created_at", init=None),
        Field("updated_at", init=None),
    )

    @property
    def target_metadata(self) -> WorkflowNodeMetadata | TaskNodeMetadata | None:
        return self.workflow_node_metadata or self.task_node_metadata


class NodeExecution(FlyteIdlEntity, proto="flyteidl.admin.NodeExecution"):
    """``flyteidl.admin.NodeExecution``; ``metadata`` is the protobuf ``NodeExecutionMetaData``, as in flytekit."""

    _fields = (
        Field("id", init=REQUIRED, absent="never"),
        Field("input_uri", init=REQUIRED),
        Field("closure", init=REQUIRED, absent="never"),
        Field("metadata", init=REQUIRED, kind="raw", absent="never"),
    )
