"""flyteadmin's row → API message rules (``pkg/repositories/transformers`` at flyteadmin v1.16.8), applied by
writing protobuf fields rather than parsing and re-serializing.

A message is its parts written one after the other as length-delimited fields: the id built from the key
columns, the stored bytes (``spec``, ``closure``, ``node_execution_metadata``) unchanged, and, where flyteadmin
changes a stored message, a few more bytes appended to it. Protobuf parsers merge a repeated occurrence of a
message field into the first and let the last value of a scalar or oneof member win, so appending
``closure { state_change_details {...} }`` after the stored closure gives what flyteadmin's parse-change-marshal
gives. The stored bytes are only scanned (top-level tags) to see which rule applies.
"""

from __future__ import annotations

import datetime

from flytecodec.framing import top_level_fields

TRIMMED_ERROR_LENGTH = 100  # flyteadmin's trimmedErrMessageLen
RESOURCE_TYPE_TASK = 1  # flyteidl.core.ResourceType.TASK
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

# field numbers (flyteidl 1.16.8)
EXECUTION_CLOSURE_ONEOF = (1, 2, 10, 12, 13)  # outputs, error, abort_cause, abort_metadata, output_data
NODE_CLOSURE_ONEOF = (1, 2, 10)  # output_uri, error, output_data
TASK_CLOSURE_ONEOF = (1, 2, 12)  # output_uri, error, output_data
CLOSURE_ERROR = 2
ERROR_MESSAGE = 2  # flyteidl.core.ExecutionError.message
EXECUTION_STATE_CHANGE_DETAILS = 14
EXECUTION_ABORT_METADATA = 12


class Malformed(ValueError):
    """Stored bytes whose wire format is broken (args: reason, byte offset)."""


def varint(value: int) -> bytes:
    if 0 <= value < 16384:
        return _SMALL[value]
    return _varint(value)


