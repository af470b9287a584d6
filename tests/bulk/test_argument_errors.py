"""Wrong arguments to ``decode``: a missing or unknown framing, a framing that does not fit the model or the
input, something that is not a model class; each a clear error."""

from __future__ import annotations

import pytest
from flyteidl.admin import execution_pb2

from flytecodec import DecodeError, bulk, decode
from flytecodec.models._entity import FlyteIdlEntity
from flytecodec.models.admin.task_execution import TaskExecutionClosure
from flytecodec.models.execution import Execution, ExecutionClosure, ExecutionSpec
from flytecodec.models.node_execution import NodeExecutionClosure
from flytecodec.testing import corpus

# -- argument errors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"\x0a\x00", bytearray(b"\x0a\x00"), memoryview(b"")], ids=repr)
def test_framing_is_required_for_bytes_input(backend, data):
    with pytest.raises(ValueError, match=r"framing") as info:
        decode(Execution, data)
    message = str(info.value)
    assert "'list'" in message and "'delimited'" in message and "'message'" in message
    assert not isinstance(info.value, DecodeError)


def test_framing_is_required_for_path_input(backend, tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="framing"):
        decode(Execution, path)


@pytest.mark.parametrize("framing", ["lists", "LIST", "", "json", "length-prefixed", "sequence"])
def test_unknown_framing(backend, framing):
    with pytest.raises(ValueError, match="framing") as info:
        decode(Execution, b"", framing=framing)
    assert repr(framing) in str(info.value)
    assert not isinstance(info.value, DecodeError)


@pytest.mark.parametrize("model", [ExecutionClosure, ExecutionSpec, NodeExecutionClosure, TaskExecutionClosure])
def test_list_framing_needs_a_model_with_a_list_response(backend, model):
    with pytest.raises(ValueError, match=model.__name__):
        decode(model, b"", framing="list")
    with pytest.raises(ValueError, match=model.__name__):
        decode(model, corpus.execution_list(2).SerializeToString(), framing="list")


@pytest.mark.parametrize("framing", ["delimited", "message", "bogus"])  # "list": a sequence of pages
def test_sequence_input_takes_no_byte_framing(backend, framing):
    with pytest.raises(ValueError, match="framing"):
        decode(Execution, [b""], framing=framing)
    with pytest.raises(ValueError, match="framing"):
        decode(Execution, [], framing=framing)


class _NotAModel:
    @classmethod
    def from_flyte_idl(cls, pb):  # pragma: no cover - never called
        return cls()


@pytest.mark.parametrize(
    "model",
    [
        int,
        bytes,
        _NotAModel,
        FlyteIdlEntity,  # the base class names no message
        execution_pb2.Execution,  # a pb2 class, not a model
        Execution(id=None, spec=None, closure=None),  # an instance, not a class
        "Execution",
        None,
    ],
    ids=["int", "bytes", "duck", "base", "pb2", "instance", "str", "None"],
)
def test_model_must_be_a_model_class(backend, model):
    with pytest.raises(TypeError):
        decode(model, b"", framing="message")
    with pytest.raises(TypeError):
        decode(model, [b""])


def test_flytekit_model_class_is_not_accepted(backend):
    from flytekit.models import execution as fk_execution

    with pytest.raises(TypeError):
        decode(fk_execution.Execution, b"", framing="message")


# -- a decode after the first takes a shorter path for bytes: the same checks and errors ----------------------


@pytest.mark.parametrize("framing", ["list", "delimited", "message"])
def test_a_repeated_decode_checks_and_reports_as_the_first(backend, framing):
    good = {"list": execution_pb2.ExecutionList(), "delimited": None, "message": execution_pb2.Execution()}[framing]
    decode(Execution, good.SerializeToString() if good is not None else b"", framing=framing)
    with pytest.raises(ValueError, match="on_null"):
        decode(Execution, b"", framing=framing, on_null="drop")
    broken = b"\x0a\x05\x0a"  # a record (or its first field) whose length runs past the end
    errors = []
    for cold in (True, False):
        if cold:
            bulk._native_decoders.clear()
        with pytest.raises(DecodeError) as info:
            decode(Execution, broken, framing=framing)
        errors.append((str(info.value), info.value.index, info.value.offset, info.value.hint))
    assert errors[0] == errors[1]
    assert errors[0][3] or framing == "message"  # a hint where there is one: another framing, where it ends


class _Bytes(bytes):
    pass


def test_a_bytes_subclass_decodes_as_bytes(backend):
    data = corpus.execution_list(3, seed=2).SerializeToString()
    decode(Execution, data, framing="list")
    assert [e.id.name for e in decode(Execution, _Bytes(data), framing="list")] == [
        e.id.name for e in decode(Execution, data, framing="list")
    ]


def test_bytes_with_the_sequence_framing_after_a_sequence_decode(backend):
    """A sequence decoded first does not make bytes framed as a sequence decode (they are refused as before)."""
    decode(Execution, [execution_pb2.Execution().SerializeToString()])
    with pytest.raises(ValueError, match="framing='sequence' takes a sequence"):
        decode(Execution, b"", framing="sequence")
