"""``flytecodec export``: records from flyteadmin's PostgreSQL database or its API into a Parquet, Arrow IPC,
JSON lines or CSV file, as ``flytecodec decode`` writes dumps (the same formats, progress bar, summary and
one-line errors, and no partial output)."""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

import flytecodec
from flytecodec._commands import Failure, _discard, _mb, _progress, give_up
from flytecodec.exceptions import DecodeError
from flytecodec.kinds import KINDS

if TYPE_CHECKING:
    import pyarrow

SCHEMES = ("postgresql://", "postgres://")


def _columns(text: str | None, known: list[str], kind: str) -> list[str] | None:
    if text is None:
        return None
    wanted = [name.strip() for name in text.split(",")]
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise click.BadParameter(
            f"no column {', '.join(map(repr, unknown))} for {kind}; the columns are {', '.join(known)}",
            param_hint="'--columns'",
        )
    return wanted


def read_watermark(path: str) -> datetime.datetime | None:
    """The time recorded in a watermark file, or None when the file does not exist yet."""
    from flytecodec.sources.postgres import parse_time

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read().strip()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise Failure(f"cannot read the watermark {path}: {error.strerror or error}") from None
    try:
        return parse_time(text)
    except ValueError:
        raise Failure(f"the watermark {path} holds {text[:60]!r}, not an ISO 8601 time") from None


def write_watermark(path: str, moment: datetime.datetime) -> None:
    partial = f"{path}.{os.getpid()}.part"
    try:
        with open(partial, "w", encoding="utf-8") as f:
            f.write(moment.astimezone(datetime.timezone.utc).isoformat() + "\n")
        os.replace(partial, path)
    except OSError as error:
        if os.path.exists(partial):
            os.remove(partial)
        raise Failure(f"cannot write the watermark {path}: {error.strerror or error}") from None


def _write_tables(out: str, fmt: str, what: str, tables: Iterator[tuple[pyarrow.Table, int]], schema, quiet: bool):
    """Write ``tables`` (each with the size of the messages it was decoded from) into ``out``, under a temporary
    name renamed when complete; on an error nothing is left. ``schema()`` gives the file's schema when no table
    came. Returns the records and bytes written and the seconds taken."""
    from flytecodec import _writers
    from flytecodec.sources import SourceError

    partial = f"{out}.{os.getpid()}.part"
    writer = _writers.writer_for(partial, fmt)
    start = time.perf_counter()
    nbytes = 0
    try:
        with _progress(not quiet, None, what) as progress:
            for table, size in tables:
                writer.write(table)
                nbytes += size
                progress.read(size)
                progress.decoded(table.num_rows)
        writer.finish(schema())
        os.replace(partial, out)
    except (DecodeError, SourceError, ValueError, ImportError) as error:
        _discard(writer, partial)
        raise Failure(str(error)) from None
    except BaseException as error:
        give_up(error, writer, partial, out, written=False)
    return progress.records, nbytes, time.perf_counter() - start


def _summary(what: str, records: int, nbytes: int, elapsed: float, out: str, mark: str = "") -> None:
    rate = nbytes / 1e6 / elapsed if elapsed > 0 else float("inf")
    click.echo(
        f"exported {records} {what} ({_mb(nbytes)}) in {elapsed:.2f} s, {rate:.1f} MB/s, "
        f"{flytecodec.backend()} backend: wrote {out}{mark}",
        err=True,
    )


def run_export(
    url: str,
    kind: str,
    out: str,
    fmt: str,
    columns: list[str] | None,
    *,
    filters: dict,
    watermark: str | None = None,
    batch_size: int = 10_000,
    quiet: bool = False,
) -> None:
    """Export the ``kind`` rows of the database at ``url`` into ``out`` (written under a temporary name and
    renamed when complete); with ``watermark``, only rows updated at or after the time it holds, and record the
    latest ``updated_at`` exported in it afterwards."""
    from flytecodec.sources import postgres

    since = filters.pop("since", None)
    if watermark is not None:
        mark = read_watermark(watermark)
        if mark is not None and (since is None or mark > since):
            since = mark
    newest: list[int] = []  # the latest updated_at of each batch, in microseconds

    def tables():
        for rows in postgres.read(url, kind, since=since, batch_size=batch_size, **filters):
            known = [micros for micros in rows.updated_micros if micros is not None]  # NULL: no time to record
            if known:
                newest.append(max(known))
            yield rows.to_arrow(columns), rows.nbytes

    what = KINDS[kind].what
    schema = lambda: postgres.empty(kind).to_arrow(columns).schema  # noqa: E731
    records, nbytes, elapsed = _write_tables(out, fmt, what, tables(), schema, quiet)
    latest = postgres.from_micros(max(newest)) if newest else None
    if watermark is not None and latest is not None:
        write_watermark(watermark, latest)
    if not quiet:
        note = f"; watermark {latest.isoformat()}" if watermark is not None and latest is not None else ""
        _summary(what, records, nbytes, elapsed, out, note)