def _varint(value: int) -> bytes:
    if 1 << 28 <= value < 1 << 35:  # five bytes: a Timestamp's seconds from 1978 to 3058
        return bytes((value & 0x7F | 0x80, value >> 7 & 0x7F | 0x80, value >> 14 & 0x7F | 0x80,
                      value >> 21 & 0x7F | 0x80, value >> 28))  # fmt: skip
    value &= 0xFFFFFFFFFFFFFFFF  # negative int64 values take ten bytes, as protobuf writes them
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_SMALL = [_varint(value) for value in range(16384)]
_TAG0 = [_varint(number << 3) for number in range(32)]  # the tag of varint field `number`
_TAG2 = [_varint(number << 3 | 2) for number in range(32)]  # the tag of length-delimited field `number`


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (a message, bytes or a string)."""
    size = len(payload)
    return _TAG2[number] + (_SMALL[size] if size < 16384 else _varint(size)) + payload


def string(number: int, text: str) -> bytes:
    """A proto3 string field: nothing when empty, as protobuf writes it."""
    if not text:
        return b""
    data = text.encode()
    size = len(data)
    return _TAG2[number] + (_SMALL[size] if size < 16384 else _varint(size)) + data


def uint(number: int, value: int) -> bytes:
    """A proto3 integer/bool/enum field: nothing when zero."""
    return _TAG0[number] + varint(value) if value else b""


def timestamp(micros: int) -> bytes:
    """A google.protobuf.Timestamp (seconds = 1, nanos = 2) for microseconds since the Unix epoch (PostgreSQL
    keeps microseconds)."""
    seconds, micros = divmod(micros, 1_000_000)
    return uint(1, seconds) + uint(2, micros * 1000)


def _fields(buf: bytes) -> list[tuple[int, int, int, int]]:
    """``(number, wire, value start, value end)`` of each top-level field (a length-delimited value's span
    excludes its length prefix). A fast path for the common wire types; groups and anything broken go through
    :func:`flytecodec.framing.top_level_fields`, which says what and where."""
    out = []
    pos, end = 0, len(buf)
    while pos < end:
        tag = buf[pos]
        pos += 1
        if tag & 0x80:  # a tag of several bytes
            shift, tag = 7, tag & 0x7F
            while True:
                if pos >= end or shift > 28:
                    return _slow_fields(buf)
                byte = buf[pos]
                pos += 1
                tag |= (byte & 0x7F) << shift
                if not byte & 0x80:
                    break
                shift += 7
        number, wire = tag >> 3, tag & 7
        if number == 0:
            return _slow_fields(buf)
        start = pos
        if wire == 2 or wire == 0:
            value, shift = 0, 0
            while True:
                if pos >= end or shift > 63:
                    return _slow_fields(buf)
                byte = buf[pos]
                pos += 1
                value |= (byte & 0x7F) << shift
                if not byte & 0x80:
                    break
                shift += 7
            if wire == 2:
                start = pos
                pos += value
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            return _slow_fields(buf)
        if pos > end:
            return _slow_fields(buf)
        out.append((number, wire, start, pos))
    return out


def _slow_fields(buf: bytes) -> list[tuple[int, int, int, int]]:
    try:
        return [(number, wire, start, end) for number, wire, _, start, end in top_level_fields(buf)]
    except ValueError as error:
        raise Malformed(*error.args) from None


def scan(buf: bytes, oneof: tuple[int, ...] = ()) -> tuple[set[int], int, list[tuple[int, int]]]:
    """The length-delimited top-level field numbers present, the oneof member set last (0 for none), and the
    spans of the ``error`` occurrences that make up the set error (those after the last other oneof member).

    Walks the fields itself while they have one-byte tags, varint values or lengths of at most two bytes (what
    closures are made of); anything else is left to :func:`_scan`, the same over :func:`_fields`."""
    present: set[int] = set()
    last = 0
    errors: list[tuple[int, int]] = []
    pos, end = 0, len(buf)
    while pos < end:
        tag = buf[pos]
        if tag < 8 or tag >= 0x80 or pos + 1 >= end:
            return _scan(buf, oneof)
        wire = tag & 7
        if wire == 0:  # a varint (an enum or a bool): at most ten bytes
            pos += 1
            stop = min(end, pos + 10)
            while pos < stop and buf[pos] & 0x80:
                pos += 1
            if pos == stop:
                return _scan(buf, oneof)
            pos += 1
            continue
        if wire != 2:
            return _scan(buf, oneof)
        byte = buf[pos + 1]
        start = pos + 2
        if byte & 0x80:
            if start >= end or buf[start] & 0x80:
                return _scan(buf, oneof)
            byte = byte & 0x7F | buf[start] << 7
            start += 1
        pos = start + byte
        if pos > end:
            return _scan(buf, oneof)
        number = tag >> 3
        present.add(number)
        if number in oneof:
            if number != last:
                errors = []  # setting another member of a oneof clears the error set before it
            last = number
            if number == CLOSURE_ERROR:
                errors.append((start, pos))
    return present, last, errors


def _scan(buf: bytes, oneof: tuple[int, ...]) -> tuple[set[int], int, list[tuple[int, int]]]:
    present: set[int] = set()
    last = 0
    errors: list[tuple[int, int]] = []
    for number, wire, start, end in _fields(buf):
        if wire != 2:  # a known message field with another wire type is an unknown field to protobuf
            continue
        present.add(number)
        if number in oneof:
            if number != last:
                errors = []
            last = number
            if number == CLOSURE_ERROR:
                errors.append((start, end))
    return present, last, errors


def submessages(parts: list[bytes], number: int) -> list[bytes]:
    """The occurrences of length-delimited field ``number`` in ``parts`` (occurrences of one message, merged in
    order), in order: together they make up that field's message."""
    return [part[a:b] for part in parts for n, wire, a, b in _fields(part) if n == number and wire == 2]


def last_bytes(parts: list[bytes], number: int) -> bytes:
    """The value of string/bytes field ``number`` of the message made of ``parts``: its last occurrence."""
    found = submessages(parts, number)
    return found[-1] if found else b""


def last_varint_true(buf: bytes, number: int) -> bool:
    """Whether the last varint ``number`` field of ``buf`` (a bool) is set."""
    from flytecodec.framing import read_varint

    value = 0
    view = memoryview(buf)
    for n, wire, start, _ in _fields(buf):
        if n == number and wire == 0:
            value = read_varint(view, start)[0]
    return value != 0


