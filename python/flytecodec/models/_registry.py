"""Which model class represents each protobuf message: a static map to the hand-written classes (imported when
first asked for), and lazy generic models made on demand for every other message."""

from __future__ import annotations

import importlib
import sys
import types

MODELS: dict[str, str] = {
    "flyteidl.admin.AbortMetadata": "flytecodec.models.execution:AbortMetadata",
    "flyteidl.admin.Annotations": "flytecodec.models.common:Annotations",
    "flyteidl.admin.AuthRole": "flytecodec.models.common:AuthRole",
    "flyteidl.admin.ClusterAssignment": "flytecodec.models.execution:ClusterAssignment",
    "flyteidl.admin.DynamicWorkflowNodeMetadata": "flytecodec.models.node_execution:DynamicWorkflowNodeMetadata",
    "flyteidl.admin.EmailNotification": "flytecodec.models.common:EmailNotification",
    "flyteidl.admin.Envs": "flytecodec.models.common:Envs",
    "flyteidl.admin.Execution": "flytecodec.models.execution:Execution",
    "flyteidl.admin.ExecutionClosure": "flytecodec.models.execution:ExecutionClosure",
    "flyteidl.admin.ExecutionClusterLabel": "flytecodec.models.matchable_resource:ExecutionClusterLabel",
    "flyteidl.admin.ExecutionMetadata": "flytecodec.models.execution:ExecutionMetadata",
    "flyteidl.admin.ExecutionSpec": "flytecodec.models.execution:ExecutionSpec",
    "flyteidl.admin.Labels": "flytecodec.models.common:Labels",
    "flyteidl.admin.LiteralMapBlob": "flytecodec.models.execution:LiteralMapBlob",
    "flyteidl.admin.NamedEntityIdentifier": "flytecodec.models.common:NamedEntityIdentifier",
    "flyteidl.admin.NodeExecution": "flytecodec.models.node_execution:NodeExecution",
    "flyteidl.admin.NodeExecutionClosure": "flytecodec.models.node_execution:NodeExecutionClosure",
    "flyteidl.admin.NodeExecutionGetDataResponse": "flytecodec.models.execution:NodeExecutionGetDataResponse",
    "flyteidl.admin.Notification": "flytecodec.models.common:Notification",
    "flyteidl.admin.NotificationList": "flytecodec.models.execution:NotificationList",
    "flyteidl.admin.PagerDutyNotification": "flytecodec.models.common:PagerDutyNotification",
    "flyteidl.admin.RawOutputDataConfig": "flytecodec.models.common:RawOutputDataConfig",
    "flyteidl.admin.SlackNotification": "flytecodec.models.common:SlackNotification",
    "flyteidl.admin.SystemMetadata": "flytecodec.models.execution:SystemMetadata",
    "flyteidl.admin.TaskExecution": "flytecodec.models.admin.task_execution:TaskExecution",
    "flyteidl.admin.TaskExecutionClosure": "flytecodec.models.admin.task_execution:TaskExecutionClosure",
    "flyteidl.admin.TaskExecutionGetDataResponse": "flytecodec.models.execution:TaskExecutionGetDataResponse",
    "flyteidl.admin.TaskNodeMetadata": "flytecodec.models.node_execution:TaskNodeMetadata",
    "flyteidl.admin.UrlBlob": "flytecodec.models.common:UrlBlob",
    "flyteidl.admin.WorkflowExecutionGetDataResponse": "flytecodec.models.execution:WorkflowExecutionGetDataResponse",
    "flyteidl.admin.WorkflowNodeMetadata": "flytecodec.models.node_execution:WorkflowNodeMetadata",
    "flyteidl.core.Binary": "flytecodec.models.literals:Binary",
    "flyteidl.core.Blob": "flytecodec.models.literals:Blob",
    "flyteidl.core.BlobMetadata": "flytecodec.models.literals:BlobMetadata",
    "flyteidl.core.CatalogArtifactTag": "flytecodec.models.core.catalog:CatalogArtifactTag",
    "flyteidl.core.CatalogMetadata": "flytecodec.models.core.catalog:CatalogMetadata",
    "flyteidl.core.ExecutionError": "flytecodec.models.core.execution:ExecutionError",
    "flyteidl.core.Identifier": "flytecodec.models.core.identifier:Identifier",
    "flyteidl.core.Identity": "flytecodec.models.security:Identity",
    "flyteidl.core.Literal": "flytecodec.models.literals:Literal",
    "flyteidl.core.LiteralCollection": "flytecodec.models.literals:LiteralCollection",
    "flyteidl.core.LiteralMap": "flytecodec.models.literals:LiteralMap",
    "flyteidl.core.LiteralOffloadedMetadata": "flytecodec.models.literals:LiteralOffloadedMetadata",
    "flyteidl.core.NodeExecutionIdentifier": "flytecodec.models.core.identifier:NodeExecutionIdentifier",
    "flyteidl.core.OAuth2Client": "flytecodec.models.security:OAuth2Client",
    "flyteidl.core.OAuth2TokenRequest": "flytecodec.models.security:OAuth2TokenRequest",
    "flyteidl.core.Primitive": "flytecodec.models.literals:Primitive",
    "flyteidl.core.RetryStrategy": "flytecodec.models.literals:RetryStrategy",
    "flyteidl.core.Scalar": "flytecodec.models.literals:Scalar",
    "flyteidl.core.Schema": "flytecodec.models.literals:Schema",
    "flyteidl.core.Secret": "flytecodec.models.security:Secret",
    "flyteidl.core.SecurityContext": "flytecodec.models.security:SecurityContext",
    "flyteidl.core.SignalIdentifier": "flytecodec.models.core.identifier:SignalIdentifier",
    "flyteidl.core.StructuredDataset": "flytecodec.models.literals:StructuredDataset",
    "flyteidl.core.StructuredDatasetMetadata": "flytecodec.models.literals:StructuredDatasetMetadata",
    "flyteidl.core.TaskExecutionIdentifier": "flytecodec.models.core.identifier:TaskExecutionIdentifier",
    "flyteidl.core.TaskLog": "flytecodec.models.core.execution:TaskLog",
    "flyteidl.core.Union": "flytecodec.models.literals:Union",
    "flyteidl.core.Void": "flytecodec.models.literals:Void",
    "flyteidl.core.WorkflowExecutionIdentifier": "flytecodec.models.core.identifier:WorkflowExecutionIdentifier",
    "flyteidl.event.TaskExecutionMetadata": "flytecodec.models.event:TaskExecutionMetadata",
}
"""Proto full name -> ``module:qualname`` of its hand-written model class (a test checks it against the classes)."""

