"""``_native.canonical``: the bytes upb's ``SerializeToString(deterministic=True)`` gives, computed from the bytes.

upb is the oracle everywhere: each input is parsed with the pb2 class's ``FromString`` and serialized
deterministically, and the native bytes must be equal; an input upb refuses must be refused.
"""

from __future__ import annotations

import random
import struct

import pytest
from flyteidl.admin import common_pb2, execution_pb2
from flyteidl.core import literals_pb2
from google.protobuf import descriptor_pool, message_factory, wrappers_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError as PbDecodeError
from hypothesis import given

from flytecodec import DecodeError
from flytecodec.kinds import KINDS
from flytecodec.testing import corpus, strategies
from support import differential, examples
from support import malformed as mf
from support.kinds import TOP_STRATEGIES
from support.malformed import read_varint

native = pytest.importorskip("flytecodec._native")


def message_class(full_name: str) -> type:
    return message_factory.GetMessageClass(descriptor_pool.Default().FindMessageTypeByName(full_name))


def upb(full_name: str, data: bytes) -> bytes | None:
    """upb's deterministic bytes of ``data``, or None when upb refuses it."""
    try:
        return message_class(full_name).FromString(data).SerializeToString(deterministic=True)
    except PbDecodeError:
        return None


def check(full_name: str, data: bytes) -> bytes:
    """Assert the native bytes are upb's (or that both refuse); upb's bytes."""
    want = upb(full_name, data)
    if want is None:
        with pytest.raises(DecodeError):
            native.canonical(full_name, data)
    else:
        assert native.canonical(full_name, data) == want
    return want


# -- re-serializing valid messages in another order ------------------------------------------------------------


def _fields(data: bytes) -> list[tuple[int, int, bytes, bytes]]:
    """``(number, wire, tag and prefix, value)`` of each field of a valid message without groups."""
    out, pos = [], 0
    while pos < len(data):
        key, after = read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            end = read_varint(data, after)[1]
            out.append((number, wire, data[pos:after], data[after:end]))
        elif wire in (1, 5):
            end = after + (8 if wire == 1 else 4)
            out.append((number, wire, data[pos:after], data[after:end]))
        elif wire == 2:
            length, start = read_varint(data, after)
            end = start + length
            out.append((number, wire, data[pos:start], data[start:end]))
        else:
            raise ValueError(f"wire type {wire}")
        pos = end
    return out


def scrambled(desc: Descriptor, data: bytes, rng: random.Random) -> bytes:
    """The same message with its fields in another order (each field's occurrences kept in order), its map
    entries shuffled and the same done below."""
    groups: dict[int, list[bytes]] = {}
    for number, wire, head, value in _fields(data):
        fd = desc.fields_by_number.get(number)
        if fd is not None and wire == 2 and fd.type == FieldDescriptor.TYPE_MESSAGE:
            value = scrambled(fd.message_type, value, rng)
            head = mf.tag(number, 2) + corpus.varint(len(value))
        groups.setdefault(number, []).append(head + value)
    order = list(groups)
    rng.shuffle(order)
    out = bytearray()
    for number in order:
        items = groups[number]
        fd = desc.fields_by_number.get(number)
        if fd is not None and fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            rng.shuffle(items)
        out += b"".join(items)
    return bytes(out)


CORPUS = {name: getattr(corpus, name.replace("-", "_") + "s") for name in KINDS}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_corpus_records_in_any_order(kind):
    rng = random.Random(kind)
    full_name = KINDS[kind].message
    desc = descriptor_pool.Default().FindMessageTypeByName(full_name)
    for record in CORPUS[kind](60, seed=7):
        want = record.SerializeToString(deterministic=True)
        loose = scrambled(desc, record.SerializeToString(), rng)
        assert native.canonical(full_name, loose) == want
        assert native.canonical(full_name, want) == want


