"""Decoded models against upb's own message of the same bytes, field by field (the oracle: ``support/upb.py``).

The models are the ones ``flytecodec.decode`` makes from bytes on the active backend (each test runs once per
backend): the three record kinds from ``*List`` responses, delimited dumps and sequences, the closure and spec
parts as flyteadmin stores them, and hypothesis-generated messages (any field, any value). Nothing here reads
the model layer's internals, so these tests hold for any implementation of the public API.
"""

from __future__ import annotations

import pytest
from flyteidl.admin import execution_pb2, node_execution_pb2, task_execution_pb2
from hypothesis import given

import flytecodec
from flytecodec.models import execution, node_execution
from flytecodec.models.admin import task_execution
from flytecodec.testing import corpus, strategies
from support.upb import SETTINGS, Walk

N = 600
KINDS = {
    "execution": (corpus.execution_list, execution_pb2.ExecutionList, "executions", execution.Execution),
    "node-execution": (
        corpus.node_execution_list,
        node_execution_pb2.NodeExecutionList,
        "node_executions",
        node_execution.NodeExecution,
    ),
    "task-execution": (
        corpus.task_execution_list,
        task_execution_pb2.TaskExecutionList,
        "task_executions",
        task_execution.TaskExecution,
    ),
}
# part -> (record kind, the record's field holding it, model)
PARTS = {
    "execution-spec": ("execution", "spec", execution.ExecutionSpec),
    "execution-closure": ("execution", "closure", execution.ExecutionClosure),
    "node-execution-closure": ("node-execution", "closure", node_execution.NodeExecutionClosure),
    "task-execution-closure": ("task-execution", "closure", task_execution.TaskExecutionClosure),
}
GENERATED = {
    "execution": (strategies.executions, execution.Execution),
    "node-execution": (strategies.node_executions, node_execution.NodeExecution),
    "task-execution": (strategies.task_executions, task_execution.TaskExecution),
}


def _response(kind: str) -> bytes:
    make = KINDS[kind][0]
    return make(N, seed=11, token="page-2").SerializeToString(deterministic=True)


def _upb_records(kind: str, data: bytes) -> list:
    """The records of a ``*List`` response as upb parses them, with no flytecodec code involved."""
    _, list_class, field, _ = KINDS[kind]
    return list(getattr(list_class.FromString(data), field))


def _walk_batch(batch, pbs, source: str, what: str) -> None:
    assert len(batch) == len(pbs), f"{what}: {len(batch)} models, upb has {len(pbs)} records"
    for i, (model, pb) in enumerate(zip(batch, pbs)):
        data = model.serialize_to_string()
        assert type(pb).FromString(data) == pb, f"{what}[{i}]: the model's bytes are not the record's"
        Walk(source, data).model(model, pb, f"{what}[{i}]")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_list_response_matches_upb(backend, kind):
    data = _response(kind)
    pbs = _upb_records(kind, data)
    model = KINDS[kind][3]
    batch = flytecodec.decode(model, data, framing="list")
    assert batch.token == "page-2"
    assert batch.to_flyte_idl() == KINDS[kind][1].FromString(data)
    _walk_batch(batch, pbs, "decoded", kind)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_delimited_and_sequence_match_upb(backend, kind):
    pbs = _upb_records(kind, _response(kind))[:200]
    model = KINDS[kind][3]
    items = [pb.SerializeToString(deterministic=True) for pb in pbs]
    _walk_batch(flytecodec.decode(model, corpus.delimited(pbs), framing="delimited"), pbs, "decoded", kind)
    sequence = flytecodec.decode(model, items)
    _walk_batch(sequence, pbs, "decoded", kind)
    part = sequence[50:120:3]  # a slice shares the records: its models are the same values
    _walk_batch(part, pbs[50:120:3], "decoded", kind)
    for i, data in enumerate(items[:20]):
        (one,) = flytecodec.decode(model, data, framing="message")
        assert one.serialize_to_string() == data
        Walk("decoded", data).model(one, pbs[i], f"{kind} message {i}")


@pytest.mark.parametrize("part", sorted(PARTS))
def test_parts_match_upb(backend, part):
    kind, field, model = PARTS[part]
    holders = _upb_records(kind, _response(kind))
    pbs = [getattr(pb, field) for pb in holders]
    batch = flytecodec.decode(model, [pb.SerializeToString(deterministic=True) for pb in pbs])
    _walk_batch(batch, pbs, "decoded", part)


@pytest.mark.parametrize("kind", sorted(GENERATED))
def test_generated_messages_match_upb(backend, kind):
    make, model = GENERATED[kind]

    @SETTINGS
    @given(make())
    def check(pb):
        data = pb.SerializeToString(deterministic=True)
        parsed = type(pb).FromString(data)
        (decoded,) = flytecodec.decode(model, data, framing="message")
        assert decoded.serialize_to_string() == data
        Walk("hypothesis", data).model(decoded, parsed, kind)

    check()


@pytest.mark.parametrize("kind", sorted(GENERATED))
def test_generated_parts_match_upb(backend, kind):
    """The closure of generated records, decoded on its own (as flyteadmin stores it)."""
    make, _ = GENERATED[kind]
    closure_model = {
        "execution": execution.ExecutionClosure,
        "node-execution": node_execution.NodeExecutionClosure,
        "task-execution": task_execution.TaskExecutionClosure,
    }[kind]

    @SETTINGS
    @given(make())
    def check(pb):
        data = pb.closure.SerializeToString(deterministic=True)
        (decoded,) = flytecodec.decode(closure_model, data, framing="message")
        Walk("hypothesis", data).model(decoded, type(pb.closure).FromString(data), f"{kind}.closure")

    check()
