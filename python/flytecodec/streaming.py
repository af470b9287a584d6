"""Streaming big inputs in bounded memory: :func:`iter_batches`.

A dump far larger than memory is read a chunk at a time and decoded ``batch_size`` records at a time, on the
active backend. Several files, or a directory of files (flyteadmin's page-by-page downloads), are one logical
input, read in natural order of their names; gzip- and zstd-compressed files are decompressed as they are read.
"""

from __future__ import annotations

import fnmatch
import io
import mmap
import os
import re
from collections.abc import Generator, Iterable, Iterator
from typing import BinaryIO, TypeVar, Union

from flytecodec.bulk import EMPTY_FILE, Batch, _name, decode, decode_bytes, with_hint
from flytecodec.exceptions import DecodeError
from flytecodec.framing import GZIP_MAGIC, ZSTD_MAGIC, check_mmap, read_varint, zstd_reader
from flytecodec.models._entity import FlyteIdlEntity

M = TypeVar("M", bound=FlyteIdlEntity)
Source = Union[str, os.PathLike, BinaryIO, bytes, Iterable[Union[str, os.PathLike]]]

CHUNK = 8 << 20  # bytes read at a time from a delimited stream


def iter_batches(
    source: Source, model: type[M], *, framing: str, batch_size: int = 10_000, glob: str | None = "*"
) -> Iterator[Batch[M]]:
    """Decode ``source`` a batch at a time, holding about one batch (and one read chunk) in memory.

    :param source: a path, a directory (its files in natural order: ``page-2`` before ``page-10``), a binary file,
        bytes, or a list of any of these (binary files are read to their end in turn; each is named in errors by
        its ``name``). A file that starts with the gzip or zstd magic bytes is decompressed as it is read (zstd
        needs the ``zstandard`` package: ``flytecodec[zstd]``).
    :param framing: ``"delimited"`` — varint length-prefixed messages, streamed across files as one stream
        of records; ``"list"`` — each file is one ``*List`` response (a page), given as batches of at most
        ``batch_size`` records with the page's token; ``"message"`` — each file is one message (an empty file is
        an error: it is far more often a failed download than a message with every field unset).
    :param batch_size: records per batch (the last one may be smaller).
    :param glob: which files of a directory to read, matched against their names (``"*.pb"``); every file by
        default. Files named directly are always read.
    :raises DecodeError: on bad input; ``index`` counts records from the start of the whole input, ``offset``
        is the byte offset in the file named in the message (in its decompressed bytes for a compressed file).
        A length prefix larger than what is left of the file (or than a record can be, 2^31 - 2 bytes, when the
        size is unknown) fails at once, without reading further.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if framing == "delimited":
        yield from _delimited(_streams(source, glob), model, batch_size)
    elif framing == "list":
        first_index = 0
        for name, stream, _ in _streams(source, glob):
            page = _decode_at(model, stream.read(), "list", name, first_index, 0)
            first_index += len(page)
            for start in range(0, len(page), batch_size):
                yield page[start : start + batch_size]
    elif framing == "message":
        yield from _messages(_streams(source, glob), model, batch_size)
    else:
        raise ValueError(f"unknown framing {framing!r}; choose 'list', 'delimited' or 'message'")


MAX_RECORD_BYTES = 2**31 - 2  # the longest length-delimited field upb takes: no record can be longer


def _streams(source: Source, glob: str | None = "*") -> Iterator[tuple[str, BinaryIO, int | None]]:
    """``(name, binary stream, bytes left in it if known)`` of each file of the input, in order; compressed
    files are decompressed as they are read."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        yield _opened("<bytes>", io.BytesIO(bytes(source)))
    elif hasattr(source, "read"):
        if isinstance(source, mmap.mmap):
            check_mmap(source)
        yield _opened(getattr(source, "name", "<stream>"), source)  # type: ignore[arg-type]
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        for full in directory_files(path, glob) if os.path.isdir(path) else [path]:
            with open(full, "rb") as f:
                yield _opened(full, f)
    elif isinstance(source, Iterable):
        for item in source:
            yield from _streams(item, glob)
    else:
        raise TypeError(f"iter_batches(): cannot read {type(source).__name__}")


class _Prefixed(io.RawIOBase):
    """A stream whose first bytes were already read: gives them back, then the rest of the stream."""

    def __init__(self, head: bytes, stream: BinaryIO):
        self._head, self._stream = head, stream

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        head = self._head
        if size is None or size < 0:
            self._head = b""
            return head + self._stream.read()
        if head:
            self._head = head[size:]
            return head[:size]
        return self._stream.read(size)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _opened(name: str, stream: BinaryIO) -> tuple[str, BinaryIO, int | None]:
    """``stream`` ready to read: decompressed if its first bytes are gzip's or zstd's magic; with the number of
    bytes left in it when that is known (an uncompressed regular file or in-memory stream)."""
    head = stream.read(4)
    if not isinstance(head, (bytes, bytearray)):
        raise TypeError(f"{name}: the file must be opened in binary mode")
    rest = _Prefixed(bytes(head), stream)
    if head.startswith(GZIP_MAGIC):
        import gzip

        return name, gzip.GzipFile(fileobj=rest, mode="rb"), None  # type: ignore[return-value]
    if head.startswith(ZSTD_MAGIC):
        return name, zstd_reader(name, rest), None
    return name, rest, _left(stream, len(head))  # type: ignore[return-value]


def _left(stream, already: int) -> int | None:
    """How many bytes ``stream`` holds from where it was before ``already`` bytes were read, when it says."""
    try:
        if not stream.seekable():
            return None
        here = stream.tell()
        end = stream.seek(0, os.SEEK_END)
        stream.seek(here)
    except (AttributeError, OSError, ValueError):
        return None
    return end - here + already


