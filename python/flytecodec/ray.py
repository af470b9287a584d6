"""Ray: dumps as a ``ray.data.Dataset``, one read task per shard (needs ``flytecodec[ray]``).

>>> import flytecodec.ray
>>> ds = flytecodec.ray.read("dumps/", kind="execution", framing="delimited")
>>> ds.groupby("phase").count().take_all()

:class:`FlytecodecDatasource` is a ``ray.data.Datasource`` whose read tasks are the shards of
:func:`flytecodec.shards.plan` (planned on the driver, without decoding); each task decodes its shard with
:func:`flytecodec.shards.read_shard` into Arrow blocks of the kind's schema. Ray's column projection
(``ds.select_columns([...])``) is pushed down into the decoder. A flyteadmin database
(``flytecodec.ray.read("postgresql://…", kind="execution", project=...)``) gives one read task per range of
the table's ``id`` column; each task connects to the database itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from flytecodec.shards import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_SHARD_BYTES,
    Kind,
    Paths,
    Shard,
    model_for,
    plan,
    read_shard,
    schema,
)
from flytecodec.sources.postgres_shards import is_database

if TYPE_CHECKING:
    import ray.data

    from flytecodec.sources.postgres_shards import TableShard

try:
    from ray.data import Datasource as _Datasource
except ImportError:  # the class is defined only with Ray; read() says what to install
    _Datasource = None

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
    **read_args,
) -> ray.data.Dataset:
    """The records of ``source`` as a Ray dataset of the kind's columns (or those in ``columns``).

    The parameters are those of :func:`flytecodec.dask.read`, a database's filters (``project``, ``domain``,
    ``name``, ``since``, ``phase``, ``archived``, ``trim_errors``, ``default_namespace``) included; the other
    ``read_args`` go to ``ray.data.read_datasource`` (e.g. ``concurrency=``, ``num_cpus=``).

    :raises DecodeError: when the dataset is executed, for a bad record: the file, its byte range, the
        record's index and offset; for a database, the table, the shard's id range and the row's primary key
        (Ray raises it as a ``RayTaskError`` that is also a ``DecodeError``).
    :raises SourceError: (``flytecodec.sources.SourceError``) the database cannot be reached when planning.
    """
    if _Datasource is None:
        raise ImportError("flytecodec.ray needs Ray Data: pip install 'flytecodec[ray]'")
    import ray.data

    from flytecodec.sources.postgres_shards import FILTER_NAMES

    filters = {name: read_args.pop(name) for name in FILTER_NAMES if name in read_args}

    source_ = FlytecodecDatasource(
        source,
        kind=kind,
        framing=framing,
        columns=columns,
        shard_bytes=shard_bytes,
        shards=shards,
        batch_size=batch_size,
        backend=backend,
        shard_rows=shard_rows,
        **filters,
    )
    return ray.data.read_datasource(source_, **read_args)


if _Datasource is not None:

    class FlytecodecDatasource(_Datasource):
        """Dump files as a Ray datasource: one ``ReadTask`` per shard, giving Arrow tables."""

        def __init__(
            self,
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
        ):
            super().__init__()
            self._projection_map = None  # Ray's projection pushdown narrows it (apply_projection)
            self._database = is_database(source)
            self._kind = kind if self._database else model_for(kind)
            self._source = source if self._database else None  # the schema depends only on whether it is one
            self._columns = None if columns is None else list(columns)
            self._schema = schema(self._kind, self._columns, source=self._source)  # unknown names fail here
            self._shards = plan(
                source,
                self._kind,
                framing=framing,
                shard_bytes=shard_bytes,
                shards=shards,
                shard_rows=shard_rows,
                **filters,
            )
            self._batch_size = batch_size
            self._backend = backend

        def get_name(self) -> str:
            return "Flytecodec"

        def estimate_inmemory_data_size(self) -> int | None:
            if self._database:
                return None  # unknown before reading: the planner counts rows, not their bytes
            return sum(shard.nbytes for shard in self._shards if isinstance(shard, Shard))

        def supports_projection_pushdown(self) -> bool:
            return True

        def _read_columns(self) -> list[str] | None:
            """The columns to read: those asked for, narrowed by Ray's projection."""
            projection = getattr(self, "_projection_map", None)
            if projection is None:
                return self._columns
            chosen = self._columns if self._columns is not None else self._schema.names
            return [name for name in chosen if name in projection]

        def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None, data_context=None) -> list:
            from ray.data import ReadTask
            from ray.data.block import BlockMetadata

            columns = self._read_columns()
            target = schema(self._kind, columns, source=self._source)
            batch_size, backend = self._batch_size, self._backend
            tasks = []
            for shard in self._shards:
                if isinstance(shard, Shard):
                    size, files = shard.nbytes, tuple(dict.fromkeys(p.path for p in shard.pieces))
                else:  # a range of a table: its bytes are unknown before reading, its planned row count may be stale
                    size, files = None, ()
                metadata = BlockMetadata(num_rows=None, size_bytes=size, exec_stats=None, input_files=files)
                tasks.append(
                    ReadTask(
                        _shard_reader(shard, columns, batch_size, backend),
                        metadata,
                        schema=target,
                        per_task_row_limit=per_task_row_limit,
                    )
                )
            return tasks

else:
    FlytecodecDatasource = None  # type: ignore[assignment,misc]


def _shard_reader(shard: Shard | TableShard, columns: list[str] | None, batch_size: int, backend: str | None):
    """The read function of one shard's task: its blocks, one Arrow table per record batch."""

    def read_blocks():
        import pyarrow as pa

        for batch in read_shard(shard, columns, batch_size=batch_size, backend=backend):
            yield pa.Table.from_batches([batch])

    return read_blocks
