"""Bad inputs built by hand for the decode-error tests, with the index and byte offset of the failing message worked
out here, independently of the package's framing code; upb's verdict on them (the oracle for what is valid); and
the checks every :class:`flytecodec.DecodeError` must pass; the backends built here (``BOTH``) and the error
``decode`` raises (``decode_error``)."""

from __future__ import annotations

import re

import pytest
from flyteidl.admin import execution_pb2, node_execution_pb2, task_execution_pb2
from google.protobuf.message import DecodeError as PbDecodeError

import flytecodec
from flytecodec import DecodeError, decode
from flytecodec.models.admin.task_execution import TaskExecution
from flytecodec.models.execution import Execution
from flytecodec.models.node_execution import NodeExecution
from flytecodec.testing import corpus

# -- building inputs -------------------------------------------------------------------------------------------


varint = corpus.varint


def tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return tag(number, 2) + varint(len(payload)) + payload


def ser(message) -> bytes:
    return message.SerializeToString(deterministic=True)


def small_executions() -> list:
    """Three small executions (a few dozen bytes each) with distinct names, phases and timestamps."""
    out = []
    for i, phase in enumerate([4, 5, 2]):
        record = execution_pb2.Execution()
        record.id.project, record.id.domain, record.id.name = "proj", "development", f"exec-{i}-\u00e9"
        record.closure.phase = phase
        record.closure.started_at.seconds = 1_700_000_000 + i
        record.closure.started_at.nanos = 123_456_789
        record.closure.duration.seconds = 60 * i
        out.append(record)
    return out


class Framed:
    """A ``*List`` response built field by field, remembering where each record's tag starts and ends."""

    def __init__(self, payloads, token: bytes = b"", list_field: int = 1):
        self.starts, self.ends = [], []
        data = bytearray()
        for payload in payloads:
            self.starts.append(len(data))
            data += field(list_field, payload)
            self.ends.append(len(data))
        self.token_start = len(data)
        if token:
            data += field(2, token)
        self.data = bytes(data)

    def record_at(self, cut: int):
        """The index of the record that byte position ``cut`` falls strictly inside, or None."""
        for k, (start, end) in enumerate(zip(self.starts, self.ends)):
            if start < cut < end:
                return k
        return None


def upb_parse(cls, data):
    """upb's verdict: the parsed message, or None when upb rejects ``data``."""
    try:
        return cls.FromString(bytes(data))
    except PbDecodeError:
        return None


def check_error(error: DecodeError, index: int, offset: int) -> None:
    assert isinstance(error, DecodeError) and isinstance(error, ValueError)
    assert (error.index, error.offset) == (index, offset), str(error)
    check_sentence(error)


def check_sentence(error: DecodeError) -> None:
    """``str(error)`` is one human sentence naming the index and the offset."""
    text = str(error)
    assert text and "\n" not in text and not text.startswith(("b'", "<", "Traceback"))
    assert re.search(rf"\b{error.index}\b", text), text
    assert re.search(rf"offset {error.offset}\b", text), text


LISTS = {
    "execution": (Execution, corpus.executions, execution_pb2.ExecutionList, "executions"),
    "node_execution": (NodeExecution, corpus.node_executions, node_execution_pb2.NodeExecutionList, "node_executions"),
    "task_execution": (TaskExecution, corpus.task_executions, task_execution_pb2.TaskExecutionList, "task_executions"),
}


# -- decoding them ---------------------------------------------------------------------------------------------

BOTH = [b for b in ("native", "python") if b in flytecodec.available_backends()]


def decode_error(model, data, framing=None, **kwargs) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode(model, data, framing=framing, **kwargs)
    return info.value
