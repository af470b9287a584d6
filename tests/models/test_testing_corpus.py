"""Tests of flytecodec.testing: the deterministic corpus and the hypothesis strategies."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timezone

import pytest
from flyteidl.admin import execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import literals_pb2, types_pb2
from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    duration_pb2,
    struct_pb2,
    text_format,
    timestamp_pb2,
    wrappers_pb2,
)
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.unknown_fields import UnknownFieldSet
from hypothesis import HealthCheck, given, settings

from flytecodec.testing import corpus, strategies

# the suite runs the same examples every time; size health checks must not fail it at random
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]

# sha256 of corpus.delimited(corpus.executions(200, seed=0)): every message serialized with
# deterministic=True behind its varint length. A change here means the generator changed: update
# it on purpose, together with anything that depends on the corpus (benchmark baselines…).
GOLDEN_EXECUTIONS_SHA256 = "6b9241f4d4f0bca0052b4b35f6da46e2ed2d5b8059fb8be7904ec1f26ed0e7aa"

# Enum fields whose value is fixed by the context rather than drawn, so some values never occur.
PARTIAL_ENUMS = {
    # LAUNCH_PLAN in spec.launch_plan, WORKFLOW in closure.workflow_id, TASK in task ids, DATASET in catalog keys
    ("flyteidl.core.Identifier", "resource_type"),
    # notifications fire on terminal phases only
    ("flyteidl.admin.Notification", "phases"),
}
# Oneofs of which real records use some branches only.
PARTIAL_ONEOFS = {
    # artifact bindings appear in launch-plan templates; an execution holds concrete partition values
    ("flyteidl.core.LabelValue", "value"),
}
# Fields that stay unset in the seed-0 corpus, with the reason.
NEVER_SET = {
    ("flyteidl.core.LabelValue", "triggered_binding"),  # see PARTIAL_ONEOFS
    ("flyteidl.core.LabelValue", "input_binding"),
    ("flyteidl.core.LabelValue", "runtime_binding"),
    ("flyteidl.core.OAuth2TokenRequest", "type"),  # its only value, CLIENT_CREDENTIALS, is 0
    ("flyteidl.core.ArtifactKey", "org"),  # orgs (1 run in 25) and TRIGGER executions (2 %) rarely meet
}

KIND_NAMES = sorted(corpus.KINDS)
_POOL = descriptor_pool.Default()


def _is_repeated(field: FieldDescriptor) -> bool:
    repeated = getattr(field, "is_repeated", None)  # protobuf >= 6; ``label`` before
    return field.label == FieldDescriptor.LABEL_REPEATED if repeated is None else repeated


def _serialized(messages: Iterable[Message]) -> list[bytes]:
    return [message.SerializeToString(deterministic=True) for message in messages]


class _Census:
    """What a corpus uses: enum values per field, oneof branches, and fields that were set."""

    def __init__(self, messages: Iterable[Message]) -> None:
        self.enums: dict[tuple[str, str], set[int]] = defaultdict(set)
        self.oneofs: dict[tuple[str, str], set[str | None]] = defaultdict(set)
        self.present: set[tuple[str, str]] = set()
        for message in messages:
            self._visit(message)

    def _visit(self, message: Message) -> None:
        descriptor = message.DESCRIPTOR
        name = descriptor.full_name
        for oneof in descriptor.oneofs:
            self.oneofs[(name, oneof.name)].add(message.WhichOneof(oneof.name))
        for field in descriptor.fields:
            if field.type == FieldDescriptor.TYPE_ENUM:
                value = getattr(message, field.name)
                self.enums[(name, field.name)].update(value if _is_repeated(field) else (value,))
        for field, value in message.ListFields():
            self.present.add((name, field.name))
            if field.message_type is None:
                continue
            if field.message_type.GetOptions().map_entry:
                if field.message_type.fields_by_name["value"].message_type is not None:
                    for item in value.values():
                        self._visit(item)
            elif _is_repeated(field):
                for item in value:
                    self._visit(item)
            else:
                self._visit(value)

    def missing_enum_values(self) -> dict[tuple[str, str], list[str]]:
        missing = {}
        for key, seen in self.enums.items():
            if key in PARTIAL_ENUMS:
                continue
            enum = _POOL.FindMessageTypeByName(key[0]).fields_by_name[key[1]].enum_type
            absent = [value.name for value in enum.values if value.number not in seen]
            if absent:
                missing[key] = absent
        return missing

    def missing_oneof_branches(self) -> dict[tuple[str, str], list[str]]:
        missing = {}
        for key, seen in self.oneofs.items():
            if key in PARTIAL_ONEOFS:
                continue
            oneof = _POOL.FindMessageTypeByName(key[0]).oneofs_by_name[key[1]]
            absent = [field.name for field in oneof.fields if field.name not in seen]
            if absent:
                missing[key] = absent
        return missing

    def never_set(self) -> set[tuple[str, str]]:
        seen_types = {name for name, _ in self.present}
        return {
            (name, field.name)
            for name in seen_types
            for field in _POOL.FindMessageTypeByName(name).fields
            if (name, field.name) not in self.present
        }


@pytest.fixture(scope="module", params=KIND_NAMES)
def census(request: pytest.FixtureRequest) -> _Census:
    generate, _ = corpus.KINDS[request.param]
    return _Census(generate(1000, 0))


# ---------------------------------------------------------------------------------------------
# Determinism
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_same_seed_same_bytes(kind: str) -> None:
    generate, _ = corpus.KINDS[kind]
    assert _serialized(generate(150, 3)) == _serialized(generate(150, 3))
    assert _serialized(generate(150, 3)) != _serialized(generate(150, 4))


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_shorter_corpus_is_a_prefix(kind: str) -> None:
    generate, _ = corpus.KINDS[kind]
    assert _serialized(generate(37, 1)) == _serialized(generate(120, 1))[:37]
    assert generate(0, 1) == []


def test_golden_hash() -> None:
    digest = hashlib.sha256(corpus.delimited(corpus.executions(200, seed=0))).hexdigest()
    assert digest == GOLDEN_EXECUTIONS_SHA256


def test_independent_of_hash_seed() -> None:
    """Another interpreter with another PYTHONHASHSEED (and upb map seed) builds the same bytes."""
    script = (
        "import hashlib\n"
        "from flytecodec.testing import corpus\n"
        "for kind in sorted(corpus.KINDS):\n"
        "    print(hashlib.sha256(corpus.delimited(corpus.KINDS[kind][0](300, 5))).hexdigest())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    expected = [hashlib.sha256(corpus.delimited(corpus.KINDS[kind][0](300, 5))).hexdigest() for kind in KIND_NAMES]
    assert out.stdout.split() == expected


def test_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="n must be"):
        corpus.executions(-1)


# ---------------------------------------------------------------------------------------------
# Framing helpers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 16_383, 16_384, 2**32 - 1, 2**63, 2**64 - 1])
def test_varint_matches_protobuf(value: int) -> None:
    # positive_int_value is proto2 optional uint64 field 4: tag byte 0x20, then the value's varint, even for 0
    expected = descriptor_pb2.UninterpretedOption(positive_int_value=value).SerializeToString()
    assert b"\x20" + corpus.varint(value) == expected


def test_varint_refuses_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        corpus.varint(-1)


def _read_delimited(data: bytes) -> list[bytes]:
    messages, pos = [], 0
    while pos < len(data):
        length = shift = 0
        while True:
            byte = data[pos]
            pos += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        messages.append(data[pos : pos + length])
        pos += length
    return messages


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_delimited_round_trip(kind: str) -> None:
    generate, _ = corpus.KINDS[kind]
    records = generate(60, 2)
    frames = _read_delimited(corpus.delimited(records))
    assert frames == _serialized(records)
    assert [type(records[0]).FromString(frame) for frame in frames] == records


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_list_builders(kind: str) -> None:
    generate, build_list = corpus.KINDS[kind]
    page = build_list(25, 9, "next-page-token")
    records = list(getattr(page, page.DESCRIPTOR.fields_by_number[1].name))  # the framing reads field 1
    assert records == generate(25, 9)
    assert page.token == "next-page-token"
    assert type(page).FromString(page.SerializeToString()) == page


# ---------------------------------------------------------------------------------------------
# Coverage and realism
# ---------------------------------------------------------------------------------------------


def test_every_enum_value_appears(census: _Census) -> None:
    assert census.missing_enum_values() == {}


def test_every_oneof_branch_appears(census: _Census) -> None:
    assert census.missing_oneof_branches() == {}


def test_every_field_is_exercised(census: _Census) -> None:
    assert census.never_set() - NEVER_SET == set()


def test_kind_specific_coverage() -> None:
    executions = _Census(corpus.executions(1000))
    assert executions.enums[("flyteidl.admin.ExecutionClosure", "phase")] == set(
        core_execution_pb2.WorkflowExecution.Phase.values()
    )
    assert executions.oneofs[("flyteidl.admin.ExecutionSpec", "notification_overrides")] >= {
        "notifications",
        "disable_all",
    }
    assert executions.oneofs[("flyteidl.admin.LiteralMapBlob", "data")] == {"values", "uri"}
    nodes = _Census(corpus.node_executions(1000))
    assert nodes.oneofs[("flyteidl.admin.NodeExecutionClosure", "target_metadata")] == {
        None,
        "workflow_node_metadata",
        "task_node_metadata",
    }
    tasks = _Census(corpus.task_executions(1000))
    assert ("flyteidl.event.TaskExecutionMetadata", "external_resources") in tasks.present


def test_execution_size_band() -> None:
    sizes = [len(data) for data in _serialized(corpus.executions(2000))]
    assert 450 <= sum(sizes) / len(sizes) <= 650


def test_inline_outputs_share() -> None:
    succeeded = [
        e for e in corpus.executions(1000) if e.closure.phase == core_execution_pb2.WorkflowExecution.SUCCEEDED
    ]
    inline = [e for e in succeeded if e.closure.outputs.HasField("values")]
    assert len(inline) >= 0.1 * len(succeeded)
    kinds = {
        literal.scalar.WhichOneof("value") or literal.WhichOneof("value")
        for e in inline
        for literal in e.closure.outputs.values.literals.values()
    }
    assert {"primitive", "blob", "none_type", "collection", "map"} <= kinds


def test_user_errors_carry_long_tracebacks() -> None:
    user_errors = [
        e.closure.error
        for e in corpus.executions(1000)
        if e.closure.HasField("error") and e.closure.error.kind == core_execution_pb2.ExecutionError.USER
    ]
    assert user_errors
    for error in user_errors:
        assert "Traceback (most recent call last):" in error.message
        assert 1000 <= len(error.message.encode()) <= 6500
        assert error.message.count("\n") > 10


def test_some_text_is_not_ascii() -> None:
    records = corpus.executions(1000)
    share = sum(not text_format.MessageToString(r, as_utf8=True).isascii() for r in records) / len(records)
    assert 0.02 <= share <= 0.3
    for text in (
        lambda r: r.spec.metadata.principal,
        lambda r: "".join(r.spec.labels.values.values()),
        lambda r: "".join(r.spec.annotations.values.values()),
        lambda r: r.closure.error.message,
    ):
        assert any(not text(record).isascii() for record in records)


def test_timestamps_are_valid_and_recent() -> None:
    low = datetime(2023, 1, 1, tzinfo=timezone.utc)
    high = datetime(2027, 1, 1, tzinfo=timezone.utc)
    for record in corpus.executions(300):
        closure = record.closure
        created = closure.created_at.ToDatetime(tzinfo=timezone.utc)
        assert low <= created < high
        assert closure.updated_at.ToDatetime(tzinfo=timezone.utc) >= created
        if closure.HasField("started_at"):
            assert closure.started_at.ToDatetime(tzinfo=timezone.utc) >= created
            assert closure.duration.ToTimedelta().total_seconds() >= 0


def test_execution_ids_look_like_flyteadmin() -> None:
    records = corpus.executions(1000)
    generated = [r.id.name for r in records if len(r.id.name) == 20 and r.id.name.startswith("f")]
    assert len(generated) > 0.8 * len(records)
    assert all(set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789") for name in generated)
    assert {r.id.domain for r in records} == {"development", "staging", "production"}
    assert len({r.id.project for r in records}) >= 24
    for r in records:
        assert r.spec.launch_plan.resource_type == 3  # LAUNCH_PLAN
        assert r.closure.workflow_id.name.count(".") >= 2
        if r.closure.outputs.HasField("uri"):
            assert r.id.name in r.closure.outputs.uri


def test_phases_are_mostly_succeeded() -> None:
    phases = [r.closure.phase for r in corpus.executions(1000)]
    succeeded = phases.count(core_execution_pb2.WorkflowExecution.SUCCEEDED)
    assert 0.5 < succeeded / len(phases) < 0.8


# ---------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------

ROUND_TRIP_CLASSES = [
    execution_pb2.Execution,
    node_execution_pb2.NodeExecution,
    task_execution_pb2.TaskExecution,
    execution_pb2.ExecutionList,
    literals_pb2.Literal,
    types_pb2.LiteralType,
    struct_pb2.Struct,
    wrappers_pb2.DoubleValue,
]


@pytest.mark.parametrize("message_class", ROUND_TRIP_CLASSES, ids=lambda c: c.DESCRIPTOR.name)
def test_strategy_messages_round_trip(message_class: type[Message]) -> None:
    @settings(max_examples=200, deadline=None, derandomize=True, database=None, suppress_health_check=_QUIET)
    @given(strategies.messages(message_class))
    def check(message: Message) -> None:
        data = message.SerializeToString(deterministic=True)
        parsed = message_class.FromString(data)
        assert parsed == message
        assert parsed.SerializeToString(deterministic=True) == data

    check()


@settings(max_examples=100, deadline=None, derandomize=True, database=None, suppress_health_check=_QUIET)
@given(strategies.executions(), strategies.node_executions(), strategies.task_executions())
def test_convenience_strategies(
    execution: execution_pb2.Execution,
    node_execution: node_execution_pb2.NodeExecution,
    task_execution: task_execution_pb2.TaskExecution,
) -> None:
    assert isinstance(execution, execution_pb2.Execution)
    assert isinstance(node_execution, node_execution_pb2.NodeExecution)
    assert isinstance(task_execution, task_execution_pb2.TaskExecution)


@settings(max_examples=200, deadline=None, derandomize=True, database=None, suppress_health_check=_QUIET)
@given(strategies.messages(timestamp_pb2.Timestamp), strategies.messages(duration_pb2.Duration))
def test_time_values_convert(timestamp: timestamp_pb2.Timestamp, duration: duration_pb2.Duration) -> None:
    timestamp.ToDatetime()
    timestamp.ToJsonString()
    duration.ToTimedelta()
    duration.ToJsonString()  # checks the range and that seconds and nanos agree in sign


def test_depth_limit() -> None:
    def depth(literal: literals_pb2.Literal) -> int:
        children = list(literal.collection.literals) + list(literal.map.literals.values())
        return 1 + max((depth(child) for child in children), default=0)

    @settings(max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=_QUIET)
    @given(strategies.messages(literals_pb2.Literal, max_depth=2, max_leaves=1000))
    def check(literal: literals_pb2.Literal) -> None:
        assert depth(literal) <= 2

    check()
    with pytest.raises(ValueError, match="max_depth"):
        strategies.messages(literals_pb2.Literal, max_depth=0)


@pytest.mark.parametrize("message_class", ROUND_TRIP_CLASSES[:3], ids=lambda c: c.DESCRIPTOR.name)
def test_unknown_fields_survive_upb(message_class: type[Message]) -> None:
    @settings(max_examples=100, deadline=None, derandomize=True, database=None, suppress_health_check=_QUIET)
    @given(strategies.unknown_fields(strategies.messages(message_class)))
    def check(data: bytes) -> None:
        parsed = message_class.FromString(data)
        unknown = list(UnknownFieldSet(parsed))
        assert 1 <= len(unknown) <= 4
        assert all(field.field_number > 10_000 and field.wire_type in (0, 1, 2, 5) for field in unknown)
        assert parsed.SerializeToString(deterministic=True) == data
        assert message_class.FromString(parsed.SerializeToString()) == parsed

    check()


def test_offload_inline_outputs_leaves_only_uris():
    page = corpus.execution_list(300, seed=1, token="t")
    inline = sum(e.closure.outputs.HasField("values") for e in page.executions)
    assert inline > 0
    corpus.offload_inline_outputs(page)
    assert not any(e.closure.outputs.HasField("values") for e in page.executions)
    assert sum(e.closure.outputs.uri == "s3://bench/outputs.pb" for e in page.executions) >= inline
    assert page.token == "t"
    assert len(corpus.offload_inline_outputs(corpus.node_execution_list(5)).node_executions) == 5
