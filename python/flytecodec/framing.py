"""Splitting input into messages: the ``list``, ``delimited``, ``message`` and sequence framings.

The python backend lets upb parse whole ``*List`` responses; these helpers walk the wire format themselves
for the delimited stream and to say exactly where a bad input goes wrong. The walk follows upb's rules and
gives the same reasons, word for word, as the native backend's (``rust/wire.rs``).
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator, Mapping
from typing import Union

from flytecodec.exceptions import DecodeError

BytesLike = Union[bytes, bytearray, memoryview, mmap.mmap]

FRAMINGS = ("list", "delimited", "message")
"""The framings of one bytes input (or file): a ``*List`` response, varint length-prefixed messages, one message.
A sequence of bytes-like objects is framed one message (or with ``"list"`` one page) per item."""


def read_varint(buf: memoryview, pos: int, limit: int = 10) -> tuple[int, int]:
    """The varint at ``pos`` (at most ``limit`` bytes) and the position after it; ``ValueError`` if it is
    truncated or longer. Bits past 64 are dropped, as upb drops them."""
    result = shift = 0
    end = len(buf)
    for i in range(pos, min(pos + limit, end)):
        byte = buf[i]
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & 0xFFFF_FFFF_FFFF_FFFF, i + 1
        shift += 7
    if end - pos >= limit:
        raise ValueError(f"varint is longer than {limit} bytes")
    raise ValueError("truncated varint")


def read_tag(buf: memoryview, pos: int, *, in_group: bool = False) -> tuple[int, int, int]:
    """``(field number, wire type, position after)`` of the tag at ``pos``, by upb's rules: at most 5 bytes,
    32 bits, and a field number above 0 (except ``in_group``: upb skips a group's contents without looking at
    their field numbers)."""
    key, after = read_varint(buf, pos, 5)
    if key > 0xFFFF_FFFF:
        raise ValueError("tag is over 32 bits")
    if key >> 3 == 0 and not in_group:
        raise ValueError("field number 0")
    return key >> 3, key & 7, after


MAX_LENGTH = 2**31 - 2  # upb refuses a length of INT32_MAX or more


def read_length(buf: memoryview, pos: int) -> tuple[int, int]:
    """The length prefix of a length-delimited field inside a message: upb reads at most 5 bytes, and refuses
    a length of 2^31 - 1 or more."""
    length, after = read_varint(buf, pos, 5)
    if length > MAX_LENGTH:
        raise ValueError("length is 2^31 - 1 bytes or more")
    return length, after


GZIP_MAGIC = b"\x1f\x8b\x08"  # gzip, deflate-compressed (the only method gzip writes)
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
RUNS_PAST_THE_END = (
    "length runs past the end of the input",
    "field runs past the end of the input",
    "truncated varint",
    "group is not closed",
)


def as_bytes(data, *, what: str = "input") -> bytes:
    """The bytes of a bytes-like object, path or binary file (mutable buffers are copied). A file (path or binary
    file) that starts with gzip's or zstd's magic bytes is decompressed; bytes-like objects are taken as they are.
    An mmap whose file was truncated after it was mapped is refused (reading it would crash with SIGBUS)."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, mmap.mmap):
        check_mmap(data)
        return bytes(data)
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, (str, os.PathLike)):
        with open(data, "rb") as f:
            return decompressed(f.read(), os.fspath(data))
    read = getattr(data, "read", None)
    if read is not None:
        chunk = read()
        if not isinstance(chunk, (bytes, bytearray)):
            raise TypeError(f"{what}: the file must be opened in binary mode")
        return decompressed(bytes(chunk), getattr(data, "name", "<stream>"))
    raise TypeError(
        f"{what}: expected bytes, bytearray, memoryview, mmap, a path or a binary file, got {type(data).__name__}"
    )


def is_in_memory(data) -> bool:
    """Whether ``data`` is bytes-like (not a path or a file)."""
    return isinstance(data, (bytes, bytearray, memoryview, mmap.mmap))


def decompressed(data: bytes, name: str) -> bytes:
    """``data`` of the file ``name``, decompressed if it starts with gzip's or zstd's magic bytes."""
    if data.startswith(GZIP_MAGIC):
        import gzip

        return gzip.decompress(data)
    if data.startswith(ZSTD_MAGIC):
        import io

        reader = zstd_reader(name, io.BytesIO(data))
        return reader.read()
    return data


def zstd_reader(name: str, stream):
    """A stream of the decompressed bytes of the zstd stream ``stream`` (of the file ``name``)."""
    try:
        import zstandard
    except ImportError:
        raise DecodeError(
            f"{name}: this file is zstd-compressed; install the zstandard package (pip install 'flytecodec[zstd]') "
            "to read it, or decompress it first (zstd -d)"
        ) from None
    return zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True)


