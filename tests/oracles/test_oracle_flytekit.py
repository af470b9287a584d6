"""Hypothesis-generated records, decoded from their bytes on the active backend, against flytekit's models.

flytekit's ``from_flyte_idl`` of the same message is the oracle: every flytekit property must give the same
value from our decoded model (``tests/support/oracle.py``). Where flytekit cannot read a message, the reason must be a
documented one (docs/compatibility.md), and our decoded model must still give back upb's message.
"""

from __future__ import annotations

import pytest
from flytekit.models import execution as fk_execution
from flytekit.models import node_execution as fk_node_execution
from flytekit.models.admin import task_execution as fk_task_execution
from hypothesis import given

import flytecodec
from flytecodec.models import execution, node_execution
from flytecodec.models.admin import task_execution
from flytecodec.testing import corpus, strategies
from support.oracle import assert_same, for_flytekit
from support.upb import SETTINGS

CASES = {
    "execution": (strategies.executions, execution.Execution, fk_execution.Execution),
    "node-execution": (strategies.node_executions, node_execution.NodeExecution, fk_node_execution.NodeExecution),
    "task-execution": (strategies.task_executions, task_execution.TaskExecution, fk_task_execution.TaskExecution),
}
# What flytekit raises on messages it cannot read, and why that is not ours to copy.
FLYTEKIT_CANNOT_READ = (
    "Invalid environment variable name",  # Secret.env_var is validated even when read from a message
    "is not a valid Secret.MountType",  # outside the enum (proto3 enums are open); ours raises it on reading
)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_decoded_generated_records_match_flytekit(backend, kind):
    make, ours_cls, theirs_cls = CASES[kind]
    compared = []

    @SETTINGS
    @given(make())
    def check(pb):
        readable, _ = for_flytekit(pb)  # flytekit cannot read inline outputs
        data = readable.SerializeToString(deterministic=True)
        (ours,) = flytecodec.decode(ours_cls, data, framing="message")
        assert ours.to_flyte_idl() == readable
        try:
            theirs = theirs_cls.from_flyte_idl(type(readable).FromString(data))
        except ValueError as e:
            assert any(reason in str(e) for reason in FLYTEKIT_CANNOT_READ), repr(e)
            return
        compared.append(assert_same(ours, theirs, kind, source="hypothesis", record=data))

    check()
    assert len(compared) > 50 and sum(compared) > 1000, compared


PARTS = {
    "execution-spec": (corpus.executions, "spec", execution.ExecutionSpec, fk_execution.ExecutionSpec),
    "execution-closure": (corpus.executions, "closure", execution.ExecutionClosure, fk_execution.ExecutionClosure),
    "node-execution-closure": (
        corpus.node_executions,
        "closure",
        node_execution.NodeExecutionClosure,
        fk_node_execution.NodeExecutionClosure,
    ),
    "task-execution-closure": (
        corpus.task_executions,
        "closure",
        task_execution.TaskExecutionClosure,
        fk_task_execution.TaskExecutionClosure,
    ),
}


def _readable_part(pb):
    """The part as flytekit can read it: an execution closure without inline output values."""
    if "outputs" in pb.DESCRIPTOR.fields_by_name and pb.HasField("outputs") and pb.outputs.HasField("values"):
        pb = type(pb).FromString(pb.SerializeToString())
        pb.ClearField("outputs")
    return pb


@pytest.mark.parametrize("part", sorted(PARTS))
def test_decoded_parts_match_flytekit(backend, part):
    """The closures and specs flyteadmin stores one per row, decoded as a column of bytes, against flytekit."""
    make, field, ours_cls, theirs_cls = PARTS[part]
    pbs = [_readable_part(getattr(record, field)) for record in make(400, seed=19)]
    items = [pb.SerializeToString(deterministic=True) for pb in pbs]
    batch = flytecodec.decode(ours_cls, items)
    compared = 0
    for i, (model, pb, data) in enumerate(zip(batch, pbs, items)):
        compared += assert_same(model, theirs_cls.from_flyte_idl(pb), f"{part}[{i}]", source="decoded", record=data)
    assert compared > 400 * 5