def _natural_key(name: str) -> tuple:
    """Sort key of a file name in natural order: runs of digits compare as numbers (``page-2 < page-10``)."""
    parts = re.split(r"(\d+)", name)
    return (tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), name)


def directory_files(path: str | os.PathLike, glob: str | None = "*") -> list[str]:
    """The files of a directory in the order an input reads them: in natural order of their names (``page-2``
    before ``page-10``), those whose name matches ``glob`` (every file when it is ``"*"`` or None), subdirectories
    left out."""
    pattern = "*" if glob is None else glob
    names = sorted((entry for entry in os.listdir(path) if fnmatch.fnmatchcase(entry, pattern)), key=_natural_key)
    entries = (os.path.join(path, entry) for entry in names)
    return [entry for entry in entries if os.path.isfile(entry)]


def _delimited(
    streams: Iterator[tuple[str, BinaryIO, int | None]], model: type[M], batch_size: int
) -> Iterator[Batch[M]]:
    """Varint length-prefixed records across every stream, ``batch_size`` at a time, numbered over the whole
    input; each file must end on a record boundary."""
    first_index = 0
    for name, stream, size in streams:
        first_index = yield from _delimited_file(name, stream, size, model, batch_size, first_index)


def _delimited_file(
    name: str, stream: BinaryIO, size: int | None, model: type[M], batch_size: int, first_index: int
) -> Generator[Batch[M], None, int]:
    """The batches of one file, read a chunk at a time; returns the index of the record after its last. A prefix
    that claims more than the file (of ``size`` bytes, if known) holds fails at once."""
    buffer = bytearray()
    file_offset = 0  # offset in the file of buffer[0]
    count, end = 0, 0  # complete records at the front of `buffer`, and where the last one ends
    while True:
        chunk = stream.read(CHUNK)
        buffer += chunk
        while True:
            try:
                length, start = read_varint(memoryview(buffer), end)
            except ValueError:
                break  # a prefix cut by the chunk's end, or a bad one (reported below)
            left = MAX_RECORD_BYTES if size is None else size - (file_offset + start)
            if length > left:  # cannot fit: say so now rather than read the rest of the file looking for it
                if count:
                    yield _decode_at(model, buffer[:end], "delimited", name, first_index, file_offset)
                raise _bad_length(name, model, length, left, size is not None, first_index + count, file_offset + end)
            if start + length > len(buffer):
                break
            count, end = count + 1, start + length
            if count == batch_size:
                yield _decode_at(model, buffer[:end], "delimited", name, first_index, file_offset)
                first_index, file_offset, count = first_index + count, file_offset + end, 0
                del buffer[:end]
                end = 0
        if not chunk or (len(buffer) - end >= 10 and _bad_prefix(buffer, end)):  # the end, or no prefix at all
            break
    if count:
        yield _decode_at(model, buffer[:end], "delimited", name, first_index, file_offset)
        first_index, file_offset = first_index + count, file_offset + end
        del buffer[:end]
    if buffer:  # not a whole record: the decoder says where and why
        _decode_at(model, buffer, "delimited", name, first_index, file_offset)
    return first_index


def _bad_prefix(buffer: bytearray, pos: int) -> bool:
    """Whether the ten bytes at ``pos`` are no varint (reading on would not help)."""
    try:
        read_varint(memoryview(buffer), pos)
    except ValueError:
        return True
    return False


def _bad_length(name: str, model, length: int, left: int, known: bool, index: int, offset: int) -> DecodeError:
    if known:
        reason = f"length prefix claims {length} bytes but {max(left, 0)} remain"
        hint = f"the file ends inside record {index}: is it truncated? (or is the framing not 'delimited'?)"
    else:
        reason = f"length prefix claims {length} bytes, more than a record can hold ({MAX_RECORD_BYTES})"
        hint = "is the framing not 'delimited', or the stream damaged?"
    return DecodeError(f"{name}: {reason}", index=index, offset=offset, model=_name(model), hint=hint)


def _decode_at(
    model: type[M], data: bytes | bytearray, framing: str, name: str, first_index: int, file_offset: int
) -> Batch[M]:
    """Decode ``data``, which starts at record ``first_index`` and at ``file_offset`` in file ``name``."""
    data = bytes(data)
    try:
        return decode_bytes(model, data, framing)
    except DecodeError as e:
        raise with_hint(_located(e, name, first_index, file_offset), data, framing, model) from None


def _messages(
    streams: Iterator[tuple[str, BinaryIO, int | None]], model: type[M], batch_size: int
) -> Iterator[Batch[M]]:
    """One message per file, ``batch_size`` files at a time; an empty file is an error."""
    items: list = []
    names: list = []
    first_index = 0

    def flush() -> Batch[M]:
        nonlocal first_index
        try:
            batch = decode(model, items)
        except DecodeError as e:  # a message is decoded alone: no hint to find about its framing
            raise _located(e, names[e.index], first_index, 0) from None
        first_index += len(items)
        items.clear()
        names.clear()
        return batch

    for name, stream, _ in streams:
        data = stream.read()
        if not data:
            index = first_index + len(items)
            raise DecodeError(f"{name}: {EMPTY_FILE}", index=index, model=_name(model))
        items.append(data)
        names.append(name)
        if len(items) == batch_size:
            yield flush()
    if items:
        yield flush()


def _located(error: DecodeError, name: str, first_index: int, file_offset: int) -> DecodeError:
    """``error`` with its index and offset counted over the whole input, naming the file."""
    return DecodeError(
        f"{name}: {error.reason}",
        index=first_index + error.index,
        offset=file_offset + error.offset,
        model=error.model,
        hint=error.hint,
    )