@pytest.mark.parametrize("kind", sorted(TOP_STRATEGIES))
def test_hypothesis_messages(kind):
    strategy = TOP_STRATEGIES[kind]()

    @examples.SETTINGS
    @given(strategy, strategies.unknown_fields(strategy))
    def run(message, with_unknown):
        full_name = message.DESCRIPTOR.full_name
        rng = random.Random(len(with_unknown))
        loose = scrambled(message.DESCRIPTOR, message.SerializeToString(), rng)
        assert native.canonical(full_name, loose) == message.SerializeToString(deterministic=True)
        check(full_name, with_unknown)

    run()


@pytest.mark.parametrize("kind", sorted(differential.KINDS))
def test_damaged_records_as_upb(kind):
    """Damaged records: what upb accepts comes out as upb writes it, what it refuses is refused."""
    rng = random.Random(f"canonical {kind}")
    full_name = KINDS[kind.replace("_", "-")].message
    desc = descriptor_pool.Default().FindMessageTypeByName(full_name)
    pool = differential.seed_pool(kind)
    accepted = refused = 0
    for _ in range(600):
        data, _label = differential.mutated(rng, rng.choice(pool), desc, pool)
        if check(full_name, data) is None:
            refused += 1
        else:
            accepted += 1
    assert accepted > 100 and refused > 20, (accepted, refused)


# -- hand-built odd encodings ----------------------------------------------------------------------------------

ld, tag = mf.ld, mf.tag
ID = "flyteidl.core.Identifier"
LABELS = "flyteidl.admin.Labels"
LITERAL = "flyteidl.core.Literal"
LITERAL_MAP = "flyteidl.core.LiteralMap"
CLOSURE = "flyteidl.admin.ExecutionClosure"
NOTIFICATION = "flyteidl.admin.Notification"


def entry(key: bytes | None = None, value: bytes | None = None, extra: bytes = b"") -> bytes:
    body = (b"" if key is None else ld(1, key)) + (b"" if value is None else ld(2, value)) + extra
    return ld(1, body)


def test_sub_messages_merge_and_unknown_fields_concatenate():
    # ExecutionClosure.started_at (5) in two pieces around phase (4), with an unknown field in each
    first = tag(1, 0) + b"\x05" + tag(15, 0) + b"\x01"
    second = tag(2, 0) + b"\x07" + tag(16, 2) + b"\x01x" + tag(1, 0) + b"\x09"
    data = ld(5, first) + tag(4, 0) + b"\x04" + ld(5, second)
    want = check(CLOSURE, data)
    assert want == tag(4, 0) + b"\x04" + ld(5, tag(1, 0) + b"\x09" + tag(2, 0) + b"\x07" + first[2:] + second[2:6])


def test_oneof_last_member_wins_and_a_message_member_starts_fresh():
    # Literal: scalar (1), collection (2), map (3): A, B, A
    a1 = ld(1, ld(1, tag(1, 0) + b"\x01"))  # scalar.primitive.integer = 1
    a2 = ld(1, ld(1, tag(5, 0) + b"\x01"))  # scalar.primitive.boolean = true
    b = ld(2, ld(1, b""))
    for data in (a1 + b + a2, a1 + a2, b + a1, a1 + b, b + a1 + b):
        check(LITERAL, data)
    assert native.canonical(LITERAL, a1 + b + a2) == a2


def test_oneof_scalar_member_set_to_default_is_written():
    # ExecutionClosure.abort_cause (10, a string in the oneof) set to ""
    data = ld(10, b"")
    assert check(CLOSURE, data) == data


def test_packed_and_unpacked_runs_join():
    # Notification.phases (1): packed [1, 2], unpacked 3, packed [], unpacked 300, a negative phase
    data = ld(1, b"\x01\x02") + tag(1, 0) + b"\x03" + ld(1, b"") + tag(1, 0) + b"\xac\x02"
    data += tag(1, 0) + b"\xff" * 9 + b"\x01"
    check(NOTIFICATION, data)
    assert check(NOTIFICATION, tag(1, 0) + b"\x03") == ld(1, b"\x03")
    assert check(NOTIFICATION, ld(1, b"")) == b""


def test_duplicate_map_keys_the_later_replaces():
    data = entry(b"k", b"1") + entry(b"j", b"2") + entry(b"k", b"3")
    assert check(LABELS, data) == entry(b"j", b"2") + entry(b"k", b"3")