def run_grpc_export(
    target: str,
    kind: str,
    out: str,
    fmt: str,
    columns: list[str] | None,
    *,
    insecure: bool = False,
    batch_size: int = 10_000,
    quiet: bool = False,
    **options,
) -> None:
    """Export the ``kind`` records that flyteadmin's API at ``target`` lists (``options`` as
    :func:`flytecodec.sources.grpc.read` takes them) into ``out``, ``batch_size`` records to a table."""
    from flytecodec.bulk import concat
    from flytecodec.sources import grpc as admin

    def tables():
        with admin.connect(target, insecure=insecure) as channel:
            pages, count, nbytes = [], 0, 0
            for page in admin.read_pages(channel, kind, **options):
                pages.append(page.batch)
                count += len(page.batch)
                nbytes += page.nbytes
                if count >= batch_size:
                    yield concat(pages).to_arrow(columns), nbytes
                    pages, count, nbytes = [], 0, 0
            if pages:
                yield concat(pages).to_arrow(columns), nbytes

    what = KINDS[kind].what
    schema = lambda: admin.empty(kind).to_arrow(columns).schema  # noqa: E731
    records, nbytes, elapsed = _write_tables(out, fmt, what, tables(), schema, quiet)
    if not quiet:
        _summary(what, records, nbytes, elapsed, out)


GRPC_SCHEME = "grpc://"
_PG_ONLY = ("since", "phases", "archived", "trim_errors", "default_namespace", "watermark")
_GRPC_ONLY = ("insecure", "filters", "sort_by", "page_size", "in_flight", "retries", "token", "node")


