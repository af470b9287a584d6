"""Deterministic malformed protobuf inputs, built from valid records, for the backend differential tests.

A valid record is parsed into a :class:`Node` tree that follows the schema (a length-delimited field of a message
type has child nodes), so that a mutation anywhere in the tree is written back with every enclosing length
recomputed: the damage stays where it was put. Mutations act on the tree (wrong wire types, invalid UTF-8 in a
string field, split sub-messages, oneof rivals, groups, odd varint encodings, lying lengths, unknown fields…) or
on the bytes (truncation, bit flips, insertions, deletions). Everything is drawn from one ``random.Random``.

:func:`upb_top_level` walks the top level of a ``*List`` response with upb's rules, independently of the
package's framing code; the tests use it to tell the known differences between the backends apart.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Callable

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from flytecodec.testing import corpus

TYPE_MESSAGE = FieldDescriptor.TYPE_MESSAGE
TYPE_STRING = FieldDescriptor.TYPE_STRING
_FIXED64 = {FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED64}
_FIXED32 = {FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_SFIXED32}
_LENGTH = {TYPE_STRING, FieldDescriptor.TYPE_BYTES, TYPE_MESSAGE}

# -- wire primitives -------------------------------------------------------------------------------------------


varint = corpus.varint  # canonical base-128 varint (any size: callers build overlong ones on purpose)


def padded_varint(value: int, size: int, last: int | None = None) -> bytes:
    """``value`` as a varint of exactly ``size`` bytes (zero continuation bytes); ``last`` overrides the last
    byte (e.g. high bits that upb ignores in a 10th byte). ``value`` must fit in ``7 * size`` bits."""
    out = bytearray()
    for i in range(size):
        byte = (value >> (7 * i)) & 0x7F
        out.append(byte | (0x80 if i < size - 1 else 0))
    if last is not None:
        out[-1] = last
    return bytes(out)


def tag(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def ld(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return tag(number, 2) + varint(len(payload)) + payload


def wire_type(fd: FieldDescriptor) -> int:
    """The wire type of one (non-packed) value of field ``fd``."""
    if fd.type in _LENGTH:
        return 2
    if fd.type in _FIXED64:
        return 1
    if fd.type in _FIXED32:
        return 5
    if fd.type == FieldDescriptor.TYPE_GROUP:
        return 3
    return 0


def is_repeated(fd: FieldDescriptor) -> bool:
    flag = getattr(fd, "is_repeated", None)
    return fd.label == fd.LABEL_REPEATED if flag is None else flag


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """A varint as upb reads it: at most 10 bytes, the value masked to 64 bits. ``ValueError`` otherwise."""
    result = 0
    for i in range(10):
        if pos + i >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos + i]
        result |= (byte & 0x7F) << (7 * i)
        if byte < 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, pos + i + 1
    raise ValueError("varint longer than 10 bytes")


# -- the schema-following tree ---------------------------------------------------------------------------------


class Node:
    """One field occurrence. ``tag`` is written as is; then, for a length-delimited field, ``length`` (or the
    true length) and the payload (``children`` serialized, or ``payload``); for other wire types ``body``."""

    __slots__ = ("body", "children", "desc", "fd", "length", "number", "payload", "tag", "wire")

    def __init__(self, tag_bytes: bytes, number: int, wire: int, fd=None, *, body=b"", payload=b"", children=None):
        self.tag = tag_bytes
        self.number = number
        self.wire = wire
        self.fd = fd
        self.body = body
        self.payload = payload
        self.children = children
        self.desc = fd.message_type if (fd is not None and children is not None) else None
        self.length: bytes | None = None

    @classmethod
    def raw(cls, data: bytes) -> Node:
        """Bytes written verbatim (possibly not a field at all)."""
        return cls(data, -1, -1)


def parse(desc: Descriptor | None, data: bytes) -> list[Node]:
    """The tree of a valid message (``ValueError`` on malformed input)."""
    nodes, pos = [], 0
    while pos < len(data):
        key, after = read_varint(data, pos)
        number, wire = key >> 3, key & 7
        fd = desc.fields_by_number.get(number) if desc is not None else None
        if fd is not None and wire != wire_type(fd) and not (wire == 2 and is_repeated(fd)):
            fd = None  # wrong wire type: an unknown field
        if wire == 0:
            end = read_varint(data, after)[1]
            node = Node(data[pos:after], number, wire, fd, body=data[after:end])
        elif wire in (1, 5):
            end = after + (8 if wire == 1 else 4)
            if end > len(data):
                raise ValueError("truncated fixed value")
            node = Node(data[pos:after], number, wire, fd, body=data[after:end])
        elif wire == 2:
            length, start = read_varint(data, after)
            end = start + length
            if end > len(data):
                raise ValueError("length past the end")
            payload = data[start:end]
            if fd is not None and fd.type == TYPE_MESSAGE:
                node = Node(data[pos:after], number, wire, fd, children=parse(fd.message_type, payload))
            else:
                node = Node(data[pos:after], number, wire, fd, payload=payload)
        elif wire == 3:  # an unknown group, kept whole
            end = _upb_skip(data, after, number, wire, 0)
            node = Node.raw(data[pos:end])
        else:
            raise ValueError(f"wire type {wire}")
        nodes.append(node)
        pos = end
    return nodes


def serialize(nodes: list[Node]) -> bytes:
    out = bytearray()
    for n in nodes:
        out += n.tag
        if n.wire == 2:
            payload = serialize(n.children) if n.children is not None else n.payload
            out += n.length if n.length is not None else varint(len(payload))
            out += payload
        else:
            out += n.body
    return bytes(out)


def containers(nodes: list[Node], desc: Descriptor | None, depth: int = 0) -> Iterator[tuple]:
    """``(node list, its message descriptor, depth)`` of the message and of every sub-message in it."""
    yield nodes, desc, depth
    for n in nodes:
        if n.children is not None:
            yield from containers(n.children, n.desc, depth + 1)


def occurrences(nodes: list[Node], desc: Descriptor | None, depth: int = 0) -> Iterator[tuple]:
    """``(node list, index, node, depth)`` of every field occurrence, at every depth."""
    for i, n in enumerate(nodes):
        yield nodes, i, n, depth
        if n.children is not None:
            yield from occurrences(n.children, n.desc, depth + 1)


# -- values ----------------------------------------------------------------------------------------------------

EDGE_VARINTS = (
    0,
    1,
    2,
    127,
    128,
    2**31 - 1,
    2**31,
    2**32 - 1,
    2**32,
    2**53 + 1,
    2**63 - 1,
    2**63,
    2**64 - 1,
    315_576_000_000,
    315_576_000_001,
    253_402_300_799,
    253_402_300_800,
    2**64 - 62_135_596_800,  # Timestamp seconds -62135596800 (0001-01-01) as a varint
    2**64 - 62_135_596_801,
    999_999_999,
    1_000_000_000,
    2**64 - 1_000,  # -1000 (negative nanos)
    86_399_999_999_999,  # timedelta.max seconds
    86_400_000_000_000,
    2**64 - 86_399_999_913_600,  # timedelta.min seconds
    185_542_587_187_199,  # days just below 2**31
    185_542_587_187_200,  # days = 2**31
)
EDGE_FIXED64 = (
    b"\x00\x00\x00\x00\x00\x00\xf8\x7f",  # NaN
    b"\x00\x00\x00\x00\x00\x00\x00\x80",  # -0.0
    b"\x00\x00\x00\x00\x00\x00\xf0\x7f",  # inf
    b"\x01\x00\x00\x00\x00\x00\xf8\xff",  # NaN with payload and sign
    b"\xff" * 8,
)
EDGE_FIXED32 = (b"\x00\x00\xc0\x7f", b"\x00\x00\x00\x80", b"\x00\x00\x80\x7f", b"\xff\xff\xff\xff")
BAD_UTF8 = (
    b"\xff",
    b"\x80",
    b"\xc0\x80",  # overlong NUL
    b"\xed\xa0\x80",  # a surrogate
    b"\xf4\x90\x80\x80",  # above U+10FFFF
    b"\xe2\x82",  # truncated sequence
    b"\xf8\x88\x80\x80\x80",  # 5-byte form
)
GOOD_UTF8 = ("\u00e9", "\u2028", "\U0010ffff", "\ufeff", "\x00", "\u65e5\u672c")
UNKNOWN_NUMBERS = (15, 99, 1000, 2047, 2048, 18_999, 20_000, 2**29 - 1)


def random_value(rng: random.Random, wire: int) -> bytes:
    """A well-formed value (what follows the tag) of wire type ``wire``."""
    if wire == 0:
        return varint(rng.choice(EDGE_VARINTS) if rng.random() < 0.5 else rng.getrandbits(rng.choice((7, 32, 64))))
    if wire == 1:
        return rng.choice(EDGE_FIXED64) if rng.random() < 0.5 else rng.randbytes(8)
    if wire == 5:
        return rng.choice(EDGE_FIXED32) if rng.random() < 0.5 else rng.randbytes(4)
    if wire == 2:
        data = rng.randbytes(rng.randrange(0, 12)) if rng.random() < 0.5 else rng.choice(GOOD_UTF8).encode()
        return varint(len(data)) + data
    raise ValueError(wire)


def unknown_field(rng: random.Random, desc: Descriptor | None) -> bytes:
    """A well-formed field whose number ``desc`` does not have (a balanced group now and then)."""
    numbers = [n for n in UNKNOWN_NUMBERS if desc is None or n not in desc.fields_by_number]
    number = rng.choice(numbers)
    wire = rng.choice((0, 1, 2, 5, 3))
    if wire == 3:
        inner = b"".join(tag(rng.choice(UNKNOWN_NUMBERS), w) + random_value(rng, w) for w in (0, 2)[: rng.randrange(3)])
        return tag(number, 3) + inner + tag(number, 4)
    return tag(number, wire) + random_value(rng, wire)


def nested_groups(depth: int, number: int = 7) -> bytes:
    """``depth`` groups nested in one another, each closed."""
    return tag(number, 3) * depth + tag(number, 4) * depth


# -- tree mutations --------------------------------------------------------------------------------------------
# Each takes (rng, tree, root descriptor) and changes the tree in place; it returns a label, or None when the
# tree has nothing it applies to.


def _pick(rng: random.Random, items: list):
    return rng.choice(items) if items else None


def _insert(rng: random.Random, nodes: list[Node], node: Node) -> None:
    nodes.insert(rng.randrange(len(nodes) + 1), node)


def m_invalid_utf8(rng, tree, desc):
    """Invalid UTF-8 inside a string field (names, map keys and values, error messages…)."""
    found = _pick(rng, [n for _, _, n, _ in occurrences(tree, desc) if n.fd is not None and n.fd.type == TYPE_STRING])
    if found is None:
        return None
    at = rng.randrange(len(found.payload) + 1)
    found.payload = found.payload[:at] + rng.choice(BAD_UTF8) + found.payload[at:]
    return "invalid-utf8"


def m_valid_utf8(rng, tree, desc):
    """Unusual but valid UTF-8 in a string field, and arbitrary bytes in a bytes field (both accepted)."""
    found = _pick(rng, [n for _, _, n, _ in occurrences(tree, desc) if n.wire == 2 and n.children is None])
    if found is None:
        return None
    if found.fd is not None and found.fd.type == TYPE_STRING:
        found.payload += rng.choice(GOOD_UTF8).encode()
    elif found.fd is not None and found.fd.type == FieldDescriptor.TYPE_BYTES:
        found.payload += rng.choice(BAD_UTF8)
    else:
        found.payload = found.payload[::-1]
    return "odd-utf8"


def m_wrong_wire(rng, tree, desc):
    """A known field written with another wire type (upb keeps it as an unknown field)."""
    found = _pick(rng, [(lst, i, n) for lst, i, n, _ in occurrences(tree, desc) if n.fd is not None])
    if found is None:
        return None
    lst, i, n = found
    wire = rng.choice([w for w in (0, 1, 2, 3, 5) if w != n.wire])
    if wire == 3:
        lst[i] = Node.raw(tag(n.number, 3) + unknown_field(rng, None) * rng.randrange(2) + tag(n.number, 4))
    else:
        lst[i] = Node.raw(tag(n.number, wire) + random_value(rng, wire))
    return "wrong-wire-type"


def m_split(rng, tree, desc):
    """A sub-message written as two occurrences (they must merge)."""
    found = _pick(rng, [(lst, i, n) for lst, i, n, _ in occurrences(tree, desc) if n.children])
    if found is None:
        return None
    lst, i, n = found
    k = rng.randrange(len(n.children) + 1)
    first = Node(n.tag, n.number, 2, n.fd, children=n.children[:k])
    second = Node(n.tag, n.number, 2, n.fd, children=n.children[k:])
    lst[i : i + 1] = [first, second]
    if rng.random() < 0.3:  # and something in between
        lst.insert(i + 1, Node.raw(unknown_field(rng, n.desc)))
    return "split-message"


def m_repeat(rng, tree, desc):
    """A singular field written again later with another value (the last one wins; messages merge)."""
    found = _pick(
        rng,
        [
            (lst, i, n)
            for lst, i, n, _ in occurrences(tree, desc)
            if n.fd is not None and not is_repeated(n.fd) and n.number >= 0
        ],
    )
    if found is None:
        return None
    lst, i, n = found
    if n.children is not None:
        copy = Node(n.tag, n.number, 2, n.fd, children=list(n.children[::-1]))
    elif n.wire == 2:
        copy = Node(n.tag, n.number, 2, n.fd, payload=rng.choice(GOOD_UTF8).encode() + n.payload[:3])
    else:
        copy = Node(n.tag, n.number, n.wire, n.fd, body=random_value(rng, n.wire))
    lst.insert(rng.randrange(i + 1, len(lst) + 1), copy)
    return "repeated-singular"


def _clone(n: Node) -> Node:
    children = None if n.children is None else [_clone(c) for c in n.children]
    copy = Node(n.tag, n.number, n.wire, n.fd, body=n.body, payload=n.payload, children=children)
    copy.desc, copy.length = n.desc, n.length
    return copy


def _member(rng, fd, tree, desc) -> Node:
    """An occurrence of field ``fd``: a copy of one already in the record when there is one."""
    existing = [n for _, _, n, _ in occurrences(tree, desc) if n.fd is fd]
    if existing and rng.random() < 0.6:
        return _clone(rng.choice(existing))  # a deep copy: the original may hold the list the copy goes into
    w = wire_type(fd)
    if fd.type == TYPE_MESSAGE:
        return Node(tag(fd.number, 2), fd.number, 2, fd, children=[])
    if fd.type == TYPE_STRING:
        return Node(tag(fd.number, 2), fd.number, 2, fd, payload=rng.choice(GOOD_UTF8).encode())
    if w == 2:
        return Node(tag(fd.number, 2), fd.number, 2, fd, payload=rng.randbytes(3))
    return Node(tag(fd.number, w), fd.number, w, fd, body=random_value(rng, w))


def m_oneof(rng, tree, desc):
    """Two (or three) members of a oneof in a row, anywhere: the last one set wins."""
    spots = [(lst, d) for lst, d, _ in containers(tree, desc) if d is not None and d.oneofs]
    spots = [(lst, d, o) for lst, d in spots for o in d.oneofs if len(o.fields) > 1]
    found = _pick(rng, spots)
    if found is None:
        return None
    lst, _, oneof = found
    members = [_member(rng, rng.choice(oneof.fields), tree, desc) for _ in range(rng.choice((2, 2, 3)))]
    at = rng.randrange(len(lst) + 1)
    lst[at:at] = members
    return "oneof-rivals"


def m_unknown(rng, tree, desc):
    """Well-formed unknown fields anywhere (kept, and written back, by both backends)."""
    lst, d, _ = _pick(rng, list(containers(tree, desc)))
    for _ in range(rng.randrange(1, 4)):
        _insert(rng, lst, Node.raw(unknown_field(rng, d)))
    return "unknown-fields"


def _packable(d: Descriptor) -> list[FieldDescriptor]:
    return [f for f in d.fields if is_repeated(f) and wire_type(f) != 2 and f.type != FieldDescriptor.TYPE_GROUP]


def m_packed(rng, tree, desc):
    """A packable repeated field (e.g. Notification.phases): packed, unpacked, mixed, empty, or malformed."""
    spots = [(lst, d) for lst, d, _ in containers(tree, desc) if d is not None and _packable(d)]
    found = _pick(rng, spots)
    if found is None:
        return None
    lst, d = found
    fd = rng.choice(_packable(d))
    w = wire_type(fd)
    values = [random_value(rng, w) for _ in range(rng.randrange(0, 4))]
    choice = rng.randrange(6)
    if choice == 0:
        fields = [ld(fd.number, b"".join(values))]
        label = "packed"
    elif choice == 1:
        fields = [tag(fd.number, w) + v for v in values]
        label = "unpacked"
    elif choice == 2:
        fields = [ld(fd.number, b"".join(values[:1])), *(tag(fd.number, w) + v for v in values[1:])]
        label = "packed-and-unpacked"
    elif choice == 3:  # a packed payload ending inside a value
        payload = b"".join(values) + (b"\x80" if w == 0 else b"\x00")
        fields = [ld(fd.number, payload)]
        label = "packed-truncated"
    elif choice == 4:  # an 11-byte (or 10-byte) varint inside the packed payload
        fields = [ld(fd.number, b"".join(values) + b"\xff" * rng.choice((9, 10)) + b"\x01")]
        label = "packed-long-varint"
    else:
        fields = [ld(fd.number, b"")]
        label = "packed-empty"
    for f in fields:
        _insert(rng, lst, Node.raw(f))
    return label


def m_varint_encoding(rng, tree, desc):
    """A varint (value, length or tag) in a longer encoding: 10 bytes (valid, also with high bits in the 10th
    byte, which upb ignores), 11 bytes (invalid); a tag in 5 (valid) or 6 bytes, or over 32 bits (invalid)."""
    n = _pick(rng, [n for _, _, n, _ in occurrences(tree, desc) if n.number >= 0])
    if n is None:
        return None
    choice = rng.randrange(4)
    if choice == 0 and n.wire == 0:
        value = read_varint(n.body, 0)[0]
        size = rng.choice((10, 10, 11))
        if value.bit_length() > 63:
            size = max(size, 10)
        last = None
        if size == 10 and rng.random() < 0.5:
            last = ((value >> 63) & 1) | (rng.randrange(1, 64) << 1)
        n.body = padded_varint(value, size, last)
        return f"value-varint-{size}-bytes"
    if choice == 1 and n.wire == 2:
        length = len(serialize(n.children) if n.children is not None else n.payload)
        size = rng.choice((2, 5, 6, 10, 11))
        n.length = padded_varint(length, size)
        return f"length-varint-{size}-bytes"
    if choice == 2:
        key = n.number << 3 | n.wire
        size = rng.choice((5, 6, 10))
        n.tag = padded_varint(key, size)
        return f"tag-{size}-bytes"
    key = (n.number << 3 | n.wire) + (rng.randrange(1, 16) << 32)
    n.tag = varint(key)
    return "tag-over-32-bits"


def m_edge_value(rng, tree, desc):
    """An edge value in a varint or fixed field (out-of-range timestamps, durations, int32 from 64 bits…)."""
    items = [n for _, _, n, _ in occurrences(tree, desc) if n.wire in (0, 1, 5) and n.number >= 0]
    n = _pick(rng, items)
    if n is None:
        return None
    if n.wire == 0:
        n.body = varint(rng.choice(EDGE_VARINTS))
    else:
        n.body = rng.choice(EDGE_FIXED64 if n.wire == 1 else EDGE_FIXED32)
    return "edge-value"


def m_time_value(rng, tree, desc):
    """A Timestamp or Duration with edge seconds and nanos (read natively by the Rust backend)."""
    items = [
        n
        for _, _, n, _ in occurrences(tree, desc)
        if n.desc is not None and n.desc.full_name in ("google.protobuf.Timestamp", "google.protobuf.Duration")
    ]
    n = _pick(rng, items)
    if n is None:
        return None
    fields = []
    if rng.random() < 0.8:
        fields.append(Node(tag(1, 0), 1, 0, n.desc.fields_by_number[1], body=varint(rng.choice(EDGE_VARINTS))))
    if rng.random() < 0.6:
        fields.append(Node(tag(2, 0), 2, 0, n.desc.fields_by_number[2], body=varint(rng.choice(EDGE_VARINTS))))
    n.children = fields
    return "time-edge-value"


_LENGTH_CLAIMS = (2**31 - 1, 2**31, 2**32, 2**32 + 1, 2**63, 2**64 - 1)


def m_length_lie(rng, tree, desc):
    """A length prefix that is too long (past the end; 2**31, 2**63…) or too short."""
    items = [n for _, _, n, _ in occurrences(tree, desc) if n.wire == 2]
    n = _pick(rng, items)
    if n is None:
        return None
    length = len(serialize(n.children) if n.children is not None else n.payload)
    choice = rng.randrange(3)
    if choice == 0:
        n.length = varint(length + rng.choice((1, 2, 7, 100)))
        return "length-past-end"
    if choice == 1:
        n.length = varint(rng.choice(_LENGTH_CLAIMS))
        return "length-huge"
    if length == 0:
        return None
    n.length = varint(rng.randrange(length))
    return "length-short"


def m_field_zero(rng, tree, desc):
    lst, _, _ = _pick(rng, list(containers(tree, desc)))
    wire = rng.choice((0, 1, 2, 5))
    _insert(rng, lst, Node.raw(tag(0, wire) + random_value(rng, wire)))
    return "field-number-0"


def m_bad_wire(rng, tree, desc):
    """Wire types 6 and 7, and an end-group with no group open."""
    lst, _, _ = _pick(rng, list(containers(tree, desc)))
    wire = rng.choice((4, 6, 7))
    _insert(rng, lst, Node.raw(tag(rng.choice((1, 2, 9, 1000)), wire) + b"\x00" * rng.randrange(3)))
    return f"wire-type-{wire}"


def m_groups(rng, tree, desc):
    """Groups: balanced, unbalanced, mismatched, and nested right around the depth limit."""
    lst, d, depth = _pick(rng, list(containers(tree, desc)))
    number = rng.choice((1, 2, 7, 1000))  # also on known field numbers
    choice = rng.randrange(5)
    if choice == 0:
        raw, label = tag(number, 3) + unknown_field(rng, d) + tag(number, 4), "group-balanced"
    elif choice == 1:
        raw, label = tag(number, 3) + unknown_field(rng, d), "group-unclosed"
    elif choice == 2:
        raw, label = unknown_field(rng, d) + tag(number, 4), "group-end-alone"
    elif choice == 3:
        raw, label = tag(number, 3) + tag(number + 1, 4), "group-mismatched"
    else:  # the group depth that reaches 98..102 levels below the record
        levels = max(1, rng.randrange(98, 103) - depth)
        raw, label = nested_groups(levels, number), "group-nested-deep"
    _insert(rng, lst, Node.raw(raw))
    return label


def m_big_tag(rng, tree, desc):
    """A field whose tag is over 32 bits, or 6..10 bytes long."""
    lst, _, _ = _pick(rng, list(containers(tree, desc)))
    if rng.random() < 0.5:
        raw = varint((rng.randrange(1, 2**29) << 3) + (rng.randrange(1, 2**30) << 32)) + b"\x00"
    else:
        raw = padded_varint(rng.choice((1, 2, 4, 99)) << 3, rng.randrange(6, 11)) + b"\x00"
    _insert(rng, lst, Node.raw(raw))
    return "big-tag"


def m_truncate_inside(rng, tree, desc):
    """A sub-message or string cut short, with the enclosing lengths still right."""
    items = [n for _, _, n, _ in occurrences(tree, desc) if n.wire == 2]
    n = _pick(rng, items)
    if n is None:
        return None
    data = serialize(n.children) if n.children is not None else n.payload
    if not data:
        return None
    n.children, n.payload = None, data[: rng.randrange(len(data))]
    return "truncated-inside"


def m_shuffle(rng, tree, desc):
    """Fields in another order (valid: protobuf does not care, except for last-one-wins)."""
    lst, _, _ = _pick(rng, list(containers(tree, desc)))
    rng.shuffle(lst)
    return "reordered"


def m_drop(rng, tree, desc):
    """A field removed (valid)."""
    found = _pick(rng, [(lst, i) for lst, i, _, _ in occurrences(tree, desc)])
    if found is None:
        return None
    lst, i = found
    del lst[i]
    return "dropped-field"


TREE_MUTATIONS: tuple[Callable, ...] = (
    m_invalid_utf8,
    m_valid_utf8,
    m_wrong_wire,
    m_split,
    m_repeat,
    m_oneof,
    m_unknown,
    m_packed,
    m_varint_encoding,
    m_edge_value,
    m_time_value,
    m_length_lie,
    m_field_zero,
    m_bad_wire,
    m_groups,
    m_big_tag,
    m_truncate_inside,
    m_shuffle,
    m_drop,
)

# -- byte mutations --------------------------------------------------------------------------------------------


def structural_cuts(data: bytes, desc: Descriptor | None) -> list[int]:
    """Cut points inside tags, lengths, string payloads and nested messages of a valid message."""
    cuts: list[int] = []

    def walk(nodes: list[Node], base: int) -> None:
        pos = base
        for n in nodes:
            start = pos
            pos += len(n.tag)
            if len(n.tag) > 1:
                cuts.append(start + 1)  # inside a multi-byte tag
            if n.wire == 2:
                payload = serialize(n.children) if n.children is not None else n.payload
                prefix = n.length if n.length is not None else varint(len(payload))
                cuts.append(pos)  # right after the tag, before the length
                if len(prefix) > 1:
                    cuts.append(pos + 1)  # inside the length
                pos += len(prefix)
                if payload:
                    cuts.append(pos + len(payload) // 2)  # inside the string or sub-message
                if n.children is not None:
                    walk(n.children, pos)
                pos += len(payload)
            else:
                if len(n.body) > 1:
                    cuts.append(pos + 1)  # inside a varint or a fixed value
                pos += len(n.body)

    try:
        walk(parse(desc, data), 0)
    except ValueError:  # not a valid message (a damaged stream): no structure to cut at
        return []
    return [c for c in cuts if 0 < c < len(data)]


def byte_mutation(rng: random.Random, data: bytes, desc: Descriptor | None, other: list[bytes]) -> tuple[bytes, str]:
    """One damage to the bytes of a valid message: ``(new bytes, label)``."""
    choice = rng.randrange(8)
    if choice == 0 and data:
        return data[: rng.randrange(len(data))], "truncated"
    if choice == 1:
        cuts = structural_cuts(data, desc)
        if cuts:
            return data[: rng.choice(cuts)], "truncated-structural"
    if choice == 2 and data:
        out = bytearray(data)
        for _ in range(rng.randrange(1, 4)):
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        return bytes(out), "bit-flips"
    if choice == 3:
        at = rng.randrange(len(data) + 1)
        return data[:at] + rng.randbytes(rng.randrange(1, 4)) + data[at:], "inserted-bytes"
    if choice == 4 and data:
        at = rng.randrange(len(data))
        return data[:at] + data[at + rng.randrange(1, 4) :], "deleted-bytes"
    if choice == 5:
        return rng.randbytes(rng.randrange(0, 48)), "random-bytes"
    if choice == 6 and other:
        return rng.choice(other), "other-kind"
    return data + rng.choice((b"", b"\x00", b"\x08", b"\x0a", b"\x0a\x05ab")), "trailing-bytes"


# -- upb's view of a *List response ----------------------------------------------------------------------------


class TopLevel:
    """A ``*List`` response's top-level fields as upb reads them, and the first break upb would meet there."""

    def __init__(self):
        self.fields: list[tuple[int, int, int, int, int]] = []  # (number, wire, tag offset, start, end)
        self.problem: tuple[str, int] | None = None  # (kind, tag offset of the broken field)


