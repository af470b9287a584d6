"""The model base: identity of models and of their cached values across threads, constructor arguments stored as
given, ``from_flyte_idl`` never sharing the caller's message, and pickles validated like decoded bytes."""

from __future__ import annotations

import pickle
import threading

import pytest
from flyteidl.core import security_pb2
from flytekit.models import node_execution as fk_node_execution
from flytekit.models.core import identifier as fk_identifier

import flytecodec
from flytecodec.models.core.identifier import WorkflowExecutionIdentifier
from flytecodec.models.execution import Execution, ExecutionSpec
from flytecodec.models.node_execution import WorkflowNodeMetadata
from flytecodec.models.security import Identity
from flytecodec.testing import corpus

THREADS = 8


def _together(work) -> list:
    """``work(i)`` on ``THREADS`` threads released at once; their results in thread order."""
    barrier = threading.Barrier(THREADS)
    results: list = [None] * THREADS

    def run(i: int) -> None:
        barrier.wait(30)
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    return results


def test_indexing_gives_one_model_per_position_across_threads(backend):
    data = corpus.execution_list(2000, seed=4).SerializeToString()
    batch = flytecodec.decode_executions(data, framing="list")
    seen = _together(lambda i: [batch[j] for j in (range(2000) if i % 2 else range(1999, -1, -1))])
    for got in seen[1:]:
        assert all(a is b for a, b in zip(sorted(got, key=id), sorted(seen[0], key=id)))
    assert all(batch[j] is batch[j - 2000] for j in range(2000))


def test_a_first_read_gives_one_object_across_threads(backend):
    data = corpus.execution_list(300, seed=4).SerializeToString()
    batch = flytecodec.decode_executions(data, framing="list")
    models = [batch[j] for j in range(len(batch))]
    seen = _together(lambda i: [(m.closure, m.spec, m.closure.started_at, m.id) for m in models])
    for got in seen[1:]:
        assert all(x is y for a, b in zip(got, seen[0]) for x, y in zip(a, b))
    assert all(m.closure is m.closure and m.id is m.id for m in models)


@pytest.mark.parametrize(
    "execution_id",
    [WorkflowExecutionIdentifier("p", "d", "n"), fk_identifier.WorkflowExecutionIdentifier("p", "d", "n")],
)
def test_constructor_arguments_are_stored_as_given(execution_id):
    ours = WorkflowNodeMetadata(execution_id=execution_id)
    assert ours.execution_id is execution_id
    theirs = fk_node_execution.WorkflowNodeMetadata(execution_id=execution_id)
    assert ours.to_flyte_idl() == theirs.to_flyte_idl()
    assert ours == theirs


def test_from_flyte_idl_never_shares_the_callers_message(backend):
    pb = corpus.executions(1, seed=9)[0]
    model = Execution.from_flyte_idl(pb)
    before = type(pb)()
    before.CopyFrom(pb)
    pb.id.name = "changed-after"
    assert model.id.name != "changed-after"
    assert model.to_flyte_idl() == before  # map entries may come out in another order: compare messages
    idl = model.to_flyte_idl()
    idl.id.name = "changed-copy"
    assert model.id.name != "changed-copy"
    assert type(pb).FromString(model.serialize_to_string()) == before


def test_a_pickle_round_trips_decoded_and_constructed_models(backend):
    data = corpus.execution_list(20, seed=4).SerializeToString()
    batch = flytecodec.decode_executions(data, framing="list")
    for model in (batch[3], batch[7].closure, WorkflowExecutionIdentifier("p", "d", "n")):
        again = pickle.loads(pickle.dumps(model))
        assert again == model and type(again) is type(model)
    again = pickle.loads(pickle.dumps(batch))
    assert [m.serialize_to_string() for m in again] == [m.serialize_to_string() for m in batch]
    assert again.token == batch.token


def _crafted_model_pickle(data: bytes, state=None) -> bytes:
    """A pickle of a decoded ``Execution`` carrying ``data`` as its message (and ``state``), as an attacker
    writes it."""
    model = flytecodec.decode_executions(corpus.execution_list(1, seed=4).SerializeToString(), framing="list")[0]
    restore, (cls, good), _ = model.__reduce__()
    assert pickle.loads(pickle.dumps(_Reduced(restore, (cls, good), None))) == model
    return pickle.dumps(_Reduced(restore, (cls, data), state))


class _Reduced:
    """Pickles as ``restore(*args)`` with ``state``: a crafted pickle."""

    def __init__(self, restore, args, state):
        self.reduced = (restore, args, state)

    def __reduce__(self):
        return self.reduced


def test_a_pickle_with_malformed_bytes_raises_our_decode_error(backend):
    with pytest.raises(flytecodec.DecodeError):
        pickle.loads(_crafted_model_pickle(b"\x0a\x05ab"))


