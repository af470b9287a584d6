""":class:`Batch`: a lazy, repeatable sequence of models with slicing, ``repr``, ``to_flyte_idl()`` of the
whole response, the empty cases and pickling.

Every test that decodes takes the ``backend`` fixture, so it runs once per available backend; the records come
from :mod:`flytecodec.testing.corpus` (``support/kinds.py``) or are built by hand where a test needs exact
control over the bytes.
"""

from __future__ import annotations

import collections.abc
import pickle

import pytest
from flyteidl.admin import execution_pb2

from flytecodec import Batch, decode
from flytecodec.models.execution import Execution, ExecutionClosure
from flytecodec.testing import corpus
from support.kinds import get_path, ser

# -- Batch ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def listing():
    return corpus.execution_list(10, seed=41, token="page-3")


@pytest.fixture
def batch(backend, listing):
    return decode(Execution, ser(listing), framing="list")


def test_batch_is_a_sequence(batch, listing):
    records = list(listing.executions)
    assert isinstance(batch, collections.abc.Sequence)
    assert len(batch) == 10
    assert batch[0].to_flyte_idl() == records[0]
    assert batch[9].to_flyte_idl() == records[9]
    assert batch[-1] is batch[9]
    assert batch[-10] is batch[0]
    assert batch[3].id.name == records[3].id.name
    assert batch[3] in batch
    assert batch.index(batch[4]) == 4


@pytest.mark.parametrize("index", [10, 11, -11, 2**40, -(2**40)])
def test_batch_index_out_of_range(batch, index):
    with pytest.raises(IndexError):
        batch[index]


def test_batch_index_must_be_an_int(batch):
    with pytest.raises(TypeError):
        batch["0"]
    with pytest.raises(TypeError):
        batch[1.0]


def test_batch_returns_the_same_model_on_every_read(batch):
    """A model is made once per position: indexing and iterating give the same object every time."""
    firsts = [batch[i] for i in range(len(batch))]
    assert [batch[i] for i in range(len(batch))] == firsts
    assert all(a is b for a, b in zip(firsts, batch))
    assert all(a is b for a, b in zip(firsts, list(batch)))
    assert all(batch[i - len(batch)] is firsts[i] for i in range(len(batch)))
    closure = batch[2].closure
    assert batch[2].closure is closure  # properties are cached as well


def test_batch_iterates_lazily_and_repeatedly(batch, listing):
    records = list(listing.executions)
    it = iter(batch)
    assert next(it).to_flyte_idl() == records[0]
    assert [m.to_flyte_idl() for m in it] == records[1:]
    assert [m.to_flyte_idl() for m in batch] == records
    assert [m.to_flyte_idl() for m in reversed(batch)] == records[::-1]


@pytest.mark.parametrize(
    "part",
    [
        slice(2, 5),
        slice(None, None, 2),
        slice(None, None, -1),
        slice(-3, None),
        slice(8, 100),
        slice(5, 2),
        slice(1, -1, 3),
    ],
    ids=str,
)
def test_batch_slicing(batch, listing, part):
    records = list(listing.executions)
    batch[3].closure
    sliced = batch[part]
    assert isinstance(sliced, Batch)
    assert sliced.model is Execution
    assert sliced.token == "page-3"
    assert [m.to_flyte_idl() for m in sliced] == records[part]
    assert len(sliced) == len(records[part])
    assert sliced.to_flyte_idl() == execution_pb2.ExecutionList(executions=records[part], token="page-3")
    # The original batch is unaffected.
    assert [m.to_flyte_idl() for m in batch] == records


def test_slice_of_a_slice(batch, listing):
    records = list(listing.executions)
    part = batch[1:9][::2][1:]
    assert [m.to_flyte_idl() for m in part] == records[1:9][::2][1:]
    assert part.token == "page-3"


def test_batch_repr(batch, backend):
    text = repr(batch)
    assert "Batch" in text and "10" in text and "Execution" in text and "page-3" in text
    closures = decode(ExecutionClosure, [b"", b""])
    assert "2" in repr(closures) and "ExecutionClosure" in repr(closures)
    assert "token" not in repr(closures)


def test_batch_to_flyte_idl_is_the_list_response(backend, kind):
    listing = kind.make_list(15, seed=42, token="abc")
    batch = decode(kind.model, ser(listing), framing="list")
    out = batch.to_flyte_idl()
    assert type(out) is kind.list_class
    assert out == listing
    assert out.token == "abc"
    again = kind.list_class.FromString(batch.serialize_to_string())
    assert again == listing
    # Reading properties first changes nothing.
    for m in batch:
        for path in kind.paths:
            get_path(m, path)
    assert batch.to_flyte_idl() == listing


def test_batch_of_delimited_records_to_flyte_idl_has_no_token(backend, kind):
    records = kind.records(5, seed=43)
    batch = decode(kind.model, corpus.delimited(records), framing="delimited")
    assert batch.to_flyte_idl() == kind.list_class(**{kind.field: records})
    assert kind.list_class.FromString(batch.serialize_to_string()) == kind.list_class(**{kind.field: records})


def test_batch_of_closures_has_no_list_response(backend):
    batch = decode(ExecutionClosure, [ser(corpus.executions(1)[0].closure)])
    with pytest.raises(ValueError, match="ExecutionClosure"):
        batch.to_flyte_idl()
    with pytest.raises(ValueError, match="ExecutionClosure"):
        batch.serialize_to_string()


@pytest.mark.parametrize(
    "data, framing",
    [(b"", "list"), (b"", "delimited"), (bytearray(), "list"), (memoryview(b""), "delimited"), ([], None), ((), None)],
    ids=["list", "delimited", "bytearray-list", "memoryview-delimited", "empty-list", "empty-tuple"],
)
def test_empty_input_is_an_empty_batch(backend, data, framing):
    batch = decode(Execution, data, framing=framing)
    assert len(batch) == 0
    assert list(batch) == []
    assert batch.token == ""
    assert len(batch[:]) == 0 and batch[:].token == ""
    with pytest.raises(IndexError):
        batch[0]
    assert batch.to_flyte_idl() == execution_pb2.ExecutionList()
    assert batch.serialize_to_string() == b""


def test_list_with_only_a_token(backend):
    batch = decode(Execution, ser(execution_pb2.ExecutionList(token="end")), framing="list")
    assert len(batch) == 0 and batch.token == "end"


@pytest.mark.parametrize("data", [b"", bytearray(), memoryview(b"")], ids=["bytes", "bytearray", "memoryview"])
def test_message_framing_of_empty_bytes_is_one_default_model(backend, data):
    batch = decode(Execution, data, framing="message")
    assert len(batch) == 1
    (model,) = batch
    assert model.to_flyte_idl() == execution_pb2.Execution()
    assert model.serialize_to_string() == b""
    assert model.is_empty
    assert model.id.name == "" and model.closure.phase == 0
    assert model.closure.error is None


def test_batch_models_pickle(batch, listing):
    records = list(listing.executions)
    again = pickle.loads(pickle.dumps(list(batch[:3])))
    assert [m.to_flyte_idl() for m in again] == records[:3]
    assert all(type(m) is Execution for m in again)
