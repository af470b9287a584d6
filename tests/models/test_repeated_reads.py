"""Repeated fields and maps read from the bytes, as protobuf reads them: elements in wire order, a packable scalar's
elements one by one or packed in any mix, sub-messages one model each, map entries with protobuf's rules, the empty
list or dict or None as the field's policy says."""

from __future__ import annotations

import pytest
from flyteidl.admin import common_pb2, execution_pb2
from flyteidl.core import literals_pb2, security_pb2

import flytecodec
from flytecodec.models.common import EmailNotification, Labels, Notification
from flytecodec.models.execution import ExecutionClosure
from flytecodec.models.literals import Literal, LiteralMap
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


def _entry(key: bytes, value: bytes) -> bytes:
    return _field(1, 2, key) + _field(2, 2, value)


def test_a_map_reads_its_entries_as_protobuf_does(backend):
    # Labels.values (map<string, string>, field 1): a later entry of a key wins; an entry missing its key or value
    # has the default one; an entry with another field in it is not in the map (upb keeps it as unknown bytes)
    data = (
        _field(1, 2, _entry(b"team", b"ml"))
        + _field(1, 2, _entry(b"tier", b"gold"))
        + _field(1, 2, _entry(b"team", b"data"))
        + _field(1, 2, _field(2, 2, b"no key"))
        + _field(1, 2, _field(1, 2, b"no value"))
        + _field(1, 2, _entry(b"odd", b"x") + _field(3, 0, _varint(1)))
        + _field(1, 2, _field(1, 0, _varint(7)) + _field(2, 2, b"key of the wrong wire type"))
    )
    expected = dict(common_pb2.Labels.FromString(data).values)
    assert expected == {"team": "data", "tier": "gold", "": "no key", "no value": ""}
    got = _decoded(Labels, data).values
    assert got == expected
    assert list(got) == sorted(expected)  # sorted by key on both backends (a parsed map's order varies)
    assert _decoded(Labels, b"").values == {}


def test_a_map_of_sub_messages_reads_one_model_per_key(backend):
    one = literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=1)))
    two = literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value="b")))
    pb = literals_pb2.LiteralMap(literals={"a": one, "b": two})
    # a value written in two pieces merges, and a later entry of the same key replaces the earlier one
    half = literals_pb2.Literal(hash="h").SerializeToString()
    data = (
        pb.SerializeToString()
        + _field(1, 2, _field(1, 2, b"c") + _field(2, 2, one.SerializeToString()) + _field(2, 2, half))
        + _field(1, 2, _entry(b"a", two.SerializeToString()))
    )
    expected = literals_pb2.LiteralMap.FromString(data).literals
    got = _decoded(LiteralMap, data).literals
    assert list(got) == sorted(expected) == ["a", "b", "c"]
    assert {k: v.to_flyte_idl() for k, v in got.items()} == dict(expected)
    assert got["c"].hash == "h" and got["c"].scalar.primitive.integer == 1
    assert got["a"].scalar.primitive.string_value == "b"
    # Literal.metadata (map<string, string>) reads None when empty, as in flytekit
    assert _decoded(Literal, one.SerializeToString()).metadata is None
