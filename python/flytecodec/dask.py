"""Dask: dumps as a ``dask.dataframe.DataFrame``, one partition per shard (needs ``flytecodec[dask]``).

>>> import flytecodec.dask
>>> df = flytecodec.dask.read("dumps/", kind="execution", framing="delimited")
>>> df.groupby("phase", observed=True).duration.mean().compute()

The input is cut into shards by :func:`flytecodec.shards.plan` on the client (no decoding); each worker
decodes its shards with :func:`flytecodec.shards.read_shard` and only the columns the query uses: dask pushes
its column projection (``df[["phase", "duration"]]``) down into the decoder. A column's pandas type follows
from its Arrow type alone, never from its values: timestamps are ``datetime64[us, UTC]`` and durations
``timedelta64[us]`` (null: ``NaT``), enums categoricals of every name of their enum, and strings, numbers,
bools, maps and lists keep their Arrow type as a ``pandas.ArrowDtype`` (so integers stay integers when
some are null).

A flyteadmin database is a source too: ``flytecodec.dask.read("postgresql://flyte@db/flyteadmin",
kind="execution", project="flytesnacks")`` — one partition per range of the table's ``id`` column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flytecodec.shards import DEFAULT_BATCH_SIZE, DEFAULT_SHARD_BYTES, Kind, Paths, Shard, empty_table, plan, read_shard

if TYPE_CHECKING:
    import dask.dataframe
    import pandas
    import pyarrow as pa

    from flytecodec.sources.postgres_shards import TableShard

__all__ = ["read"]


def read(
    source: Paths,
    *,
    kind: Kind,
    framing: str | None = None,
    columns: Sequence[str] | None = None,
    shard_bytes: int | None = DEFAULT_SHARD_BYTES,
    shards: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    backend: str | None = None,
    shard_rows: int | None = None,
    **filters,
) -> dask.dataframe.DataFrame:
    """The records of ``source`` as a lazy Dask data frame of the kind's columns (or those in ``columns``).

    :param source: files, directories of pages, globs, or a list of them (:func:`flytecodec.shards.files_of`);
        the workers read them by the same absolute paths. Or a flyteadmin database, ``postgresql://…``: the
        client plans ranges of the table's ``id`` (one query), each worker connects and reads its ranges.
    :param kind: ``"execution"``, ``"node-execution"``, ``"task-execution"``, ``"execution-spec"``, … or a
        model class (files only).
    :param framing: ``"delimited"``, ``"list"`` or ``"message"`` (files only).
    :param shard_bytes: input bytes per partition (big delimited files are cut on record boundaries, small files
        grouped); ``shards``: about how many partitions instead; ``shard_rows``: rows per partition of a
        database (default 100 000).
    :param batch_size: records decoded at a time on a worker.
    :param backend: the backend the workers decode with (default: each worker's own, native where built).
    :param filters: for a database, the rows to read and how (``project``, ``domain``, ``name``, ``since``,
        ``phase``, ``archived``, ``trim_errors``, ``default_namespace``: see
        :func:`flytecodec.sources.postgres.read`); the columns are that source's (``row_updated_at``, a part's
        key columns).
    :raises DecodeError: when computed, for a bad record: the file, its byte range, the record's index and
        offset; for a database, the table, the shard's id range and the row's primary key.
    :raises SourceError: (``flytecodec.sources.SourceError``) the database cannot be reached, when planning or
        on a worker.
    """
    try:
        import dask.dataframe as dd
    except ImportError:
        raise ImportError("flytecodec.dask needs dask: pip install 'flytecodec[dask]'") from None
    planned = plan(
        source, kind, framing=framing, shard_bytes=shard_bytes, shards=shards, shard_rows=shard_rows, **filters
    )
    meta = to_pandas(empty_table(kind, columns, source=source))
    if not planned:
        return dd.from_pandas(meta, npartitions=1)
    return dd.from_map(
        ReadPartition(batch_size=batch_size, backend=backend),
        planned,
        meta=meta,
        label="flytecodec-read",
        columns=list(meta.columns),
    )


@dataclass(frozen=True)
class ReadPartition:
    """The partition of one shard, of the columns dask asks for (its ``columns=`` is the projection)."""

    batch_size: int = DEFAULT_BATCH_SIZE
    backend: str | None = None

    def __call__(self, shard: Shard | TableShard, columns: Sequence[str] | None = None) -> pandas.DataFrame:
        import pyarrow as pa

        batches = list(read_shard(shard, columns, batch_size=self.batch_size, backend=self.backend))
        if not batches:
            return to_pandas(shard.empty_table(columns))
        return to_pandas(pa.Table.from_batches(batches))


def to_pandas(table: pa.Table) -> pandas.DataFrame:
    """A table as pandas, every column's type fixed by its Arrow type (not by its values): numpy datetimes and
    timedeltas, categoricals for enums, an ``ArrowDtype`` for the rest."""
    import pandas as pd
    import pyarrow as pa

    def arrow_dtype(arrow_type: pa.DataType):
        if pa.types.is_dictionary(arrow_type) or pa.types.is_temporal(arrow_type):
            return None  # pyarrow's own conversion: a categorical, datetime64 or timedelta64
        return pd.ArrowDtype(arrow_type)

    if table.num_columns == 0:
        return pd.DataFrame(index=pd.RangeIndex(table.num_rows))
    return table.to_pandas(types_mapper=arrow_dtype)
