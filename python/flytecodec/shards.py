"""Shards: an input of dump files cut into picklable pieces of work, each read on its own by any process.

:func:`plan` lists the files of a source (paths, globs, directories of pages) and cuts it into :class:`Shard`
descriptions — a shard is one or more byte ranges of files — without decoding anything: small files are
grouped until a shard holds about ``shard_bytes``, and a big varint-delimited file is cut into byte ranges
aligned on record boundaries (found by walking the length prefixes, reading no record). :func:`read_shard`
turns one shard into ``pyarrow.RecordBatch`` es of a fixed schema (the kind's documented columns, or a
``columns=`` projection) in bounded memory; it is a pure function of the shard and its arguments, so Dask
(:mod:`flytecodec.dask`) and Ray (:mod:`flytecodec.ray`) run it on their workers. :func:`dataset` gives the
whole input as one ``pyarrow.RecordBatchReader``, which DuckDB and Polars read as an Arrow stream.

Workers read the files by the absolute paths the planner saw: on a cluster they must share a filesystem.

A ``postgresql://`` URL is a flyteadmin database: :func:`plan` then gives
:class:`~flytecodec.sources.postgres_shards.TableShard` s (ranges of a table's ``id`` column) and
:func:`read_shard` reads them through the database source; the workers connect to the database themselves.
"""

from __future__ import annotations

import contextlib
import glob
import mmap
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

from flytecodec import kinds
from flytecodec._backend import using_backend
from flytecodec.bulk import Batch, decode
from flytecodec.columns import select
from flytecodec.exceptions import DecodeError
from flytecodec.framing import FRAMINGS, read_varint
from flytecodec.models._entity import FlyteIdlEntity
from flytecodec.streaming import directory_files, iter_batches

if TYPE_CHECKING:
    import pyarrow as pa

    from flytecodec.sources.postgres_shards import TableShard

Paths = Union[str, os.PathLike, Iterable[Union[str, os.PathLike]]]
Kind = Union[str, type]

DEFAULT_SHARD_BYTES = 64 << 20
DEFAULT_BATCH_SIZE = 10_000
# A delimited piece up to this size is read at once and split by the decoder; a bigger one is streamed a chunk
# at a time by iter_batches (which walks the length prefixes in Python).
WHOLE_PIECE_BYTES = 64 << 20


def model_for(kind: Kind) -> type[FlyteIdlEntity]:
    """The model class of ``kind``: a kind name (``"execution"``, ``"node-execution"``, …, as the command's
    ``--kind``) or a model class with columns (returned as it is)."""
    if isinstance(kind, str):
        return kinds.get(kind).load()
    if isinstance(kind, type) and issubclass(kind, FlyteIdlEntity) and hasattr(kind, "_pb_name"):
        select(kind, None)  # a kind without columns fails here, naming the kinds that have them
        return kind
    raise TypeError(f"kind= takes a kind name ({', '.join(kinds.KINDS)}) or a model class, got {kind!r}")


@dataclass(frozen=True)
class Piece:
    """Bytes ``start`` to ``end`` (exclusive) of the file ``path``.

    For the ``delimited`` framing the range starts and ends on record boundaries and ``first_index`` is the
    index of its first record in the file; other framings take whole files (``first_index`` 0). ``file_size``
    is the file's size when it was planned: a file that has changed since is refused.
    """

    path: str
    start: int
    end: int
    first_index: int
    file_size: int

    def __str__(self) -> str:
        return f"{self.path}, bytes {self.start}-{self.end}"


@dataclass(frozen=True)
class Shard:
    """A unit of work: the records of ``model`` in ``pieces`` (read in order), framed as ``framing``.

    Shards are plain data (picklable, hashable); :func:`read_shard` reads one anywhere the files are visible.
    """

    model: type
    framing: str
    pieces: tuple[Piece, ...]

    @property
    def nbytes(self) -> int:
        """The bytes of input the shard reads."""
        return sum(p.end - p.start for p in self.pieces)

    def empty_table(self, columns: Sequence[str] | None = None) -> pa.Table:
        """A table of no rows with the schema of this shard's batches."""
        return empty_table(self.model, columns)

    def __str__(self) -> str:
        more = len(self.pieces) - 1
        return f"{self.pieces[0]}" + (f" (and {more} more file{'s' if more > 1 else ''})" if more else "")