def upb_tag(buf: bytes, pos: int) -> tuple[int, int, int]:
    """``(number, wire, position after)`` of a tag read with upb's rules (``ValueError('long-tag')`` for a tag
    of more than 5 bytes or over 32 bits; ``ValueError('corrupt')`` for the rest)."""
    try:
        key, after = read_varint(buf, pos)
    except ValueError:
        raise ValueError("corrupt") from None
    if after - pos > 5 or key > 0xFFFFFFFF:
        raise ValueError("long-tag")
    if key >> 3 == 0:
        raise ValueError("corrupt")
    return key >> 3, key & 7, after


def _upb_skip(buf: bytes, pos: int, number: int, wire: int, depth: int) -> int:
    if wire == 0:
        try:
            return read_varint(buf, pos)[1]
        except ValueError:
            raise ValueError("corrupt") from None
    if wire in (1, 5):
        end = pos + (8 if wire == 1 else 4)
    elif wire == 2:
        try:
            length, start = read_varint(buf, pos)
        except ValueError:
            raise ValueError("corrupt") from None
        end = start + length
    elif wire == 3:
        if depth >= 100:
            raise ValueError("too-deep")
        while True:
            if pos >= len(buf):
                raise ValueError("corrupt")
            inner, inner_wire, after = upb_tag(buf, pos)
            if inner_wire == 4:
                if inner != number:
                    raise ValueError("corrupt")
                return after
            pos = _upb_skip(buf, after, inner, inner_wire, depth + 1)
    else:
        raise ValueError("corrupt")
    if end > len(buf):
        raise ValueError("corrupt")
    return end


def upb_top_level(buf: bytes) -> TopLevel:
    """Walk the top level of a message (groups skipped whole) as upb reads it."""
    out = TopLevel()
    pos = 0
    while pos < len(buf):
        offset = pos
        try:
            number, wire, after = upb_tag(buf, pos)
            end = _upb_skip(buf, after, number, wire, 0)
        except ValueError as e:
            out.problem = (str(e), offset)
            return out
        start = read_varint(buf, after)[1] if wire == 2 else after
        out.fields.append((number, wire, offset, start, end))
        pos = end
    return out
