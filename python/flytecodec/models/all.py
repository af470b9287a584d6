"""Imports every model module, so that each protobuf message maps to its hand-written model class."""

from flytecodec.models import common, event, execution, literals, matchable_resource, node_execution, security
from flytecodec.models.admin import task_execution
from flytecodec.models.core import catalog, identifier
from flytecodec.models.core import execution as core_execution

__all__ = [
    "catalog",
    "common",
    "core_execution",
    "event",
    "execution",
    "identifier",
    "literals",
    "matchable_resource",
    "node_execution",
    "security",
    "task_execution",
]
