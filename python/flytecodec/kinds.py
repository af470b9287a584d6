"""The record kinds flytecodec reads: one table that the bulk decoder, the ``flytecodec`` command, the columns, the
shards and the sources all read.

A kind is a flyteadmin record — a whole execution, node execution or task execution as its API serves it, or one
of the parts its database keeps in a bytea column — named as the command's ``--kind`` and the ``kind=`` arguments
take it. Nothing is imported until asked for: the model classes and the ``*List`` messages load on first use.
"""

from __future__ import annotations

import functools
import importlib
from typing import NamedTuple


class Kind(NamedTuple):
    """One record kind."""

    name: str
    """As ``--kind`` and ``kind=`` take it, e.g. ``"execution"``."""
    module: str
    """The module of its model class."""
    model: str
    """Its model class's name."""
    message: str
    """The protobuf message of a record (full name)."""
    what: str
    """The records, in a sentence ("executions")."""
    title: str
    """The heading of its table in ``docs/columns.md``."""
    list_response: tuple[str, str] | None
    """The ``*List`` response of the API's pages: its message (full name) and repeated field; None for a part."""
    group_key: str | None
    """The column ``flytecodec stats`` gives duration percentiles by, if any."""

    def load(self) -> type:
        """The model class."""
        return getattr(importlib.import_module(self.module), self.model)

    def list_message(self) -> tuple[type, str] | None:
        """``(the *List message class, its repeated field's name)``, or None for a kind without pages."""
        return None if self.list_response is None else _list_message(self.list_response)

    def list_numbers(self) -> tuple[int, int] | None:
        """The field numbers of a ``*List`` response's records and of its token (without importing protobuf), or
        None for a kind without pages."""
        return None if self.list_response is None else _list_numbers(self.list_response)


@functools.cache
def _list_message(list_response: tuple[str, str]) -> tuple[type, str]:
    """The class and field of a ``*List`` response, imported once (every decode of a page asks)."""
    from flytecodec.models._messages import message_class

    name, field = list_response
    return message_class(name), field


@functools.cache
def _list_numbers(list_response: tuple[str, str]) -> tuple[int, int]:
    from flytecodec.models._messages import fields_of

    name, field = list_response
    numbers = {row[0]: row[1] for row in fields_of(name)}
    return numbers[field], numbers["token"]


_EXECUTION = "flytecodec.models.execution"
_NODE = "flytecodec.models.node_execution"
_TASK = "flytecodec.models.admin.task_execution"

KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "execution", _EXECUTION, "Execution", "flyteidl.admin.Execution", "executions",
            "Execution (`Execution`, `ExecutionList` pages)",
            ("flyteidl.admin.ExecutionList", "executions"), "launch_plan_name",
        ),
        Kind(
            "node-execution", _NODE, "NodeExecution", "flyteidl.admin.NodeExecution", "node executions",
            "NodeExecution (`NodeExecution`, `NodeExecutionList` pages)",
            ("flyteidl.admin.NodeExecutionList", "node_executions"), "node_id",
        ),
        Kind(
            "task-execution", _TASK, "TaskExecution", "flyteidl.admin.TaskExecution", "task executions",
            "TaskExecution (`TaskExecution`, `TaskExecutionList` pages)",
            ("flyteidl.admin.TaskExecutionList", "task_executions"), "task_name",
        ),
        Kind(
            "execution-spec", _EXECUTION, "ExecutionSpec", "flyteidl.admin.ExecutionSpec", "execution specs",
            "ExecutionSpec (flyteadmin's `executions.spec`)", None, None,
        ),
        Kind(
            "execution-closure", _EXECUTION, "ExecutionClosure", "flyteidl.admin.ExecutionClosure",
            "execution closures", "ExecutionClosure (flyteadmin's `executions.closure`)", None, None,
        ),
        Kind(
            "node-execution-closure", _NODE, "NodeExecutionClosure", "flyteidl.admin.NodeExecutionClosure",
            "node execution closures", "NodeExecutionClosure (flyteadmin's `node_executions.closure`)", None, None,
        ),
        Kind(
            "task-execution-closure", _TASK, "TaskExecutionClosure", "flyteidl.admin.TaskExecutionClosure",
            "task execution closures", "TaskExecutionClosure (flyteadmin's `task_executions.closure`)", None, None,
        ),
    )
}  # fmt: skip

LIST_KINDS: tuple[str, ...] = tuple(name for name, kind in KINDS.items() if kind.list_response is not None)
"""The kinds the API lists in pages (``*List`` responses)."""

BY_MESSAGE: dict[str, Kind] = {kind.message: kind for kind in KINDS.values()}
"""The kinds by the full name of their protobuf message."""


def get(name: str) -> Kind:
    """The kind named ``name``; ``ValueError`` naming the kinds for any other name."""
    kind = KINDS.get(name) if isinstance(name, str) else None
    if kind is None:
        raise ValueError(f"unknown kind {name!r}; choose one of {', '.join(KINDS)}")
    return kind