def files_of(source: Paths) -> list[str]:
    """The absolute paths of the files of ``source``: a file, a directory (its files sorted by name), a glob
    pattern (``*``, ``?``, ``[...]``, ``**``; matches sorted), or a list of these, in order."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if os.path.isdir(path):
            return [os.path.abspath(p) for p in directory_files(path)]
        if os.path.isfile(path):
            return [os.path.abspath(path)]
        if glob.has_magic(path):
            matches = [p for p in sorted(glob.glob(path, recursive=True)) if os.path.isfile(p)]
            if not matches:
                raise FileNotFoundError(f"no file matches {path!r}")
            return [os.path.abspath(p) for p in matches]
        raise FileNotFoundError(f"no such file or directory: {path!r}")
    if isinstance(source, (bytes, bytearray, memoryview)) or hasattr(source, "read"):
        raise TypeError("shards are read from files: give paths, globs or directories, not bytes or open files")
    if isinstance(source, Iterable):
        return [path for item in source for path in files_of(item)]
    raise TypeError(f"cannot read {type(source).__name__}: give paths, globs or directories")


def plan(
    source: Paths,
    kind: Kind,
    *,
    framing: str | None = None,
    shard_bytes: int | None = DEFAULT_SHARD_BYTES,
    shards: int | None = None,
    shard_rows: int | None = None,
    **filters,
) -> list[Shard] | list[TableShard]:
    """Cut ``source`` into shards of about ``shard_bytes`` of input each, without decoding it.

    A ``postgresql://`` URL is a flyteadmin database instead: its rows of ``kind`` that ``filters`` choose
    (``project``, ``domain``, ``name``, ``since``, ``phase``, ``archived``, ``trim_errors``,
    ``default_namespace``, as :func:`flytecodec.sources.postgres.read` takes them) are cut into
    :class:`~flytecodec.sources.postgres_shards.TableShard` s, ranges of the ``id`` column of about
    ``shard_rows`` rows (default 100 000) or ``shards`` ranges, by one query
    (:func:`flytecodec.sources.postgres_shards.plan`); no framing.

    :param source: see :func:`files_of`, or a database URL.
    :param kind: a kind name (``"execution"``, ``"node-execution"``, ``"task-execution"``, ``"execution-spec"``,
        …) or a model class.
    :param framing: ``"delimited"`` (varint length-prefixed records; a file bigger than ``shard_bytes`` is cut
        into byte ranges that start and end on record boundaries), ``"list"`` (each file one ``*List`` page)
        or ``"message"`` (each file one message).
    :param shard_bytes: the input bytes a shard aims at; consecutive smaller files are grouped up to it.
        ``None``: no splitting, one shard of every file.
    :param shards: instead of ``shard_bytes``, about how many shards to make (``shard_bytes`` is then the total
        size over ``shards``).
    :returns: the shards in input order (none for an input without files). A delimited file whose length
        prefixes break is still planned: the range from the break to its end is one piece, and reading it
        raises the :class:`~flytecodec.DecodeError`.
    """
    from flytecodec.sources import postgres_shards

    if postgres_shards.is_database(source):
        if framing is not None:
            raise ValueError("a database source has no framing: leave framing= out")
        if shard_bytes != DEFAULT_SHARD_BYTES:
            raise ValueError("shard_bytes= sizes the shards of files; a database is cut by shard_rows= or shards=")
        return postgres_shards.plan(source, _database_kind(kind), shards=shards, shard_rows=shard_rows, **filters)
    if filters or shard_rows is not None:
        given = ", ".join(f"{name}=" for name in [*filters, *(["shard_rows"] if shard_rows is not None else [])])
        raise TypeError(f"{given} apply to a database source (a postgresql:// URL), not to files")
    model = model_for(kind)
    if framing is None:
        raise ValueError("files need framing=: 'list', 'delimited' or 'message'")
    if framing not in FRAMINGS:
        raise ValueError(f"unknown framing {framing!r}; choose 'list', 'delimited' or 'message'")
    if framing == "list":
        from flytecodec.bulk import list_message_for

        list_message_for(model)
    files = files_of(source)
    sizes = [os.path.getsize(path) for path in files]
    if shards is not None:
        if shards < 1:
            raise ValueError(f"shards must be at least 1, got {shards}")
        shard_bytes = max(1, -(-sum(sizes) // shards))
    elif shard_bytes is not None and shard_bytes < 1:
        raise ValueError(f"shard_bytes must be at least 1, got {shard_bytes}")
    pieces: list[Piece] = []
    for path, size in zip(files, sizes):
        if framing == "delimited" and shard_bytes is not None and size > shard_bytes:
            pieces += delimited_pieces(path, shard_bytes)
        else:
            pieces.append(Piece(path, 0, size, 0, size))
    return [Shard(model, framing, group) for group in _group(pieces, shard_bytes)]


def _database_kind(kind: Kind) -> str:
    """``kind`` as a database source takes it: a kind name of :func:`flytecodec.sources.postgres.read`."""
    if not isinstance(kind, str):
        from flytecodec.sources.postgres import KINDS

        raise TypeError(f"a database source takes a kind name ({', '.join(KINDS)}), got {kind!r}")
    return kind


def _group(pieces: Sequence[Piece], limit: int | None) -> Iterator[tuple[Piece, ...]]:
    """Consecutive pieces, grouped while a group stays within ``limit`` bytes (no limit: one group)."""
    group: list[Piece] = []
    size = 0
    for piece in pieces:
        length = piece.end - piece.start
        if group and limit is not None and size + length > limit:
            yield tuple(group)
            group, size = [], 0
        group.append(piece)
        size += length
    if group:
        yield tuple(group)


def delimited_pieces(path: str, shard_bytes: int) -> list[Piece]:
    """Byte ranges of the varint-delimited file ``path`` of about ``shard_bytes`` each, on record boundaries.

    The nominal edges ``shard_bytes``, ``2 * shard_bytes``, … each move forward to the first record that
    starts at or after them (an edge inside a record moves past it; a record longer than ``shard_bytes``
    swallows the edges it spans), so every record lies in exactly one range. Only the length prefixes are
    read. Where a prefix is broken or claims more bytes than the file has, walking stops: the rest of the
    file is one range, whose reader reports the error.
    """
    size = os.path.getsize(path)
    pieces = []
    start = first = 0
    if size:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            pos = index = 0
            edge = shard_bytes
            while pos < size:
                if pos >= edge:
                    pieces.append(Piece(path, start, pos, first, size))
                    start, first = pos, index
                    edge = (pos // shard_bytes + 1) * shard_bytes
                byte = data[pos]
                if byte < 0x80:  # a one-byte length: most records under 128 bytes, and every prefix's last byte
                    length, body = byte, pos + 1
                else:
                    try:
                        length, body = read_varint(data, pos)  # type: ignore[arg-type]
                    except ValueError:
                        break
                if length > size - body:
                    break
                pos = body + length
                index += 1
    pieces.append(Piece(path, start, size, first, size))
    return pieces


class _Range:
    """A binary stream over bytes ``start``-``end`` of an open file, named after the piece it reads."""

    def __init__(self, file, piece: Piece):
        self._file = file
        self._left = piece.end - piece.start
        self.name = str(piece)
        file.seek(piece.start)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > self._left:
            size = self._left
        chunk = self._file.read(size)
        self._left -= len(chunk)
        return chunk


def _open_pieces(pieces: Sequence[Piece]) -> Iterator[_Range]:
    """Each piece as a stream, opened when it is reached and closed when the next one is asked for."""
    for piece in pieces:
        with open(piece.path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size != piece.file_size:
                raise ValueError(
                    f"{piece.path} is {size} bytes but was {piece.file_size} when the shards were planned: "
                    "the file changed; plan the shards again"
                )
            yield _Range(f, piece)


def _shard_batches(shard: Shard, batch_size: int) -> Iterator[Batch]:
    """The shard's records as :class:`~flytecodec.Batch` es; a :class:`DecodeError` names the shard, and the
    record by its index and byte offset in its file."""
    if shard.framing == "message":  # one record per file: iter_batches names the file of a bad one
        try:
            yield from iter_batches(_open_pieces(shard.pieces), shard.model, framing="message", batch_size=batch_size)
        except DecodeError as e:
            raise DecodeError(e.reason, index=0, offset=e.offset, model=e.model) from None
        return
    for piece in shard.pieces:
        try:
            if shard.framing == "delimited" and piece.end - piece.start <= WHOLE_PIECE_BYTES:
                yield from _whole_piece(piece, shard.model, batch_size)
            else:
                yield from iter_batches(
                    _open_pieces([piece]), shard.model, framing=shard.framing, batch_size=batch_size
                )
        except DecodeError as e:
            raise DecodeError(
                e.reason, index=piece.first_index + e.index, offset=piece.start + e.offset, model=e.model
            ) from None


def _whole_piece(piece: Piece, model: type, batch_size: int) -> Iterator[Batch]:
    """A delimited piece read at once and split into records by the decoder (in Rust on the native backend),
    then given ``batch_size`` records at a time; errors name the piece and count from its start."""
    for stream in _open_pieces([piece]):
        data = stream.read()
    try:
        batch = decode(model, data, framing="delimited")
    except DecodeError as e:
        raise DecodeError(f"{piece}: {e.reason}", index=e.index, offset=e.offset, model=e.model) from None
    if len(batch) <= batch_size:
        yield batch
        return
    for start in range(0, len(batch), batch_size):
        yield batch[start : start + batch_size]


def read_shard(
    shard: Shard | TableShard,
    columns: Sequence[str] | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    backend: str | None = None,
) -> Iterator[pa.RecordBatch]:
    """The records of ``shard`` as record batches of at most ``batch_size`` rows, of the kind's columns (or
    those named in ``columns``, the only ones read).

    A :class:`~flytecodec.sources.postgres_shards.TableShard` (a range of a flyteadmin table) is read by
    :func:`flytecodec.sources.postgres_shards.read_shard`, whose batches have the database source's columns.

    Memory: a delimited piece of up to 64 MiB (``WHOLE_PIECE_BYTES``) is read at once and split by the decoder
    (in Rust, natively); a bigger one, and list pages, are read as :func:`~flytecodec.iter_batches` reads them
    (a chunk or a page at a time); only one batch of columns is made at a time.

    Every batch has the schema :func:`schema` gives. An empty projection (``columns=[]``) gives batches with
    rows and no columns (a record count).

    :param backend: ``"native"`` or ``"python"`` to decode with (default: the active one).
    :raises DecodeError: for a bad record, naming the shard's file and byte range; ``index`` is the record's
        index in that file (0 for the ``message`` framing, where the file is the record) and ``offset`` its
        byte offset in the file.
    :raises ValueError: if a file has changed size since the shard was planned.
    """
    if not isinstance(shard, Shard):
        from flytecodec.sources import postgres_shards

        return postgres_shards.read_shard(shard, columns, batch_size=batch_size, backend=backend)
    return _read_file_shard(shard, columns, batch_size, backend)


def _read_file_shard(
    shard: Shard, columns: Sequence[str] | None, batch_size: int, backend: str | None
) -> Iterator[pa.RecordBatch]:
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if columns is not None:
        columns = list(columns)
        select(shard.model, columns)  # unknown or repeated names fail before any reading
    switch = (lambda: using_backend(backend)) if backend else contextlib.nullcontext
    batches = _shard_batches(shard, batch_size)
    while True:
        with switch():  # only around the decoding: the caller runs on its own backend between batches
            batch = next(batches, None)
            if batch is None:
                return
            out = batch.to_arrow(columns).to_batches()
        yield from out


def empty_table(kind: Kind, columns: Sequence[str] | None = None, *, source: object = None) -> pa.Table:
    """A table of no rows with the schema of ``kind``'s records (every column, or those in ``columns``).

    Its dictionary (enum) columns hold every name of their enum, as the tables of records do, so that pandas
    categories made from it match theirs. When ``source`` is a database URL, the schema is the database
    source's (:func:`flytecodec.sources.postgres_shards.empty_table`: a part's key columns, ``row_updated_at``).
    """
    from flytecodec.sources import postgres_shards

    if postgres_shards.is_database(source):
        return postgres_shards.empty_table(_database_kind(kind), columns)
    model = model_for(kind)
    if columns is not None and len(columns) == 0:
        select(model, columns)
        return _empty_columns()
    return decode(model, []).to_arrow(columns)


def _empty_columns() -> pa.Table:
    import pyarrow as pa

    return pa.table({})


def schema(kind: Kind, columns: Sequence[str] | None = None, *, source: object = None) -> pa.Schema:
    """The schema of every batch :func:`read_shard` and :func:`dataset` give for ``kind`` and ``columns`` (of a
    database's rows when ``source`` is a database URL)."""
    return empty_table(kind, columns, source=source).schema


def dataset(
    source: Paths,
    *,
    kind: Kind,
    framing: str | None = None,
    columns: Sequence[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    backend: str | None = None,
    **filters,
) -> pa.RecordBatchReader:
    """The records of ``source`` as one Arrow stream, read a batch at a time as the consumer asks.

    A ``pyarrow.RecordBatchReader`` (it has ``__arrow_c_stream__``): DuckDB queries it in place
    (``duckdb.sql("select phase, count(*) from reader group by 1")``), Polars and pyarrow read it, each
    holding about one batch of ``batch_size`` records (and one read chunk) of input at a time. The files are
    read in order, whole; a reader can be consumed once.

    A database URL (``postgresql://…``) is streamed through one server-side cursor, in primary key order,
    ``batch_size`` rows at a time: the rows of ``kind`` that ``filters`` choose (``project``, ``domain``,
    ``name``, ``since``, ``phase``, ``archived``, ``trim_errors``, ``default_namespace``, as
    :func:`flytecodec.sources.postgres.read` takes them), with the database source's columns.

    :param source: files, directories, globs (see :func:`files_of`), or a database URL.
    :param kind: a kind name or model class (see :func:`plan`; a database takes kind names).
    :param framing: ``"list"``, ``"delimited"`` or ``"message"`` (files only).
    :param columns: only these columns, in this order (default: all of the kind's).
    :param backend: the backend to decode with (default: the one active when the batches are read).
    :raises DecodeError: while reading, for a bad record: the file, its byte range, the record's index and
        offset (see :func:`read_shard`); for a database, the table and the row's primary key.
    :raises SourceError: while reading a database, when it cannot be reached or the connection is lost.
    """
    import pyarrow as pa

    from flytecodec.sources import postgres_shards

    planned: list[Shard] | list[TableShard]
    if postgres_shards.is_database(source):
        if framing is not None:
            raise ValueError("a database source has no framing: leave framing= out")
        planned = [postgres_shards.whole(source, _database_kind(kind), **filters)]
    else:
        planned = plan(source, kind, framing=framing, shard_bytes=None, **filters)
    target = schema(kind, columns, source=source)

    def batches() -> Iterator[pa.RecordBatch]:
        for shard in planned:
            yield from read_shard(shard, columns, batch_size=batch_size, backend=backend)

    return pa.RecordBatchReader.from_batches(target, batches())