@pytest.mark.parametrize("state", [{"closure": "GARBAGE"}, {"_raw": ((b"x",), 0)}, {"_dirty": {"closure"}}, ["x"]])
def test_a_pickles_state_cannot_set_fields_or_bookkeeping(backend, state):
    with pytest.raises(TypeError, match="cannot unpickle"):
        pickle.loads(_crafted_model_pickle(b"", state))


def test_a_pickles_state_keeps_subclass_attributes(backend):
    from flytecodec.remote.executions import FlyteWorkflowExecution

    data = corpus.execution_list(3, seed=4).SerializeToString()
    model = flytecodec.decode_executions(data, framing="list", model=FlyteWorkflowExecution)[1]
    model._remote = "a remote"
    again = pickle.loads(pickle.dumps(model))
    assert again._remote == "a remote" and again == model


@pytest.mark.parametrize(("token", "error"), [(12345, TypeError), ("\ud800", flytecodec.DecodeError)])
def test_a_batch_pickle_with_a_bad_token_is_refused(backend, token, error):
    batch = flytecodec.decode_executions(corpus.execution_list(2, seed=4).SerializeToString(), framing="list")
    restore, (model, items, _) = batch.__reduce__()
    with pytest.raises(error):
        pickle.loads(pickle.dumps(_Reduced(restore, (model, items, token), None)))


def test_an_assigned_value_shadows_the_cached_one_and_nothing_else_can_set_a_field(backend):
    """A field read (and cached) on a decoded model, then assigned, reads as the assigned value, which
    ``to_flyte_idl`` applies over the source; a constructed model reads its constructor's values; a field cannot be
    set past ``__setattr__`` (a property has no setter), as with flytekit's read-only properties."""
    pb = security_pb2.Identity(iam_role="role", k8s_service_account="sa", execution_identity="me")
    model = flytecodec.decode(Identity, pb.SerializeToString(), framing="message")[0]
    assert model.iam_role == "role" and model.iam_role is model.iam_role  # cached
    model.iam_role = "other"
    assert model.iam_role == "other" and model.k8s_service_account == "sa"
    assert model.to_flyte_idl() == security_pb2.Identity(
        iam_role="other", k8s_service_account="sa", execution_identity="me"
    )
    made = Identity(iam_role="made")
    assert (made.iam_role, made.k8s_service_account) == ("made", None)
    with pytest.raises(AttributeError, match="has no setter"):
        object.__setattr__(model, "iam_role", "again")
    with pytest.raises(AttributeError):
        del model.k8s_service_account
    execution = flytecodec.decode_executions(corpus.execution_list(2, seed=4).SerializeToString(), framing="list")[0]
    with pytest.raises(AttributeError, match="has no setter"):
        execution.closure = None


def test_a_model_with_more_fields_than_held_inline_keeps_every_cached_value(backend):
    """``ExecutionSpec`` has 19 fields, more than a native model holds inline (16): the values cached before one
    beyond is first read stay the same objects once they move, and every field reads as on a fresh model."""
    data = corpus.execution_list(20, seed=4).SerializeToString()
    names = [f.name for f in ExecutionSpec._all_fields]
    assert len(names) > 16
    for record in flytecodec.decode_executions(data, framing="list"):
        spec = record.spec
        first = [getattr(spec, n) for n in names[:4]]
        last = getattr(spec, names[-1])
        assert all(getattr(spec, n) is v for n, v in zip(names, first)) and getattr(spec, names[-1]) is last
        everything = [getattr(spec, n) for n in names]
        assert all(getattr(spec, n) is v for n, v in zip(names, everything))
        fresh = ExecutionSpec.from_flyte_idl(spec.to_flyte_idl())
        assert [getattr(fresh, n) for n in reversed(names)] == everything[::-1]


def test_a_property_reads_subclass_instances_and_refuses_other_objects(backend):
    class Mine(Execution):
        pass

    data = corpus.execution_list(3, seed=4).SerializeToString()
    plain = flytecodec.decode_executions(data, framing="list")
    mine = flytecodec.decode(Mine, data, framing="list")
    for a, b in zip(plain, mine):
        assert type(b) is Mine
        assert (a.closure.phase, a.id.name, a.closure.started_at) == (b.closure.phase, b.id.name, b.closure.started_at)
    assert plain[0].closure is plain[0].closure and mine[0].closure is mine[0].closure
    with pytest.raises((TypeError, AttributeError)):
        Execution.closure.__get__(object())


def test_calling_the_constructor_again_on_a_decoded_model_makes_it_a_constructed_one(backend):
    pb = security_pb2.Identity(iam_role="role", k8s_service_account="sa")
    model = flytecodec.decode(Identity, pb.SerializeToString(), framing="message")[0]
    assert (model.iam_role, model.k8s_service_account) == ("role", "sa")  # cached
    model.__init__(iam_role="again")
    assert not model._decoded
    assert (model.iam_role, model.k8s_service_account) == ("again", None)
    assert model.to_flyte_idl() == security_pb2.Identity(iam_role="again")
