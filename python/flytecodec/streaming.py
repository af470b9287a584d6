"""Streaming big inputs in bounded memory: :func:`iter_batches`.

A dump far larger than memory is read a chunk at a time and decoded ``batch_size`` records at a time, on the
active backend. Several files, or a directory of files (flyteadmin's page-by-page downloads), are one logical
input, read in sorted order.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterable, Iterator
from typing import BinaryIO, TypeVar, Union

from flytecodec.bulk import Batch, decode
from flytecodec.exceptions import DecodeError
from flytecodec.framing import read_varint
from flytecodec.models._entity import FlyteIdlEntity

M = TypeVar("M", bound=FlyteIdlEntity)
Source = Union[str, os.PathLike, BinaryIO, bytes, Iterable[Union[str, os.PathLike]]]

CHUNK = 8 << 20  # bytes read at a time from a delimited stream


def iter_batches(
    source: Source, model: type[M], *, framing: str, batch_size: int = 10_000, glob: str | None = None
) -> Iterator[Batch[M]]:
    """Decode ``source`` a batch at a time, holding about one batch (and one read chunk) in memory.

    :param source: a path, a directory (its files in sorted order), a binary file, bytes, or a list of any of
        these (binary files are read to their end in turn; each is named in errors by its ``name``).
    :param framing: ``"delimited"`` — varint length-prefixed messages, streamed across files as one stream
        of records; ``"list"`` — each file is one ``*List`` response (a page), given as batches of at most
        ``batch_size`` records with the page's token; ``"message"`` — each file is one message.
    :param batch_size: records per batch (the last one may be smaller).
    :param glob: a directory's files read are those whose name matches this pattern (``fnmatch``; all when
        ``None``); files named directly are read whatever their name.
    :raises DecodeError: on bad input; ``index`` counts records from the start of the whole input, ``offset``
        is the byte offset in the file named in the message.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if framing == "delimited":
        yield from _delimited(_streams(source, glob), model, batch_size)
    elif framing == "list":
        for name, stream in _streams(source, glob):
            page = _decode_at(model, stream.read(), "list", name, 0, 0)
            for start in range(0, len(page), batch_size):
                yield page[start : start + batch_size]
    elif framing == "message":
        yield from _messages(_streams(source, glob), model, batch_size)
    else:
        raise ValueError(f"unknown framing {framing!r}; choose 'list', 'delimited' or 'message'")


def _streams(source: Source, glob: str | None = None) -> Iterator[tuple[str, BinaryIO]]:
    """``(name, binary stream)`` of each file of the input, in order."""
    import io

    if isinstance(source, (bytes, bytearray, memoryview)):
        yield "<bytes>", io.BytesIO(bytes(source))
    elif hasattr(source, "read"):
        yield getattr(source, "name", "<stream>"), source  # type: ignore[misc]
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if os.path.isdir(path):
            for full in directory_files(path, glob=glob):
                with open(full, "rb") as f:
                    yield full, f
        else:
            with open(path, "rb") as f:
                yield path, f
    elif isinstance(source, Iterable):
        for item in source:
            yield from _streams(item, glob)
    else:
        raise TypeError(f"iter_batches(): cannot read {type(source).__name__}")


def directory_files(path: str | os.PathLike, glob: str | None = None) -> list[str]:
    """The files of a directory in the order an input reads them: sorted by name, subdirectories left out, and
    only those whose name matches ``glob`` (``fnmatch``) when given."""
    import fnmatch

    names = sorted(os.listdir(path))
    if glob is not None:
        names = [name for name in names if fnmatch.fnmatchcase(name, glob)]
    entries = (os.path.join(path, entry) for entry in names)
    return [entry for entry in entries if os.path.isfile(entry)]


def _delimited(streams: Iterator[tuple[str, BinaryIO]], model: type[M], batch_size: int) -> Iterator[Batch[M]]:
    """Varint length-prefixed records across every stream, ``batch_size`` at a time, numbered over the whole
    input; each file must end on a record boundary."""
    first_index = 0
    for name, stream in streams:
        first_index = yield from _delimited_file(name, stream, model, batch_size, first_index)


def _delimited_file(
    name: str, stream: BinaryIO, model: type[M], batch_size: int, first_index: int
) -> Generator[Batch[M], None, int]:
    """The batches of one file, read a chunk at a time; returns the index of the record after its last."""
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
                break  # a prefix cut by the chunk's end (or a bad one: reported once the file ends)
            if start + length > len(buffer):
                break
            count, end = count + 1, start + length
            if count == batch_size:
                yield _decode_at(model, buffer[:end], "delimited", name, first_index, file_offset)
                first_index, file_offset, count = first_index + count, file_offset + end, 0
                del buffer[:end]
                end = 0
        if not chunk:
            break
    if count:
        yield _decode_at(model, buffer[:end], "delimited", name, first_index, file_offset)
        first_index, file_offset = first_index + count, file_offset + end
        del buffer[:end]
    if buffer:  # not a whole record: the decoder says where and why
        _decode_at(model, buffer, "delimited", name, first_index, file_offset)
    return first_index


def _decode_at(
    model: type[M], data: bytes | bytearray, framing: str, name: str, first_index: int, file_offset: int
) -> Batch[M]:
    """Decode ``data``, which starts at record ``first_index`` and at ``file_offset`` in file ``name``."""
    try:
        return decode(model, bytes(data), framing=framing)
    except DecodeError as e:
        raise _located(e, name, first_index, file_offset) from None


def _messages(streams: Iterator[tuple[str, BinaryIO]], model: type[M], batch_size: int) -> Iterator[Batch[M]]:
    """One message per file, ``batch_size`` files at a time."""
    items: list = []
    names: list = []
    first_index = 0

    def flush() -> Batch[M]:
        nonlocal first_index
        try:
            batch = decode(model, items)
        except DecodeError as e:
            raise _located(e, names[e.index], first_index, 0) from None
        first_index += len(items)
        items.clear()
        names.clear()
        return batch

    for name, stream in streams:
        items.append(stream.read())
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
    )