_CLASSES: dict[str, type] = {}  # resolved and generic classes, by proto full name

_generic_module = types.ModuleType(
    "flytecodec.models.generic",
    "Lazy models made on demand for protobuf messages outside the execution domain (field access, equality, "
    "to_flyte_idl); each class is named after its message, with dots as underscores.",
)


def _generic_getattr(name: str):
    full_name = name.replace("__", ".")
    try:
        return model_for(full_name)
    except KeyError:
        raise AttributeError(f"module 'flytecodec.models.generic' has no attribute {name!r}") from None


_generic_module.__getattr__ = _generic_getattr  # type: ignore[attr-defined]
sys.modules.setdefault("flytecodec.models.generic", _generic_module)


def model_for(full_name: str) -> type:
    """The model class for a protobuf message full name: its hand-written class, else a generic lazy model."""
    cls = _CLASSES.get(full_name)
    if cls is not None:
        return cls
    path = MODELS.get(full_name)
    if path is not None:
        module, qualname = path.split(":")
        cls = importlib.import_module(module)
        for part in qualname.split("."):
            cls = getattr(cls, part)
    else:
        cls = _generic(full_name)
    return _CLASSES.setdefault(full_name, cls)


def _generic(full_name: str) -> type:
    from flytecodec.models._entity import FlyteIdlEntity
    from flytecodec.models._messages import fields_of

    fields_of(full_name)  # KeyError for a message protobuf does not know
    attr = full_name.replace(".", "__")
    namespace = {"__module__": "flytecodec.models.generic", "__qualname__": attr, "__doc__": f"Lazy {full_name}."}
    cls = types.new_class(attr, (FlyteIdlEntity,), {"proto": full_name}, lambda ns: ns.update(namespace))
    setattr(_generic_module, attr, cls)
    return cls