def looks_like_json(data) -> bool:
    """Whether ``data`` starts like a JSON object or array (after blanks), in text."""
    head = bytes(data[:256]).lstrip(b" \t\r\n\xef\xbb\xbf")
    if head[:1] not in (b"{", b"["):
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start >= len(head) - 3  # a character cut by the 256-byte window
    return True


def check_mmap(data: mmap.mmap) -> None:
    """Refuse an mmap whose file is now shorter than the map: reading the pages past the file's end would kill
    the process with SIGBUS (CPython's own copy of the map would too). The check cannot see a file truncated
    while it is being read, nor one that still covers a map made with an ``offset`` but not its end: do not
    truncate a file while it is mapped."""
    try:
        size = data.size()
    except OSError:
        return  # an anonymous map: no file to shrink
    if size < len(data):
        raise DecodeError(
            f"the file under this mmap is {size} bytes, shorter than the {len(data)} mapped: it was truncated after "
            "it was mapped (reading past its end would crash the process with SIGBUS); map it again"
        )


def is_bytes_input(data) -> bool:
    """Whether ``data`` is one input to frame: bytes-like, a path, or a binary file."""
    return isinstance(data, (bytes, bytearray, memoryview, mmap.mmap, str, os.PathLike)) or hasattr(data, "read")


def is_sequence_input(data) -> bool:
    """Whether ``data`` is a sequence of messages (a list, tuple, or another non-bytes, non-mapping sequence)."""
    if is_bytes_input(data) or isinstance(data, Mapping):
        return False
    return hasattr(data, "__len__") and hasattr(data, "__getitem__")


def sequence_items(data, model: str, on_null: str = "error", what: str = "item") -> list[bytes]:
    """Each item of a sequence input as bytes; a non-bytes item is a DecodeError naming its index. A ``None``
    item (a NULL row) is an error (``on_null="error"``), left out (``"skip"``) or an empty message (``"empty"``)."""
    items = []
    for i, item in enumerate(data):
        if isinstance(item, bytes):
            items.append(item)
        elif isinstance(item, (bytearray, memoryview)):
            items.append(bytes(item))
        elif isinstance(item, mmap.mmap):
            check_mmap(item)
            items.append(bytes(item))
        elif item is None and on_null == "skip":
            continue
        elif item is None and on_null == "empty":
            items.append(b"")
        elif item is None:
            raise DecodeError(
                f"{what} {i} is None (a NULL row?): pass on_null='skip' to leave such {what}s out, or "
                "on_null='empty' to read them as messages with no field set",
                index=i,
                model=model,
            )
        else:
            raise DecodeError(f"{what} is {type(item).__name__}, not a bytes-like object", index=i, model=model)
    return items


def whole_fields(data: bytes, framing: str, limit: int, most: int = 1000) -> bytes:
    """The start of ``data``, at most ``limit`` bytes and ``most`` records or fields, that ends where a record
    (``delimited``) or a top-level field (``list``) ends; all of ``data`` for ``message`` if it is that short,
    else nothing. Stops at the first break in the framing."""
    if len(data) <= limit:
        return data
    if framing == "message":
        return b""
    view, pos = memoryview(data), 0
    try:
        if framing == "delimited":
            for _ in range(most):
                length, start = read_varint(view, pos)
                if start + length > limit:
                    break
                pos = start + length
        else:
            for count, (_, _, _, _, end) in enumerate(top_level_fields(data[: limit + 16])):
                if end > limit or count == most:
                    break
                pos = end
    except ValueError:
        pass
    return data[:pos]


