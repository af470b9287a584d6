"""Hypothesis-generated messages (any field, any value): lossless round trips, through the decoder and the
constructor path, and unknown fields kept.

Generated messages reach corners the realistic corpus does not. Their values are compared with upb's and
flytekit's by tests/oracles/ (test_oracle_upb.py, test_oracle_flytekit.py), on models decoded from the bytes.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import flytecodec
from flytecodec.models import execution, node_execution
from flytecodec.models.admin import task_execution
from flytecodec.testing import strategies
from support.examples import SETTINGS

CASES = {
    "execution": (strategies.executions, execution.Execution),
    "node-execution": (strategies.node_executions, node_execution.NodeExecution),
    "task-execution": (strategies.task_executions, task_execution.TaskExecution),
}


def _check(pb, ours_cls):
    data = pb.SerializeToString()
    for name in flytecodec.available_backends():
        with flytecodec.using_backend(name):
            ours = flytecodec.decode(ours_cls, data, framing="message")[0]
            assert ours.to_flyte_idl() == pb
            assert ours.serialize_to_string() == data
            built = ours_cls.from_flyte_idl(pb)
            assert ours_cls._pb_class.FromString(built.serialize_to_string()) == pb
            assert built == ours and hash(built) == hash(ours)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_generated_messages_round_trip(kind):
    make, ours_cls = CASES[kind]

    @SETTINGS
    @given(make())
    def check(pb):
        _check(pb, ours_cls)

    check()


@pytest.mark.parametrize("kind", sorted(CASES))
def test_unknown_fields_survive(kind):
    make, ours_cls = CASES[kind]

    @SETTINGS
    @given(strategies.unknown_fields(make()), st.sampled_from(flytecodec.available_backends()))
    def check(data, name):
        with flytecodec.using_backend(name):
            model = flytecodec.decode(ours_cls, data, framing="message")[0]
            assert model.serialize_to_string() == data
            assert model.to_flyte_idl() == ours_cls._pb_class.FromString(data)
            model.closure  # reading a field does not disturb the round trip
            assert model.to_flyte_idl() == ours_cls._pb_class.FromString(data)

    check()
