"""The three kinds of records the bulk tests decode (executions, node executions, task executions), and the
helpers they share: records from :mod:`flytecodec.testing.corpus` serialized, framed, and compared with the
models decoded from them."""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

from flyteidl.admin import execution_pb2, node_execution_pb2, task_execution_pb2

from flytecodec import Batch, decode_executions, decode_node_executions, decode_task_executions
from flytecodec.models.admin.task_execution import TaskExecution, TaskExecutionClosure
from flytecodec.models.execution import Execution, ExecutionClosure
from flytecodec.models.node_execution import NodeExecution, NodeExecutionClosure
from flytecodec.remote.executions import FlyteNodeExecution, FlyteTaskExecution, FlyteWorkflowExecution
from flytecodec.testing import corpus

# -- the three kinds of records -------------------------------------------------------------------------------


class Kind(NamedTuple):
    model: type
    records: Callable[..., list]  # corpus generator: (n, seed) -> list of pb2 records
    make_list: Callable[..., Any]  # corpus generator: (n, seed, token) -> *List message
    list_class: type
    field: str  # the repeated field of the *List message
    decoder: Callable[..., Batch]  # decode_executions & co
    remote: type  # the FlyteRemote class
    closure_model: type
    paths: tuple  # attribute paths whose value is the same on the model and on the pb2 message


KINDS = {
    "execution": Kind(
        Execution,
        corpus.executions,
        corpus.execution_list,
        execution_pb2.ExecutionList,
        "executions",
        decode_executions,
        FlyteWorkflowExecution,
        ExecutionClosure,
        ("id.project", "id.domain", "id.name", "closure.phase", "spec.launch_plan.name", "spec.metadata.principal"),
    ),
    "node_execution": Kind(
        NodeExecution,
        corpus.node_executions,
        corpus.node_execution_list,
        node_execution_pb2.NodeExecutionList,
        "node_executions",
        decode_node_executions,
        FlyteNodeExecution,
        NodeExecutionClosure,
        ("id.node_id", "id.execution_id.name", "input_uri", "closure.phase"),
    ),
    "task_execution": Kind(
        TaskExecution,
        corpus.task_executions,
        corpus.task_execution_list,
        task_execution_pb2.TaskExecutionList,
        "task_executions",
        decode_task_executions,
        FlyteTaskExecution,
        TaskExecutionClosure,
        ("id.task_id.name", "id.retry_attempt", "input_uri", "is_parent", "closure.phase"),
    ),
}


def get_path(obj, path: str):
    return functools.reduce(getattr, path.split("."), obj)


def ser(message) -> bytes:
    return message.SerializeToString(deterministic=True)


varint = corpus.varint


def delimited_stream(payloads) -> bytes:
    return b"".join(varint(len(p)) + p for p in payloads)


def has_multi_entry_map(message) -> bool:
    """Whether ``message`` (recursively) has a map field with two or more entries.

    upb serializes map entries in the order of its hash table, so only such messages can come out of a
    parse-and-reserialize round trip with other bytes than went in.
    """
    for fdesc, value in message.ListFields():
        mtype = fdesc.message_type
        if mtype is None:
            continue
        if mtype.GetOptions().map_entry:
            if len(value) >= 2:
                return True
            nested = mtype.fields_by_name["value"].message_type is not None
            if nested and any(has_multi_entry_map(v) for v in value.values()):
                return True
        elif fdesc.is_repeated:
            if any(has_multi_entry_map(v) for v in value):
                return True
        elif has_multi_entry_map(value):
            return True
    return False


def assert_records(batch, sources, kind: Kind | None = None) -> None:
    """``batch`` holds models equal to the pb2 ``sources``, in order, with the same property values."""
    assert len(batch) == len(sources)
    for model, source in zip(batch, sources):
        assert model.to_flyte_idl() == source
        if kind is not None:
            for path in kind.paths:
                assert get_path(model, path) == get_path(source, path), path


# -- every record kind, for the tests of whole records (the nested layout) -----------------------------------------


def _every_kind() -> dict[str, tuple[type, Callable[..., list]]]:
    from flytecodec import kinds

    made = {**{name: make for name, (make, _) in corpus.KINDS.items()}, **corpus.PARTS}
    return {name: (kind.load(), made[name]) for name, kind in kinds.KINDS.items()}


EVERY_KIND = _every_kind()
"""Every kind of :mod:`flytecodec.kinds` (the records and the parts): its model class and its corpus generator,
``(n, seed) -> pb2 records``."""


def _top_strategies() -> dict[str, Callable[[], Any]]:
    from flytecodec.testing import strategies

    return {
        "execution": strategies.executions,
        "node-execution": strategies.node_executions,
        "task-execution": strategies.task_executions,
    }


TOP_STRATEGIES = _top_strategies()
"""The hypothesis strategy of each whole-record kind (executions, node executions, task executions)."""