def trimmed(message: bytes) -> bytes:
    """flyteadmin's TrimErrorMessage: the first 100 bytes, without a UTF-8 character they split."""
    if len(message) <= TRIMMED_ERROR_LENGTH:
        return message
    return message[:TRIMMED_ERROR_LENGTH].decode("utf-8", "ignore").encode()


def closure_patch(closure: bytes, oneof: tuple[int, ...], trim: bool) -> tuple[bytes, set[int], int]:
    """What to append to a closure for the error trimming of list calls, with the scan's findings."""
    present, last, errors = scan(closure, oneof)
    patch = b""
    if trim and last == CLOSURE_ERROR:
        message = last_bytes([closure[a:b] for a, b in errors], ERROR_MESSAGE)
        if len(message) > TRIMMED_ERROR_LENGTH:
            patch = field(CLOSURE_ERROR, field(ERROR_MESSAGE, trimmed(message)))
    return patch, present, last


def workflow_execution_id(project: str, domain: str, name: str) -> bytes:
    return string(1, project) + string(2, domain) + string(4, name)


def execution(
    project: str,
    domain: str,
    name: str,
    spec: bytes,
    closure: bytes,
    phase: str,
    abort_cause: str,
    user: str,
    created_at: int,
    *,
    trim: bool,
    namespace: str,
) -> bytes:
    """``flyteidl.admin.Execution`` as FromExecutionModel builds it from an ``executions`` row."""
    if namespace and not last_bytes(submessages(submessages([spec], 3), 17), 2):
        spec += field(3, field(17, string(2, namespace)))  # metadata.system_metadata.namespace
    patch, present, last = closure_patch(closure, EXECUTION_CLOSURE_ONEOF, trim)
    if EXECUTION_STATE_CHANGE_DETAILS not in present:  # state ACTIVE (0), occurred_at, principal
        patch += field(EXECUTION_STATE_CHANGE_DETAILS, field(2, timestamp(created_at)) + string(3, user))
    if phase == "ABORTED" and last != EXECUTION_ABORT_METADATA:
        patch += field(EXECUTION_ABORT_METADATA, string(1, abort_cause))
    return field(1, workflow_execution_id(project, domain, name)) + field(2, spec) + field(3, closure + patch)


def node_execution_id(project: str, domain: str, name: str, node_id: str) -> bytes:
    return string(1, node_id) + field(2, workflow_execution_id(project, domain, name))


def node_execution(
    project: str,
    domain: str,
    name: str,
    node_id: str,
    input_uri: str,
    closure: bytes,
    metadata: bytes,
    has_children: bool,
    dynamic_reference: str,
    *,
    trim: bool,
) -> bytes:
    """``flyteidl.admin.NodeExecution`` as FromNodeExecutionModel builds it from a ``node_executions`` row."""
    patch = closure_patch(closure, NODE_CLOSURE_ONEOF, trim)[0]
    if has_children and not (last_varint_true(metadata, 2) or last_varint_true(metadata, 4)):
        metadata += uint(2, 1) + (uint(4, 1) if dynamic_reference else b"")  # is_parent_node, is_dynamic
    return (
        field(1, node_execution_id(project, domain, name, node_id))
        + string(2, input_uri)
        + field(3, closure + patch)
        + field(4, metadata)
    )


def task_execution(
    task: tuple[str, str, str, str],
    execution_key: tuple[str, str, str],
    node_id: str,
    retry_attempt: int,
    input_uri: str,
    closure: bytes,
    has_children: bool,
    *,
    trim: bool,
) -> bytes:
    """``flyteidl.admin.TaskExecution`` as FromTaskExecutionModel builds it from a ``task_executions`` row."""
    project, domain, name, version = task
    task_id = uint(1, RESOURCE_TYPE_TASK) + string(2, project) + string(3, domain) + string(4, name)
    task_id += string(5, version)
    ident = field(1, task_id) + field(2, node_execution_id(*execution_key, node_id)) + uint(3, retry_attempt)
    patch = closure_patch(closure, TASK_CLOSURE_ONEOF, trim)[0]
    return field(1, ident) + string(2, input_uri) + field(3, closure + patch) + uint(4, 1 if has_children else 0)