def test_map_keys_sort_the_upb_way():
    keys = [b"ab", b"a", b"b", b"", b"abc", b"b\x00", "\u00e9".encode(), b"\x7f"]
    data = b"".join(entry(key, b"v") for key in reversed(keys))
    want = check(LABELS, data)
    got = [v.key.encode() for v in _labels_order(want)]
    assert got == [b"abc", b"ab", b"a", b"b\x00", b"b", b"\x7f", "\u00e9".encode(), b""]


def _labels_order(data: bytes):
    return [common_pb2.Labels.ValuesEntry.FromString(value) for _, _, _, value in _fields(data)]


def test_map_entries_missing_key_or_value_write_both():
    assert check(LABELS, entry(None, b"v")) == entry(b"", b"v")
    assert check(LABELS, entry(b"k", None)) == entry(b"k", b"")
    assert check(LABELS, ld(1, b"")) == entry(b"", b"")
    # a message value: merged over its occurrences, an empty message when missing
    one = ld(1, ld(1, tag(1, 0) + b"\x01"))
    other = tag(99, 0) + b"\x02"
    check(LITERAL_MAP, entry(b"a", one) + ld(1, ld(1, b"a") + ld(2, other) + ld(2, b"")))
    assert check(LITERAL_MAP, entry(b"a")) == entry(b"a", b"")


def test_map_entries_with_foreign_fields_become_unknown_fields():
    foreign = [
        entry(b"a", b"b", tag(3, 0) + b"\x05"),  # a third field
        ld(1, ld(1, b"x") + ld(1, b"y") + ld(2, b"z") + tag(3, 0) + b"\x05"),  # two keys then one
        ld(1, tag(1, 0) + b"\x01" + ld(2, b"x")),  # a key with the wrong wire type
        ld(1, ld(2, b"") + tag(3, 0) + b"\x05"),  # only default key and value
        ld(1, ld(2, b"v") + tag(2, 0) + b"\x01"),  # a value with the wrong wire type after one that fits
    ]
    for item in foreign:
        data = tag(19, 0) + b"\x01" + entry(b"k", b"v") + item + tag(19, 0) + b"\x02"
        check(LABELS, data)
    # in a map of messages too, the entry's value written back canonical
    value = ld(1, ld(1, tag(1, 0) + b"\x01")) + ld(1, ld(1, tag(5, 0) + b"\x01"))
    check(LITERAL_MAP, ld(1, ld(1, b"k") + ld(2, value) + tag(7, 5) + b"abcd"))


def test_unknown_fields_at_depth_and_groups_are_kept_raw():
    group = tag(40, 3) + tag(1, 0) + b"\x01" + ld(2, b"\xff") + tag(40, 4)
    overlong_tag = b"\xd8\x82\x80\x00" + b"\x01"  # field 299, varint, the tag in 4 bytes
    inner = tag(1, 0) + b"\x01" + group + overlong_tag
    deep = ld(1, ld(1, ld(1, inner + tag(77, 1) + b"12345678")))  # Literal.scalar.primitive
    check(LITERAL, deep)
    assert native.canonical(LITERAL, deep) == deep


def test_overlong_and_out_of_range_varints():
    cases = [
        tag(1, 0) + b"\x81\x80\x80\x80\x00",  # resource_type 1 in 5 bytes
        tag(1, 0) + b"\x80\x80\x80\x80\x10",  # 2^32: an enum's low 32 bits are 0
        tag(1, 0) + b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",  # -1
        tag(1, 0) + b"\xff\xff\xff\xff\x07",  # 2^31 - 1
        tag(1, 0) + b"\x80\x80\x80\x80\x08",  # 2^31: negative as int32
    ]
    for data in cases:
        check(ID, data)
    assert check(ID, cases[1]) == b""
    # int32 / uint32 / bool / int64 without presence (TaskExecutionClosure.event_version,
    # ExecutionMetadata.nesting, TaskExecution.is_parent, Timestamp.seconds)
    for value in (
        b"\x00",
        b"\x80\x00",
        b"\xff\xff\xff\xff\x0f",
        b"\x80\x80\x80\x80\x10",
        b"\x02",
        b"\xff" * 9 + b"\x01",
    ):
        check("flyteidl.admin.TaskExecutionClosure", tag(17, 0) + value)
        check("flyteidl.admin.ExecutionMetadata", tag(17, 0) + value)
        check("flyteidl.admin.TaskExecution", tag(4, 0) + value)
        check("google.protobuf.Timestamp", tag(1, 0) + value + tag(2, 0) + value)


