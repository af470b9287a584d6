"""``flytecodec restore``: tables of the nested layout (Parquet, Arrow IPC) back into a dump of the records.

The other direction of ``flytecodec decode --layout nested``: each row becomes its record again, exactly the
bytes a deterministic serialization of the original message gives (``docs/nested.md``), written in the
delimited framing or as one ``*List`` response. The dump is written under a temporary name and renamed when
complete; ``cli.main`` adds this command to the group.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence

import click

from flytecodec import kinds
from flytecodec._commands import Failure, _mb, _progress, _stopped_by_signals, give_up
from flytecodec.sources._rebuild import varint

FRAMINGS = ("delimited", "list")


@click.command(short_help="Turn nested tables (Parquet, Arrow IPC) back into a dump of the records.")
@click.argument("tables", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--to", "out", required=True, type=click.Path(dir_okay=False), help="The dump to write.")
@click.option(
    "--framing",
    default="delimited",
    show_default=True,
    type=click.Choice(FRAMINGS),
    help="delimited: varint length-prefixed records; list: one *List response (as flyteadmin's API serves a page).",
)
@click.option(
    "--kind",
    type=click.Choice(list(kinds.KINDS)),
    help="What the rows are; by default what the table's schema says (written by decode --layout nested).",
)
@click.option("--batch-size", default=10_000, show_default=True, type=click.IntRange(min=1), help="Rows at a time.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
def restore(tables: tuple[str, ...], out: str, framing: str, kind: str | None, batch_size: int, quiet: bool) -> None:
    """Write the records of TABLE... (made by `flytecodec decode --layout nested` or `Batch.to_arrow(
    layout="nested")`, as Parquet or Arrow IPC) into one dump, in the tables' order.

    \b
    Example:
      flytecodec decode dump.bin --kind execution --framing list --layout nested --to history.parquet
      flytecodec restore history.parquet --to dump-again.bin
    """
    if os.path.realpath(out) in {os.path.realpath(t) for t in tables}:
        raise click.BadParameter(f"{out} is one of the tables: write the dump elsewhere", param_hint="'--to'")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise click.BadParameter(f"directory {parent!r} does not exist", param_hint="'--to'")
    sources = [_Table(path) for path in tables]
    kind = kind or _kind_of(sources)
    if framing == "list" and kinds.get(kind).list_response is None:
        raise click.BadParameter(f"{kind} has no *List response: use --framing delimited", param_hint="'--framing'")
    run_restore(sources, kind, out, framing, batch_size, quiet=quiet)


class _Table:
    """One input table: Parquet or Arrow IPC (file or stream), read a batch at a time."""

    def __init__(self, path: str):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.path = path
        self.size = os.path.getsize(path)
        try:
            self._parquet = pq.ParquetFile(path)
            self.schema, self.rows = self._parquet.schema_arrow, self._parquet.metadata.num_rows
            return
        except pa.ArrowInvalid:
            self._parquet = None
        try:
            self._ipc = pa.ipc.open_file(pa.memory_map(path))  # mapped: counting the rows reads no data
            self.schema = self._ipc.schema
            self.rows = sum(self._ipc.get_batch(i).num_rows for i in range(self._ipc.num_record_batches))
        except pa.ArrowInvalid:
            raise Failure(f"{path} is neither a Parquet nor an Arrow IPC file") from None

    def batches(self, size: int) -> Iterator:
        if self._parquet is not None:
            yield from self._parquet.iter_batches(batch_size=size)
            return
        for i in range(self._ipc.num_record_batches):
            batch = self._ipc.get_batch(i)
            for start in range(0, batch.num_rows, size):
                yield batch.slice(start, size)


def _kind_of(sources: Sequence[_Table]) -> str:
    """The kind the tables' schemas name (all the same), or a Failure saying to give --kind."""
    named = set()
    for source in sources:
        metadata = source.schema.metadata or {}
        message = metadata.get(b"protobuf.message", b"").decode()
        if metadata.get(b"flytecodec.layout") != b"nested" or message not in kinds.BY_MESSAGE:
            raise Failure(
                f"{source.path} does not say what its rows are (no nested layout in its schema's metadata): "
                "give --kind, or make it with `flytecodec decode --layout nested`"
            )
        named.add(kinds.BY_MESSAGE[message].name)
    if len(named) > 1:
        raise Failure(f"the tables hold different kinds ({', '.join(sorted(named))}): restore them one kind at a time")
    return named.pop()


def run_restore(
    sources: Sequence[_Table], kind: str, out: str, framing: str, batch_size: int, *, quiet: bool = False
) -> None:
    """Write the records of ``sources`` into ``out``; a failure leaves no file."""
    import flytecodec

    model, what = kinds.get(kind).load(), kinds.get(kind).what
    # In a *List response each record is field 1 (the repeated records) of the response: tag, length, bytes.
    prefix = b"\x0a" if framing == "list" else b""
    partial = f"{out}.{os.getpid()}.part"
    start, records, size = time.perf_counter(), 0, 0
    with _stopped_by_signals():
        try:
            with (
                open(partial, "wb") as sink,
                _progress(not quiet, sum(s.size for s in sources), what, "restoring") as shown,
            ):
                for source in sources:
                    for table in source.batches(batch_size):
                        try:
                            batch = flytecodec.from_arrow(table, model)
                        except (ValueError, flytecodec.DecodeError) as error:
                            raise Failure(f"{source.path}, rows from {records}: {error}") from None
                        raws = [batch._records.raw(i) for i in range(len(batch))]
                        chunk = b"".join(prefix + varint(len(raw)) + raw for raw in raws)
                        sink.write(chunk)
                        size += len(chunk)
                        records += len(raws)
                        shown.read(source.size * len(raws) // max(source.rows, 1))
                        shown.decoded(len(raws))
            os.replace(partial, out)
        except BaseException as error:
            give_up(error, None, partial, out, written=False)
    if not quiet:
        elapsed = time.perf_counter() - start
        click.echo(
            f"restored {records} {what} in {elapsed:.2f} s: wrote {out} ({_mb(size)}, {framing} framing)",
            err=True,
        )