@click.command(short_help="Export records from flyteadmin's PostgreSQL database or API into a table file.")
@click.argument("url", metavar="postgresql://USER@HOST:PORT/DB | grpc://HOST:PORT")
@click.option(
    "--kind",
    required=True,
    type=click.Choice(list(KINDS)),
    help="Records rebuilt as flyteadmin's API returns them (execution, node-execution, task-execution), or a "
    "part as stored (spec, closure) with its table's key columns (database only).",
)
@click.option("--to", "out", required=True, type=click.Path(dir_okay=False), help="Output file, as for decode.")
@click.option("--project", help="Only this execution project (required for grpc://).")
@click.option("--domain", help="Only this execution domain (required for grpc://).")
@click.option(
    "--execution",
    "name",
    metavar="NAME",
    help="Only this execution: its node executions (all levels) or task executions.",
)
@click.option(
    "--since", metavar="ISO-TIME", help="Database: only rows updated at or after this time (UTC unless it says)."
)
@click.option(
    "--phase", "phases", multiple=True, metavar="PHASE", help="Database: only rows in this phase (repeatable)."
)
@click.option(
    "--archived", is_flag=True, help="Database: also archived executions (flyteadmin's lists leave them out)."
)
@click.option(
    "--trim-errors", is_flag=True, help="Database: cut error messages to 100 bytes, as flyteadmin's lists do."
)
@click.option(
    "--default-namespace", default="", help="Database: flyteadmin's default namespace, for specs without one."
)
@click.option("--columns", metavar="A,B,...", help="Only these columns, in this order (row_updated_at included).")
@click.option(
    "--watermark",
    type=click.Path(dir_okay=False),
    help="Database: file holding the latest updated_at exported: read first (only rows updated since), written after.",
)
@click.option("--insecure", is_flag=True, help="API: a plain-text connection (no TLS).")
@click.option("--filters", metavar="EXPR", help="API: flyteadmin's filters, e.g. 'eq(phase,FAILED)'.")
@click.option("--sort", "sort_by", metavar="asc(KEY)|desc(KEY)", help="API: the order, e.g. 'desc(created_at)'.")
@click.option("--page-size", type=click.IntRange(min=1), help="API: records per page (default 100).")
@click.option("--in-flight", type=click.IntRange(min=1), help="API: pages requested at a time (default 8).")
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    help="API: times a page is asked for again when flyteadmin is unavailable (default 3, waiting 0.25 s, 0.5 s, 1 s).",
)
@click.option(
    "--token",
    metavar="TOKEN",
    help="API: a bearer token (better: the FLYTECODEC_TOKEN environment variable, read when this is not given).",
)
@click.option("--node", metavar="NODE-ID", help="API, with --kind task-execution: only this node's task executions.")
@click.option("--batch-size", default=10_000, show_default=True, type=click.IntRange(min=1), help="Rows at a time.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
def export(url: str, kind: str, out: str, columns: str | None, batch_size: int, quiet: bool, **options) -> None:
    """Export the records of flyteadmin's database (postgresql://) or API (grpc://) into one table file.

    From the database, each record is rebuilt as flyteadmin's API returns it (error messages whole unless
    --trim-errors), with the row's updated_at as row_updated_at. From the API, the records are those its list
    calls return, pages fetched several at a time.

    \b
    Examples:
      flytecodec export postgresql://flyte@localhost:5432/flyteadmin --kind execution --to executions.parquet \\
          --project flytesnacks --since 2026-01-01 --watermark executions.watermark
      flytecodec export grpc://localhost:8089 --insecure --project flytesnacks --domain development \\
          --kind execution --filters 'eq(phase,FAILED)' --to failed.parquet
    """
    from flytecodec import _writers

    api = url.startswith(GRPC_SCHEME)
    if not api and not url.startswith(SCHEMES):
        raise click.BadParameter(
            f"export reads a flyteadmin database ({SCHEMES[0]}USER@HOST:PORT/DB) or its API ({GRPC_SCHEME}HOST:PORT)",
            param_hint="URL",
        )
    for option in _PG_ONLY if api else _GRPC_ONLY:
        given = options[option]
        if given is not None and given is not False and given not in ("", ()):  # --retries 0 is given
            flag = "--" + {"phases": "phase", "sort_by": "sort"}.get(option, option).replace("_", "-")
            where = "a database (postgresql://)" if api else "the API (grpc://)"
            raise click.BadParameter(f"{flag} is for {where}", param_hint=f"'{flag}'")
    try:
        fmt = _writers.format_for(out)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--to'") from None
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise click.BadParameter(f"directory {parent!r} does not exist", param_hint="'--to'")
    if api:
        _export_api(url, kind, out, fmt, columns, batch_size, quiet, options)
    else:
        _export_database(url, kind, out, fmt, columns, batch_size, quiet, options)


def _export_database(url, kind, out, fmt, columns, batch_size, quiet, options) -> None:
    from flytecodec.sources.postgres import column_names, parse_time

    try:
        start = parse_time(options["since"])
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--since'") from None
    filters = {
        "project": options["project"],
        "domain": options["domain"],
        "name": options["name"],
        "since": start,
        "phase": list(options["phases"]) or None,
        "archived": options["archived"],
        "trim_errors": options["trim_errors"],
        "default_namespace": options["default_namespace"],
    }
    run_export(url, kind, out, fmt, _columns(columns, column_names(kind), kind), filters=filters,
               watermark=options["watermark"], batch_size=batch_size, quiet=quiet)  # fmt: skip


def _export_api(url, kind, out, fmt, columns, batch_size, quiet, options) -> None:
    from flytecodec.columns import column_names
    from flytecodec.shards import model_for
    from flytecodec.sources import grpc as admin

    if kind not in admin.KINDS:
        raise click.BadParameter(f"flyteadmin's API lists {', '.join(admin.KINDS)}", param_hint="'--kind'")
    for option in ("project", "domain"):
        if not options[option]:
            raise click.BadParameter(f"--{option} is required for {GRPC_SCHEME}", param_hint=f"'--{option}'")
    if kind != "execution" and not options["name"]:
        raise click.BadParameter(f"--kind {kind} lists the records of one execution", param_hint="'--execution'")
    if options["node"] and kind != "task-execution":
        raise click.BadParameter("--node selects task executions (--kind task-execution)", param_hint="'--node'")
    known = column_names(model_for(kind))
    read = {
        "project": options["project"],
        "domain": options["domain"],
        "execution": options["name"],
        "node": options["node"],
        "filters": options["filters"] or "",
        "sort_by": options["sort_by"],
        "page_size": options["page_size"] or 100,
        "in_flight": options["in_flight"] or 8,
        "retries": 3 if options["retries"] is None else options["retries"],
        "token": options["token"],
    }
    if read["sort_by"] is not None:
        try:
            admin.check_sort(read["sort_by"])
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="'--sort'") from None
    run_grpc_export(url, kind, out, fmt, _columns(columns, known, kind), insecure=options["insecure"],
                    batch_size=batch_size, quiet=quiet, **read)  # fmt: skip