def test_floats_by_their_bits():
    for value in (0.0, -0.0, 1.5, float("nan"), float("-inf")):
        for name, fmt, wire in (("DoubleValue", "<d", 1), ("FloatValue", "<f", 5)):
            data = tag(1, wire) + struct.pack(fmt, value)
            want = check(f"google.protobuf.{name}", data)
            assert (want == b"") == (struct.pack(fmt, value) == b"\x00" * struct.calcsize(fmt))
    # a float in a oneof (Primitive.float_value) is written even when 0.0
    assert check("flyteidl.core.Primitive", tag(2, 1) + b"\x00" * 8) == tag(2, 1) + b"\x00" * 8
    assert wrappers_pb2.DoubleValue(value=-0.0).SerializeToString() == native.canonical(
        "google.protobuf.DoubleValue", tag(1, 1) + struct.pack("<d", -0.0)
    )


def test_wrong_wire_types_are_unknown():
    data = tag(2, 0) + b"\x01" + ld(1, b"\x01") + tag(4, 5) + b"abcd" + ld(2, b"p")
    assert check(ID, data) == ld(2, b"p") + data[:-3]
    # a singular message with a varint, a repeated string with a fixed64
    check(CLOSURE, tag(5, 0) + b"\x01" + ld(5, tag(1, 0) + b"\x02"))
    check("flyteidl.admin.EmailNotification", tag(1, 1) + b"12345678" + ld(1, b"a"))


def test_messages_set_empty_are_written():
    for data in (ld(5, b""), ld(5, b"") + ld(5, b""), ld(1, b"") + ld(5, b""), ld(1, b"") + ld(2, b"")):
        check(CLOSURE, data)
    assert native.canonical(CLOSURE, ld(5, b"")) == ld(5, b"")
    assert native.canonical(CLOSURE, ld(1, b"") + ld(2, b"")) == ld(2, b"")


def test_refuses_what_upb_refuses():
    refused = [
        (ID, ld(2, b"\xff")),  # invalid UTF-8
        (LABELS, entry(b"\xc3", b"v")),  # a map key
        (LABELS, entry(b"k", b"v") + entry(b"k", b"\xff")),  # a value replaced later is still checked
        (LITERAL, ld(1, ld(1, ld(3, b"\xed\xa0\x80")))),  # a surrogate at depth
        (ID, ld(2, b"abc")[:-1]),  # truncated
        (ID, tag(1, 0) + b"\x80"),  # truncated varint
        (ID, b"\x0e"),  # wire type 6
        (NOTIFICATION, ld(1, b"\x81")),  # a packed run cut short
        (ID, b"\x02\x00"),  # field 0
        (LITERAL, tag(9, 3)),  # a group never closed
    ]
    for full_name, data in refused:
        assert upb(full_name, data) is None, data
        with pytest.raises(DecodeError):
            native.canonical(full_name, data)
    with pytest.raises(ValueError, match="unknown message"):
        native.canonical("flyteidl.admin.NoSuchMessage", b"")


def test_literal_collections_deep():
    lit = literals_pb2.Literal()
    inner = lit
    for depth in range(30):
        inner = inner.collection.literals.add()
        inner.hash = str(depth)
    inner.scalar.primitive.float_value = -0.0
    rng = random.Random(3)
    data = scrambled(lit.DESCRIPTOR, lit.SerializeToString(), rng)
    assert native.canonical(LITERAL, data) == lit.SerializeToString(deterministic=True)
    e = execution_pb2.Execution()
    e.closure.outputs.values.literals["x"].CopyFrom(lit)
    check("flyteidl.admin.Execution", e.SerializeToString() * 2)
