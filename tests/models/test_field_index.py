"""A native model finds its fields by one walk of its bytes (its first read) and looks them up after that; the
lookup must give what upb gives whatever field is read first, on records where protobuf's merge rules matter:
a scalar written more than once, a sub-message split in occurrences, a oneof member set before or after its
rivals, fields of the wrong wire type, unknown fields between the known ones, field numbers of one tag byte
and above."""

from __future__ import annotations

import contextlib

import pytest

import flytecodec
from flytecodec.models.admin.task_execution import TaskExecutionClosure
from flytecodec.models.execution import Execution, ExecutionClosure, ExecutionSpec
from support import malformed as mf
from support.differential import Compare, needs_native
from support.oracle import properties

pytestmark = needs_native

tag, ld, varint = mf.tag, mf.ld, mf.varint


def _timestamp(seconds: int, nanos: int = 0) -> bytes:
    return tag(1, 0) + varint(seconds) + (tag(2, 0) + varint(nanos) if nanos else b"")


UNKNOWN = tag(15, 0) + varint(7) + ld(1000, b"x") + tag(2000, 5) + b"abcd"
ERROR = ld(1, b"E") + ld(2, b"boom")  # ExecutionError: code, message

CASES = {
    # ExecutionClosure: phase 4, started_at 5, duration 6, created_at 7; oneof outputs 1, error 2,
    # abort_cause 10, abort_metadata 12, output_data 13
    "closure, scalar written twice": (
        ExecutionClosure,
        tag(4, 0) + varint(2) + ld(5, _timestamp(1_700_000_000)) + tag(4, 0) + varint(4),
    ),
    "closure, sub-message split around unknown fields": (
        ExecutionClosure,
        ld(5, tag(1, 0) + varint(1_700_000_000)) + UNKNOWN + ld(6, _timestamp(30)) + ld(5, tag(2, 0) + varint(5000)),
    ),
    "closure, every field once, unknown fields between": (
        ExecutionClosure,
        UNKNOWN
        + tag(4, 0)
        + varint(3)
        + UNKNOWN
        + ld(5, _timestamp(1_700_000_000, 9))
        + ld(6, _timestamp(61, 1000))
        + ld(7, _timestamp(1_600_000_000))
        + ld(2, ERROR)
        + UNKNOWN,
    ),
    "closure, a oneof member then a rival": (ExecutionClosure, ld(2, ERROR) + tag(4, 0) + varint(1) + ld(10, b"why")),
    "closure, a rival then a oneof member": (ExecutionClosure, ld(10, b"why") + tag(4, 0) + varint(1) + ld(2, ERROR)),
    "closure, a oneof member set twice around a rival": (
        ExecutionClosure,
        ld(2, ERROR) + ld(10, b"why") + ld(2, ld(2, b"again")),
    ),
    "closure, a rival set twice": (ExecutionClosure, ld(10, b"a") + ld(2, ERROR) + ld(10, b"b")),
    "closure, a rival of the wrong wire type after the member": (
        ExecutionClosure,
        ld(2, ERROR) + tag(10, 0) + varint(1) + tag(12, 5) + b"1234",
    ),
    "closure, a scalar of the wrong wire type": (ExecutionClosure, ld(4, b"\x04") + ld(7, _timestamp(5))),
    "closure, wrong wire type then right": (ExecutionClosure, ld(4, b"\x04") + tag(4, 0) + varint(5)),
    "closure, right wire type then wrong": (ExecutionClosure, tag(4, 0) + varint(5) + ld(4, b"\x04")),
    "closure, a sub-message of the wrong wire type": (ExecutionClosure, tag(5, 0) + varint(9) + tag(4, 0) + varint(2)),
    "closure, the output_data member above field 12": (
        ExecutionClosure,
        ld(1, ld(2, b"s3://x")) + ld(13, b"") + tag(4, 0) + varint(2),
    ),
    # TaskExecutionClosure: output_uri 1, error 2 and output_data 12 (a oneof); phase 3; reason 10; metadata 16,
    # event_version 17, reasons 18, log_context 19
    "task closure, fields numbered 16 and above, repeated and split": (
        TaskExecutionClosure,
        tag(3, 0)
        + varint(3)
        + tag(17, 0)
        + varint(1)
        + ld(16, ld(1, b"gen"))
        + ld(10, b"first")
        + tag(17, 0)
        + varint(2)
        + ld(16, ld(4, b"k8s") + tag(16, 0) + varint(1))
        + ld(10, b"second")
        + ld(1, b"s3://out"),
    ),
    "task closure, a member below 16 after one above": (
        TaskExecutionClosure,
        ld(12, b"") + ld(19, b"") + ld(1, b"s3://out") + ld(2, ERROR),
    ),
    # ExecutionSpec: launch_plan 1, metadata 3, oneof notifications 5 / disable_all 6, auth_role 16,
    # max_parallelism 18
    "spec, a oneof of a sub-message and a bool, fields above 16": (
        ExecutionSpec,
        tag(6, 0)
        + varint(1)
        + ld(16, ld(1, b"role"))
        + ld(5, b"")
        + tag(18, 0)
        + varint(4)
        + ld(16, ld(2, b"svc"))
        + tag(18, 0)
        + varint(8)
        + ld(3, tag(1, 0) + varint(1)),
    ),
    "spec, the bool member last": (ExecutionSpec, ld(5, b"") + ld(1, ld(2, b"p")) + tag(6, 0) + varint(1)),
    # Execution: id 1 (project 1, domain 2, name 4), spec 2, closure 3
    "execution, id and closure each split": (
        Execution,
        ld(1, ld(1, b"proj"))
        + ld(3, tag(4, 0) + varint(4))
        + UNKNOWN
        + ld(1, ld(4, b"name"))
        + ld(2, ld(1, ld(2, b"lp")))
        + ld(3, ld(5, _timestamp(1_700_000_000))),
    ),
    "execution, every field once": (
        Execution,
        ld(1, ld(1, b"p") + ld(2, b"d") + ld(4, b"n"))
        + ld(2, ld(3, tag(1, 0) + varint(2)))
        + ld(3, tag(4, 0) + varint(4) + ld(5, _timestamp(1_700_000_000)) + ld(6, _timestamp(3))),
    ),
}


def _decoded(backend: str, model, data: bytes):
    with flytecodec.using_backend(backend):
        return flytecodec.decode(model, data, framing="message")[0]


def _orders(names: list[str]) -> list[list[str]]:
    """The fields in order, reversed, and each one first."""
    return [names, names[::-1]] + [[name] + [n for n in names if n != name] for name in names]


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_fields_read_in_any_order_agree_with_upb(case):
    model, data = CASES[case]
    reference = _decoded("python", model, data)
    assert reference.to_flyte_idl() == model._pb_class.FromString(data)
    names = properties(model)
    for order in _orders(names):
        native = _decoded("native", model, data)
        for name in order:
            # the comparison below checks that both backends raise the same error, if any
            with contextlib.suppress(Exception):
                getattr(native, name)
        Compare().model(reference, native, f"{case} read first: {order[0]}", record=True)


def test_the_sub_models_of_a_split_field_read_their_merged_fields():
    model, data = CASES["execution, id and closure each split"]
    execution = _decoded("native", model, data)
    assert (execution.id.project, execution.id.name) == ("proj", "name")
    assert execution.closure.phase == 4
    assert execution.closure.started_at.timestamp() == 1_700_000_000
