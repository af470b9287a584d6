"""Repeated fields read from the bytes, as protobuf reads them: elements in wire order, a packable scalar's elements
one by one or packed in any mix, sub-messages one model each, the empty list or None as the field's policy says."""

from __future__ import annotations

import pytest
from flyteidl.admin import common_pb2, execution_pb2
from flyteidl.core import security_pb2

import flytecodec
from flytecodec.models.common import EmailNotification, Notification
from flytecodec.models.execution import ExecutionClosure
from flytecodec.models.security import SecurityContext


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, wire: int, payload: bytes) -> bytes:
    if wire == 2:
        payload = _varint(len(payload)) + payload
    return _varint(number << 3 | wire) + payload


def _decoded(cls, data: bytes):
    return flytecodec.decode(cls, data, framing="message")[0]


def test_a_packable_scalar_reads_its_elements_one_by_one_and_packed_in_wire_order(backend):
    # Notification.phases (repeated enum, field 1): 3, then [4, 5, 300] packed, then 6, then an empty packed run
    data = (
        _field(1, 0, _varint(3))
        + _field(1, 2, _varint(4) + _varint(5) + _varint(300))
        + _field(1, 0, _varint(6))
        + _field(1, 2, b"")
    )
    expected = list(common_pb2.Notification.FromString(data).phases)
    assert expected == [3, 4, 5, 300, 6]
    assert _decoded(Notification, data).phases == expected


def test_repeated_strings_and_an_absent_list(backend):
    pb = common_pb2.EmailNotification(recipients_email=["a@x", "", "ü@y"])
    assert _decoded(EmailNotification, pb.SerializeToString()).recipients_email == ["a@x", "", "ü@y"]
    assert _decoded(EmailNotification, b"").recipients_email == []


def test_repeated_sub_messages_are_one_model_each_and_an_empty_list_can_read_as_none(backend):
    closure = execution_pb2.ExecutionClosure(
        notifications=[
            common_pb2.Notification(phases=[1, 2], email=common_pb2.EmailNotification(recipients_email=["a"])),
            common_pb2.Notification(),
            common_pb2.Notification(slack=common_pb2.SlackNotification(recipients_email=["b", "c"])),
        ]
    )
    model = _decoded(ExecutionClosure, closure.SerializeToString())
    got = model.notifications
    assert [n.to_flyte_idl() for n in got] == list(closure.notifications)
    assert got[0].email.recipients_email == ["a"] and got[2].slack.recipients_email == ["b", "c"]
    assert got[1].phases == [] and got[1].email is None
    assert model.notifications is got
    assert _decoded(ExecutionClosure, b"").notifications == []
    # SecurityContext.secrets is None when empty, as in flytekit
    assert _decoded(SecurityContext, b"").secrets is None
    secrets = security_pb2.SecurityContext(secrets=[security_pb2.Secret(group="g", key="k")])
    read = _decoded(SecurityContext, secrets.SerializeToString()).secrets
    assert [(s.group, s.key) for s in read] == [("g", "k")]


@pytest.mark.parametrize("wire", [1, 5])
def test_a_repeated_field_with_a_foreign_wire_type_is_an_unknown_field(backend, wire):
    payload = b"\x00" * (8 if wire == 1 else 4)
    data = _field(1, wire, payload) + _field(1, 0, _varint(2))
    assert list(common_pb2.Notification.FromString(data).phases) == [2]
    assert _decoded(Notification, data).phases == [2]