def split_delimited(buf: bytes, model: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each message of a varint-length-delimited stream."""
    view = memoryview(buf)
    spans = []
    pos, end = 0, len(buf)
    while pos < end:
        try:
            length, start = read_varint(view, pos)
        except ValueError as e:
            raise DecodeError(f"bad length prefix: {e}", index=len(spans), offset=pos, model=model) from None
        if length > end - start:
            raise DecodeError(
                f"length prefix claims {length} bytes but {end - start} remain",
                index=len(spans),
                offset=pos,
                model=model,
            )
        spans.append((start, start + length))
        pos = start + length
    return spans


def _skip_value(view: memoryview, pos: int, end: int, number: int, wire: int, depth: int = 0) -> int:
    """The position after the value of field ``number`` (wire type ``wire``) starting at ``pos``."""
    if wire == 0:
        return read_varint(view, pos)[1]
    if wire == 1:
        pos += 8
    elif wire == 5:
        pos += 4
    elif wire == 2:
        length, pos = read_length(view, pos)
        if length > end - pos:
            raise ValueError("length runs past the end of the input")
        pos += length
    elif wire == 3:  # a group: fields until the matching end-group tag
        if depth >= 100:
            raise ValueError("nesting exceeds the maximum depth")
        while True:
            if pos >= end:
                raise ValueError("group is not closed")
            inner, inner_wire, pos = read_tag(view, pos, in_group=True)
            if inner_wire == 4:
                if inner != number:
                    raise ValueError("end-group tag does not match its group")
                return pos
            pos = _skip_value(view, pos, end, inner, inner_wire, depth + 1)
    else:
        raise ValueError(f"unexpected wire type {wire}")
    if pos > end:
        raise ValueError("field runs past the end of the input")
    return pos


def top_level_fields(buf: bytes) -> Iterator[tuple[int, int, int, int, int]]:
    """``(field number, wire type, tag offset, value start, value end)`` of each top-level field of a message.

    For a length-delimited field the value span excludes the length prefix. A break in the wire format is a
    ``ValueError`` whose ``args[1]`` is the offset of the field that broke.
    """
    view = memoryview(buf)
    pos, end = 0, len(buf)
    while pos < end:
        offset = pos
        try:
            number, wire, pos = read_tag(view, pos)
            if wire == 2:
                length, start = read_length(view, pos)
                if length > end - start:
                    raise ValueError("length runs past the end of the input")
                pos = start + length
            else:
                start = pos
                pos = _skip_value(view, pos, end, number, wire)
        except ValueError as e:
            raise ValueError(str(e), offset) from None
        yield number, wire, offset, start, pos


# -- why upb refuses a record --------------------------------------------------------------------------------

CORRUPT = "wire format is corrupt"
BAD_UTF8 = "string field has invalid UTF-8"
TOO_DEEP = "nesting exceeds the maximum depth"
MAX_DEPTH = 100  # how deep sub-messages and groups may nest below the message decoded (upb's default)

_VARINT_KINDS = {"int32", "int64", "uint32", "uint64", "sint32", "sint64", "bool", "enum"}
_FIXED64_KINDS = {"fixed64", "sfixed64", "double"}
_FIXED32_KINDS = {"fixed32", "sfixed32", "float"}
_checks_of: dict = {}


def _checks(descriptor) -> dict:
    """What a length-delimited field of ``descriptor`` must hold, by field number: ``("utf8",)``,
    ``("message", descriptor)`` or ``("packed", wire type)``; other fields are not looked into."""
    found = _checks_of.get(descriptor)
    if found is None:
        from google.protobuf.descriptor import FieldDescriptor

        kinds = {
            value: name[len("TYPE_") :].lower()
            for name, value in vars(FieldDescriptor).items()
            if name.startswith("TYPE_")
        }
        found = {}
        for field in descriptor.fields:
            kind = kinds[field.type]
            if kind == "string":
                found[field.number] = ("utf8",)
            elif kind == "message":
                found[field.number] = ("message", field.message_type)
            elif field.is_repeated and kind in _VARINT_KINDS:
                found[field.number] = ("packed", 0)
            elif field.is_repeated and kind in _FIXED64_KINDS:
                found[field.number] = ("packed", 1)
            elif field.is_repeated and kind in _FIXED32_KINDS:
                found[field.number] = ("packed", 5)
        _checks_of[descriptor] = found
    return found


def record_reason(descriptor, data: bytes) -> str:
    """Why upb refuses ``data`` as a message of ``descriptor``, in the words the native backend uses: the first
    problem in wire order, depth first — invalid UTF-8 in a string field, nesting past the depth limit, or (for
    anything else) a corrupt wire format. Only called on the error path."""
    return _record_problem(descriptor, memoryview(bytes(data)), 0) or CORRUPT


def _record_problem(descriptor, view: memoryview, depth: int) -> str | None:
    checks = _checks(descriptor)
    pos, end = 0, len(view)
    try:
        while pos < end:
            number, wire, pos = read_tag(view, pos)
            if wire == 0:
                pos = read_varint(view, pos)[1]
            elif wire == 2:
                length, start = read_length(view, pos)
                if length > end - start:
                    return CORRUPT
                pos = start + length
                check = checks.get(number)
                if check is None:
                    continue
                payload = view[start:pos]
                if check[0] == "utf8":
                    try:
                        str(payload, "utf-8")
                    except UnicodeDecodeError:
                        return BAD_UTF8
                elif check[0] == "message":
                    if depth >= MAX_DEPTH:
                        return TOO_DEEP
                    inner = _record_problem(check[1], payload, depth + 1)
                    if inner:
                        return inner
                elif not _packed_ok(check[1], payload):
                    return CORRUPT
            elif wire in (1, 5):
                pos += 8 if wire == 1 else 4
                if pos > end:
                    return CORRUPT
            elif wire == 3:
                try:
                    pos = _skip_value(view, pos, end, number, 3, depth)
                except ValueError as e:
                    return TOO_DEEP if str(e) == TOO_DEEP else CORRUPT
            else:
                return CORRUPT
    except ValueError:
        return CORRUPT
    return None


def _packed_ok(wire: int, payload: memoryview) -> bool:
    if wire == 1:
        return len(payload) % 8 == 0
    if wire == 5:
        return len(payload) % 4 == 0
    pos = 0
    while pos < len(payload):
        try:
            pos = read_varint(payload, pos)[1]
        except ValueError:
            return False
    return True
