"""Splitting input into messages: the ``list``, ``delimited``, ``message`` and sequence framings.

The python backend lets upb parse whole ``*List`` responses; these helpers walk the wire format themselves
for the delimited stream and to say exactly where a bad input goes wrong.
"""

from __future__ import annotations

import mmap
import os
from typing import Iterator, List, Tuple, Union

from flytecodec.exceptions import DecodeError

FRAMINGS = ("list", "delimited", "message", "sequence")
BytesLike = Union[bytes, bytearray, memoryview, mmap.mmap]


def read_varint(buf: memoryview, pos: int) -> Tuple[int, int]:
    """The varint at ``pos`` and the position after it; ``ValueError`` if truncated or longer than 10 bytes."""
    result = shift = 0
    end = len(buf)
    for i in range(pos, min(pos + 10, end)):
        byte = buf[i]
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            if i == pos + 9 and byte > 1:
                raise ValueError("varint overflows 64 bits")
            return result, i + 1
        shift += 7
    if end - pos >= 10:
        raise ValueError("varint is longer than 10 bytes")
    raise ValueError("truncated varint")


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


def is_sequence_input(data) -> bool:
    """Whether ``data`` is a sequence of messages (a list, tuple, or another non-bytes sequence)."""
    if isinstance(data, (bytes, bytearray, memoryview, mmap.mmap, str, os.PathLike)) or hasattr(data, "read"):
        return False
    return hasattr(data, "__len__") and hasattr(data, "__getitem__")


def sequence_items(data) -> List[bytes]:
    """Each item of a sequence input as bytes; a non-bytes item is a DecodeError naming its index."""
    items = []
    for i, item in enumerate(data):
        if isinstance(item, bytes):
            items.append(item)
        elif isinstance(item, (bytearray, memoryview, mmap.mmap)):
            items.append(bytes(item))
        else:
            raise DecodeError(f"item is {type(item).__name__}, not a bytes-like object", index=i, offset=0)
    return items


def split_delimited(buf: bytes) -> List[Tuple[int, int]]:
    """``(start, end)`` of each message of a varint-length-delimited stream."""
    view = memoryview(buf)
    spans = []
    pos, end = 0, len(buf)
    while pos < end:
        try:
            length, start = read_varint(view, pos)
        except ValueError as e:
            raise DecodeError(f"bad length prefix: {e}", index=len(spans), offset=pos) from None
        if length > end - start:
            raise DecodeError(
                f"length prefix claims {length} bytes but {end - start} remain", index=len(spans), offset=pos
            )
        spans.append((start, start + length))
        pos = start + length
    return spans


def list_records(buf: bytes, field_number: int) -> Iterator[Tuple[int, int, int]]:
    """``(offset, start, end)`` of each record of a ``*List`` message (field ``field_number``).

    ``offset`` is where the record's tag starts. Other fields are skipped; a break in the wire format is a
    DecodeError naming the number of records before it.
    """
    view = memoryview(buf)
    pos, end, index = 0, len(buf), 0
    while pos < end:
        offset = pos
        try:
            key, pos = read_varint(view, pos)
            number, wire = key >> 3, key & 7
            if number == 0:
                raise ValueError("field number 0")
            if wire == 0:
                _, pos = read_varint(view, pos)
            elif wire == 1:
                pos += 8
            elif wire == 5:
                pos += 4
            elif wire == 2:
                length, pos = read_varint(view, pos)
                if length > end - pos:
                    raise ValueError(f"length {length} runs past the end of the input")
                if number == field_number:
                    yield offset, pos, pos + length
                    index += 1
                pos += length
            else:
                raise ValueError(f"unsupported wire type {wire}")
            if pos > end:
                raise ValueError("field runs past the end of the input")
        except ValueError as e:
            raise DecodeError(str(e), index=index, offset=offset) from None
