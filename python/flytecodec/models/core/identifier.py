"""Identifiers, as in ``flytekit.models.core.identifier``."""

from __future__ import annotations

from flytecodec.models._entity import REQUIRED, Field, FlyteIdlEntity


class ResourceType:
    # flyteidl.core.ResourceType's numbers, written out so that the models import without protobuf (a test
    # compares every constant class with flytekit's)
    UNSPECIFIED = 0
    TASK = 1
    WORKFLOW = 2
    LAUNCH_PLAN = 3


class Identifier(FlyteIdlEntity, proto="flyteidl.core.Identifier"):
    """``flyteidl.core.Identifier``: a task, workflow or launch plan version."""

    _fields = (
        Field("resource_type", init=REQUIRED),
        Field("project", init=REQUIRED),
        Field("domain", init=REQUIRED),
        Field("name", init=REQUIRED),
        Field("version", init=REQUIRED),
    )

    def resource_type_name(self) -> str:
        from flyteidl.core import identifier_pb2

        return identifier_pb2.ResourceType.Name(self.resource_type)

    def __repr__(self):
        return self.__str__()

    def __str__(self):
        return f"{self.resource_type_name()}:{self.project}:{self.domain}:{self.name}:{self.version}"


class WorkflowExecutionIdentifier(FlyteIdlEntity, proto="flyteidl.core.WorkflowExecutionIdentifier"):
    """``flyteidl.core.WorkflowExecutionIdentifier``."""

    _fields = (Field("project", init=REQUIRED), Field("domain", init=REQUIRED), Field("name", init=REQUIRED))


class NodeExecutionIdentifier(FlyteIdlEntity, proto="flyteidl.core.NodeExecutionIdentifier"):
    """``flyteidl.core.NodeExecutionIdentifier``."""

    _fields = (Field("node_id", init=REQUIRED), Field("execution_id", init=REQUIRED, absent="never"))


class TaskExecutionIdentifier(FlyteIdlEntity, proto="flyteidl.core.TaskExecutionIdentifier"):
    """``flyteidl.core.TaskExecutionIdentifier``."""

    _fields = (
        Field("task_id", init=REQUIRED, absent="never"),
        Field("node_execution_id", init=REQUIRED, absent="never"),
        Field("retry_attempt", init=REQUIRED),
    )


class SignalIdentifier(FlyteIdlEntity, proto="flyteidl.core.SignalIdentifier"):
    """``flyteidl.core.SignalIdentifier``."""

    _fields = (Field("signal_id", init=REQUIRED), Field("execution_id", init=REQUIRED, absent="never"))
