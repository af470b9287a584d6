"""Splitting input into messages: the ``list``, ``delimited``, ``message`` and sequence framings.

The python backend lets upb parse whole ``*List`` responses; these helpers walk the wire format themselves
for the delimited stream and to say exactly where a bad input goes wrong.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator, Mapping
from typing import Union

from flytecodec.exceptions import DecodeError

BytesLike = Union[bytes, bytearray, memoryview, mmap.mmap]


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


def read_tag(buf: memoryview, pos: int) -> tuple[int, int, int]:
    """``(field number, wire type, position after)`` of the tag at ``pos``, by upb's rules: at most 5 bytes,
    32 bits, and a field number above 0."""
    key, after = read_varint(buf, pos, 5)
    if key > 0xFFFF_FFFF:
        raise ValueError("tag is over 32 bits")
    if key >> 3 == 0:
        raise ValueError("field number 0")
    return key >> 3, key & 7, after


def read_length(buf: memoryview, pos: int) -> tuple[int, int]:
    """The length prefix of a length-delimited field inside a message: upb reads at most 5 bytes."""
    return read_varint(buf, pos, 5)


def as_bytes(data, *, what: str = "input") -> bytes:
    """The bytes of a bytes-like object, path or binary file (mutable buffers are copied)."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview, mmap.mmap)):
        return bytes(data)
    if isinstance(data, (str, os.PathLike)):
        with open(data, "rb") as f:
            return f.read()
    read = getattr(data, "read", None)
    if read is not None:
        chunk = read()
        if not isinstance(chunk, (bytes, bytearray)):
            raise TypeError(f"{what}: the file must be opened in binary mode")
        return bytes(chunk)
    raise TypeError(
        f"{what}: expected bytes, bytearray, memoryview, mmap, a path or a binary file, got {type(data).__name__}"
    )


def is_bytes_input(data) -> bool:
    """Whether ``data`` is one input to frame: bytes-like, a path, or a binary file."""
    return isinstance(data, (bytes, bytearray, memoryview, mmap.mmap, str, os.PathLike)) or hasattr(data, "read")


def is_sequence_input(data) -> bool:
    """Whether ``data`` is a sequence of messages (a list, tuple, or another non-bytes, non-mapping sequence)."""
    if is_bytes_input(data) or isinstance(data, Mapping):
        return False
    return hasattr(data, "__len__") and hasattr(data, "__getitem__")


def sequence_items(data, model: str) -> list[bytes]:
    """Each item of a sequence input as bytes; a non-bytes item is a DecodeError naming its index."""
    items = []
    for i, item in enumerate(data):
        if isinstance(item, bytes):
            items.append(item)
        elif isinstance(item, (bytearray, memoryview, mmap.mmap)):
            items.append(bytes(item))
        else:
            raise DecodeError(f"item is {type(item).__name__}, not a bytes-like object", index=i, model=model)
    return items


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
            raise ValueError(f"length {length} runs past the end of the input")
        pos += length
    elif wire == 3:  # a group: fields until the matching end-group tag
        if depth >= 100:
            raise ValueError("groups nested too deeply")
        while True:
            if pos >= end:
                raise ValueError("group is not closed")
            inner, inner_wire, pos = read_tag(view, pos)
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
                    raise ValueError(f"length {length} runs past the end of the input")
                pos = start + length
            else:
                start = pos
                pos = _skip_value(view, pos, end, number, wire)
        except ValueError as e:
            raise ValueError(str(e), offset) from None
        yield number, wire, offset, start, pos
