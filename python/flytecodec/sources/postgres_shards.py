"""flyteadmin's tables cut into shards: half-open ranges of the ``id`` column, each read by any process.

flyteadmin numbers every row of ``executions``, ``node_executions`` and ``task_executions`` from a sequence (the
``id`` bigserial, indexed). :func:`plan` cuts the rows the filters choose into ranges ``[low, high)`` of that
column holding about ``shard_rows`` rows each (or ``shards`` ranges of equal row counts), with one query that
reads only the ids (``ntile``/``row_number`` over ``ORDER BY id``). A :class:`TableShard` is plain data — the
connection string, the kind, the filters and the range — and :func:`read_shard` reads one through
:func:`flytecodec.sources.postgres.read` (the same query, row → message rebuild and decoding, restricted to the
range) into ``pyarrow.RecordBatch`` es of the source's schema: ``Rows.to_arrow()``'s columns (a part's key
columns, the model's columns, ``row_updated_at``), or a ``columns=`` projection.

Every row is read exactly once. The ranges partition all ids — the first is open below, the last open above,
each ends where the next begins — so a row belongs to exactly one shard whatever its id, whatever happens to the
table between planning and reading. Each shard reads in a transaction of its own, when it runs, and sees the
table as it is then: a row inserted after planning (or while the planning query ran) is read once if it exists
when the shard of its id runs (new ids are above the last bound: the last shard), else not at all; a row updated
meanwhile is read once, as its shard finds it, and chosen by the filters on its values then (``since=``,
``phase=``); a row deleted (soft-deleted) before its shard runs is not read. The shards together are so not one
snapshot of the database; the planned row counts (``TableShard.rows``) are what the planning query saw, for
balance only. For a stable cut of a live database, bound it with ``since=`` and the watermark of a previous run.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flytecodec._backend import using_backend
from flytecodec.exceptions import DecodeError
from flytecodec.sources import SourceError, postgres

if TYPE_CHECKING:
    import pyarrow as pa
    from typing_extensions import TypeGuard

DEFAULT_SHARD_ROWS = 100_000
DEFAULT_BATCH_SIZE = 10_000
URL_SCHEMES = ("postgresql://", "postgres://")


def is_database(source: object) -> TypeGuard[str]:
    """Whether ``source`` names a PostgreSQL database (a ``postgresql://`` or ``postgres://`` URL)."""
    return isinstance(source, str) and source.startswith(URL_SCHEMES)


@dataclass(frozen=True)
class Filters:
    """The rows of a kind that :func:`flytecodec.sources.postgres.read` chooses, and how it rebuilds them (its
    keyword arguments of the same names, ``since`` parsed and ``phase`` as a tuple)."""

    project: str | None = None
    domain: str | None = None
    name: str | None = None
    since: datetime.datetime | None = None
    phase: tuple[str, ...] | None = None
    archived: bool = False
    trim_errors: bool = False
    default_namespace: str = ""

    @classmethod
    def of(
        cls,
        *,
        project: str | None = None,
        domain: str | None = None,
        name: str | None = None,
        since: postgres.Since = None,
        phase: str | Sequence[str] | None = None,
        archived: bool = False,
        trim_errors: bool = False,
        default_namespace: str = "",
    ) -> Filters:
        phases = (phase,) if isinstance(phase, str) else (tuple(phase) if phase is not None else None)
        return cls(project, domain, name, postgres.parse_time(since), phases, archived, trim_errors, default_namespace)

    def options(self) -> dict:
        """The filters as keyword arguments of :func:`flytecodec.sources.postgres.read`."""
        return {
            "project": self.project,
            "domain": self.domain,
            "name": self.name,
            "since": self.since,
            "phase": None if self.phase is None else list(self.phase),
            "archived": self.archived,
            "trim_errors": self.trim_errors,
            "default_namespace": self.default_namespace,
        }


FILTER_NAMES = tuple(Filters.__dataclass_fields__)


@dataclass(frozen=True)
class TableShard:
    """The rows of ``kind`` the ``filters`` choose whose ``id`` is in ``[low, high)`` (``None``: open at that end).

    Plain data (picklable, hashable). ``rows`` is how many rows the planner counted in the range. The connection
    string is never shown: ``repr`` masks its password and ``str`` names only the table and the range.
    """

    conninfo: str
    kind: str
    filters: Filters
    low: int | None
    high: int | None
    rows: int = 0

    @property
    def table(self) -> str:
        return postgres.KINDS[self.kind].table

    def __str__(self) -> str:
        low = "" if self.low is None else f"{self.low} <= "
        high = "" if self.high is None else f" < {self.high}"
        if not low and not high:
            return f"{self.table}, every id"
        return f"{self.table}, rows with {low}id{high}"

    def __repr__(self) -> str:
        return (
            f"TableShard(conninfo={postgres.masked(self.conninfo)!r}, kind={self.kind!r}, filters={self.filters!r}, "
            f"low={self.low!r}, high={self.high!r}, rows={self.rows!r})"
        )

    def empty_table(self, columns: Sequence[str] | None = None) -> pa.Table:
        """A table of no rows with the schema of this shard's batches."""
        return empty_table(self.kind, columns)


def empty_table(kind: str, columns: Sequence[str] | None = None) -> pa.Table:
    """No rows of ``kind`` as the database source gives them (:meth:`~flytecodec.sources.postgres.Rows.to_arrow`):
    every column (:func:`~flytecodec.sources.postgres.column_names`), or those in ``columns`` (unknown or
    repeated names fail here)."""
    if columns is not None:
        columns = list(columns)
        _check_columns(kind, columns)
        if not columns:
            import pyarrow as pa

            return pa.table({})
    return postgres.empty(kind).to_arrow(columns)


def _check_columns(kind: str, columns: list[str]) -> None:
    known = postgres.column_names(kind)
    unknown = [c for c in columns if c not in known]
    if unknown:
        raise ValueError(f"no column {unknown[0]!r} in {kind} rows; the columns are {', '.join(known)}")
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise ValueError(f"column {repeated[0]!r} is asked for more than once")


def whole(conninfo: str, kind: str, **filters) -> TableShard:
    """One shard of every row (no planning query): what :func:`flytecodec.dataset` streams."""
    postgres._check_kind(kind)
    return TableShard(conninfo, kind, Filters.of(**filters), None, None)


def plan(
    conninfo: str,
    kind: str,
    *,
    shards: int | None = None,
    shard_rows: int | None = None,
    **filters,
) -> list[TableShard]:
    """Cut the rows of ``kind`` that ``filters`` choose into ranges of ``id`` of about ``shard_rows`` rows
    (default 100 000), or into ``shards`` ranges of equal row counts, with one query over the ids.

    :param conninfo: a ``postgresql://`` URL or libpq connection string; the workers connect with it too.
    :param kind: a kind of :func:`flytecodec.sources.postgres.read` (``execution``, ``node-execution``,
        ``task-execution``, ``execution-spec``, …).
    :param filters: ``project``, ``domain``, ``name``, ``since``, ``phase``, ``archived``, ``trim_errors``,
        ``default_namespace``, as :func:`flytecodec.sources.postgres.read` takes them.
    :returns: at least one shard (one of every id when no row matches yet); their ranges partition all ids, in
        order (see the module's notes on rows written meanwhile).
    :raises SourceError: the database cannot be reached or the query fails.
    """
    spec = postgres.KINDS[postgres._check_kind(kind)]
    chosen = Filters.of(**filters)
    if shards is not None and shard_rows is not None:
        raise ValueError("give shards= or shard_rows=, not both")
    if shards is not None and shards < 1:
        raise ValueError(f"shards must be at least 1, got {shards}")
    if shard_rows is not None and shard_rows < 1:
        raise ValueError(f"shard_rows must be at least 1, got {shard_rows}")
    buckets = _buckets(conninfo, spec, chosen, shards, shard_rows or DEFAULT_SHARD_ROWS)
    bounds: list[int] = []
    counts: list[int] = []
    for low, rows in buckets:
        if bounds and bounds[-1] == low:  # one id on both sides of a bucket edge: the rows stay together
            counts[-1] += rows
        else:
            bounds.append(low)
            counts.append(rows)
    if not bounds:
        return [TableShard(conninfo, kind, chosen, None, None, 0)]
    edges: list[int | None] = [None, *bounds[1:], None]
    return [TableShard(conninfo, kind, chosen, edges[i], edges[i + 1], counts[i]) for i in range(len(bounds))]


def _buckets(
    conninfo: str, spec: postgres._Kind, chosen: Filters, shards: int | None, shard_rows: int
) -> list[tuple[int, int]]:
    """``(smallest id, rows)`` of each bucket of the chosen rows in id order, by the one planning query."""
    import psycopg
    from psycopg import sql

    options = chosen.options()
    where, params = postgres._conditions(
        spec, options["project"], options["domain"], options["name"], chosen.since, options["phase"], chosen.archived
    )
    if shards is not None:
        bucket, size = sql.SQL("ntile(%s) OVER (ORDER BY t.id)"), shards
    else:
        bucket, size = sql.SQL("(row_number() OVER (ORDER BY t.id) - 1) / %s"), shard_rows
    query = sql.SQL(
        "SELECT min(id), count(*) FROM (SELECT t.id, {} AS bucket FROM {} t WHERE {} AND t.id IS NOT NULL) s "
        "GROUP BY bucket ORDER BY 1"
    ).format(bucket, sql.Identifier(spec.table), where)
    with postgres.connect(conninfo) as conn:
        try:
            return conn.execute(query, [size, *params]).fetchall()
        except psycopg.Error as error:
            raise SourceError(f"planning the shards of {spec.table} failed: {postgres._first_line(error)}") from None


def read_shard(
    shard: TableShard,
    columns: Sequence[str] | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    backend: str | None = None,
) -> Iterator[pa.RecordBatch]:
    """The rows of ``shard`` as record batches of at most ``batch_size`` rows, of the columns of
    :func:`empty_table` (or those in ``columns``), read in primary key order (through one binary COPY on the
    native backend, a server-side cursor on the python one).

    :raises DecodeError: a stored message that does not decode: the table, the shard's id range, and the row by
        its primary key; ``index`` counts rows from the shard's first.
    :raises SourceError: the database cannot be reached or the connection is lost (naming the shard).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if columns is not None:
        columns = list(columns)
        _check_columns(shard.kind, columns)
    switch = (lambda: using_backend(backend)) if backend else contextlib.nullcontext
    stream = postgres.read(
        shard.conninfo,
        shard.kind,
        **shard.filters.options(),
        batch_size=batch_size,
        id_from=shard.low,
        id_to=shard.high,
    )
    while True:
        try:
            with switch():  # only around the decoding: the caller runs on its own backend between batches
                rows = next(stream, None)
                batches = None if rows is None else _batches(rows, columns)
        except DecodeError as error:
            raise DecodeError(
                f"{shard}: {error.reason}", index=error.index, offset=error.offset, model=error.model, hint=error.hint
            ) from None
        except SourceError as error:
            raise SourceError(f"{shard}: {error}") from None
        if batches is None:
            return
        yield from batches


def _batches(rows: postgres.Rows, columns: list[str] | None) -> list[pa.RecordBatch]:
    return rows.to_arrow(columns).to_batches()
