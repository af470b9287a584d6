"""The realistic corpus, decoded by flytecodec and by flytekit: every flytekit property gives the same value.

flytekit is the oracle. The one place it cannot be asked is an inline ``LiteralMapBlob.values`` (its
``from_flyte_idl`` raises ``ValueError``): there flytekit reads the message without the inline values, and our
inline values are compared with flytekit's ``LiteralMap`` of the same message (docs/compatibility.md).
"""

from __future__ import annotations

import pickle

import pytest
from flytekit.models import execution as fk_execution
from flytekit.models import literals as fk_literals
from flytekit.models import node_execution as fk_node_execution
from flytekit.models.admin import task_execution as fk_task_execution
from flytekit.remote import executions as fk_remote

import flytecodec
from flytecodec.models import execution, node_execution
from flytecodec.models.admin import task_execution
from flytecodec.remote import executions as remote
from flytecodec.testing import corpus
from support.oracle import assert_same, for_flytekit

N = 2000

KINDS = {
    "execution": (corpus.execution_list, execution.Execution, fk_execution.Execution),
    "node-execution": (corpus.node_execution_list, node_execution.NodeExecution, fk_node_execution.NodeExecution),
    "task-execution": (corpus.task_execution_list, task_execution.TaskExecution, fk_task_execution.TaskExecution),
}
REMOTE = {
    "execution": (remote.FlyteWorkflowExecution, fk_remote.FlyteWorkflowExecution),
    "node-execution": (remote.FlyteNodeExecution, fk_remote.FlyteNodeExecution),
    "task-execution": (remote.FlyteTaskExecution, fk_remote.FlyteTaskExecution),
}


@pytest.fixture(scope="module", params=sorted(KINDS))
def kind(request):
    make_list, ours, theirs = KINDS[request.param]
    response = make_list(N, seed=7, token="next-page")
    return request.param, response, ours, theirs


def _records(response):
    return list(response.ListFields()[0][1]) if response.ListFields() else []


def _decoded_for_flytekit(ours_cls, readable):
    """Our model of the message flytekit reads, decoded from its bytes on the active backend."""
    data = readable.SerializeToString()
    return flytecodec.decode(ours_cls, data, framing="message")[0], data


def test_every_property_matches_flytekit(kind, backend):
    name, response, ours_cls, theirs_cls = kind
    batch = flytecodec.decode(ours_cls, response.SerializeToString(), framing="list")
    records = _records(response)
    assert len(batch) == len(records) == N
    assert batch.token == "next-page"
    inline = compared = 0
    for i, pb in enumerate(records):
        readable, values = for_flytekit(pb)
        theirs = theirs_cls.from_flyte_idl(readable)
        if values is None:
            ours, data = batch[i], batch[i].serialize_to_string()
        else:  # flytekit cannot read the inline outputs: decode the message it can read
            ours, data = _decoded_for_flytekit(ours_cls, readable)
        compared += assert_same(ours, theirs, f"{name}[{i}]", source="decoded", record=data)
        if values is not None:
            inline += 1
            fk_values = fk_literals.LiteralMap.from_flyte_idl(values)
            whole = batch[i].serialize_to_string()
            compared += assert_same(
                batch[i].closure.outputs.values, fk_values, f"[{i}].values", source="decoded", record=whole
            )
    assert compared > N * 10
    if name == "execution":
        assert inline > 0, "the corpus must exercise inline outputs"


def test_remote_wrappers_match_flytekit(kind, backend):
    name, response, _ours_cls, _ = kind
    ours_remote, theirs_remote = REMOTE[name]
    batch = flytecodec.decode(ours_remote, response.SerializeToString(), framing="list")
    theirs_base = KINDS[name][2]
    for i, pb in enumerate(_records(response)[:500]):
        readable, _ = for_flytekit(pb)
        theirs = theirs_remote.promote_from_model(theirs_base.from_flyte_idl(readable))
        ours, data = (
            (batch[i], batch[i].serialize_to_string())
            if readable is pb
            else _decoded_for_flytekit(ours_remote, readable)
        )
        assert isinstance(ours, ours_remote)
        assert_same(ours, theirs, f"remote {name}[{i}]", source="decoded", record=data)


def test_round_trip_is_lossless(kind, backend):
    _, response, ours_cls, _ = kind
    batch = flytecodec.decode(ours_cls, response.SerializeToString(), framing="list")
    for model, pb in zip(batch, _records(response)):
        assert model.to_flyte_idl() == pb
        assert type(pb).FromString(model.serialize_to_string()) == pb  # map entries may come out in another order
        again = ours_cls.from_flyte_idl(pb)
        assert again.to_flyte_idl() == pb
        assert again == model and hash(again) == hash(model)
    assert batch.to_flyte_idl() == response


def _lines(text: str) -> list:
    return sorted(line if "{" not in line else "".join(sorted(line)) for line in text.splitlines())


def test_equality_and_printing_agree_with_flytekit(kind, backend):
    """For the same message, ours and flytekit's print, compare and hash alike; flytekit's lossy copy differs."""
    _, response, ours_cls, theirs_cls = kind
    batch = flytecodec.decode(ours_cls, response.SerializeToString(), framing="list")
    compared = 0
    for model, pb in zip(batch, _records(response)[:300]):
        readable, _ = for_flytekit(pb)
        theirs = theirs_cls.from_flyte_idl(readable)
        try:
            theirs_pb = theirs.to_flyte_idl()
        except AttributeError:  # flytekit cannot serialize some literals it reads (docs/compatibility.md)
            continue
        assert (model == theirs) == (theirs_pb == pb)
        assert ours_cls.from_flyte_idl(theirs_pb) == theirs
        # Protobuf maps have no order: a printed map follows the iteration order of the message it was read from,
        # and two messages with the same entries may iterate them differently (upb's hash is seeded per process),
        # which shows where a long map is cut short with "[...]". So the printing is compared between ours and
        # flytekit's model over the very same message, and the lines are compared as sets of characters.
        same = ours_cls._wrap(theirs_pb)
        printed = theirs_cls.from_flyte_idl(theirs_pb)
        assert same == theirs and same == printed
        assert _lines(str(same)) == _lines(str(printed))
        assert _lines(repr(same)) == _lines(repr(printed))
        assert _lines(same._repr_html_()) == _lines(printed._repr_html_())
        assert hash(same) == hash(theirs)
        assert same.is_empty == theirs.is_empty
        compared += 1
    assert compared > 100


def test_to_flytekit_and_pickling(kind, backend):
    _, response, ours_cls, theirs_cls = kind
    batch = flytecodec.decode(ours_cls, response.SerializeToString(), framing="list")
    for model, pb in zip(batch[:200], _records(response)[:200]):
        readable, values = for_flytekit(pb)
        again = pickle.loads(pickle.dumps(model))
        assert type(again) is ours_cls and again == model
        assert again.serialize_to_string() == model.serialize_to_string()
        if values is None:
            converted = model.to_flytekit()
            assert type(converted) is theirs_cls
            assert converted.to_flyte_idl() == theirs_cls.from_flyte_idl(readable).to_flyte_idl()
    assert pickle.loads(pickle.dumps(batch[:10]))[3] == batch[3]
