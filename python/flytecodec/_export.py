"""``flytecodec export``: records from flyteadmin's PostgreSQL database into a Parquet, Arrow IPC, JSON lines or
CSV file, as ``flytecodec decode`` writes dumps (the same formats, progress bar, summary and one-line errors, and
no partial output)."""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Sequence

import click

import flytecodec
from flytecodec._commands import KINDS, Failure, _discard, _mb, _progress, cli
from flytecodec.exceptions import DecodeError

SCHEMES = ("postgresql://", "postgres://")


def _columns(text: str | None, kind: str) -> list[str] | None:
    if text is None:
        return None
    from flytecodec.sources.postgres import column_names

    known = column_names(kind)
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
    from flytecodec import _writers
    from flytecodec.sources import SourceError, postgres

    since = filters.pop("since", None)
    if watermark is not None:
        mark = read_watermark(watermark)
        if mark is not None and (since is None or mark > since):
            since = mark
    what = KINDS[kind].what
    partial = f"{out}.{os.getpid()}.part"
    writer = _writers.writer_for(partial, fmt)
    start = time.perf_counter()
    nbytes, latest = 0, None
    try:
        with _progress(not quiet, None, what) as progress:
            for rows in postgres.read(url, kind, since=since, batch_size=batch_size, **filters):
                writer.write(rows.to_arrow(columns))
                nbytes += rows.nbytes
                progress.read(rows.nbytes)
                progress.decoded(len(rows))
                newest = max(rows.updated_at)
                latest = newest if latest is None or newest > latest else latest
        writer.finish(postgres.empty(kind).to_arrow(columns).schema)
        os.replace(partial, out)
    except (DecodeError, SourceError, ValueError) as error:
        _discard(writer, partial)
        raise Failure(str(error)) from None
    except ImportError as error:
        _discard(writer, partial)
        raise Failure(str(error)) from None
    except OSError as error:
        _discard(writer, partial)
        raise Failure(f"cannot write {out}: {error.strerror or error}") from None
    except BaseException:
        _discard(writer, partial)
        raise
    if watermark is not None and latest is not None:
        write_watermark(watermark, latest)
    elapsed = time.perf_counter() - start
    if not quiet:
        rate = nbytes / 1e6 / elapsed if elapsed > 0 else float("inf")
        mark = f"; watermark {latest.isoformat()}" if watermark is not None and latest is not None else ""
        click.echo(
            f"exported {progress.records} {what} ({_mb(nbytes)}) in {elapsed:.2f} s, {rate:.1f} MB/s, "
            f"{flytecodec.backend()} backend: wrote {out}{mark}",
            err=True,
        )


@cli.command(short_help="Export records from flyteadmin's PostgreSQL database into a table file.")
@click.argument("url", metavar="postgresql://USER@HOST:PORT/DB")
@click.option(
    "--kind",
    required=True,
    type=click.Choice(list(KINDS)),
    help="Records rebuilt as flyteadmin's API returns them (execution, node-execution, task-execution), or a "
    "part as stored (spec, closure) with its table's key columns.",
)
@click.option("--to", "out", required=True, type=click.Path(dir_okay=False), help="Output file, as for decode.")
@click.option("--project", help="Only this execution project.")
@click.option("--domain", help="Only this execution domain.")
@click.option("--execution", "name", metavar="NAME", help="Only this execution (e.g. its node executions).")
@click.option("--since", metavar="ISO-TIME", help="Only rows updated at or after this time (UTC unless it says).")
@click.option("--phase", "phases", multiple=True, metavar="PHASE", help="Only rows in this phase (repeatable).")
@click.option("--archived", is_flag=True, help="Also archived executions (flyteadmin's lists leave them out).")
@click.option("--trim-errors", is_flag=True, help="Cut error messages to 100 bytes, as flyteadmin's list calls do.")
@click.option("--default-namespace", default="", help="flyteadmin's default namespace, for specs without one.")
@click.option("--columns", metavar="A,B,...", help="Only these columns, in this order (row_updated_at included).")
@click.option(
    "--watermark",
    type=click.Path(dir_okay=False),
    help="File holding the latest updated_at exported: read first (only rows updated since), written after.",
)
@click.option("--batch-size", default=10_000, show_default=True, type=click.IntRange(min=1), help="Rows at a time.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
def export(
    url: str,
    kind: str,
    out: str,
    project: str | None,
    domain: str | None,
    name: str | None,
    since: str | None,
    phases: Sequence[str],
    archived: bool,
    trim_errors: bool,
    default_namespace: str,
    columns: str | None,
    watermark: str | None,
    batch_size: int,
    quiet: bool,
) -> None:
    """Export the records of a flyteadmin database into one table file, each rebuilt as flyteadmin's API
    returns it (error messages whole unless --trim-errors), with the row's updated_at as row_updated_at.

    \b
    Example:
      flytecodec export postgresql://flyte@localhost:5432/flyteadmin --kind execution --to executions.parquet \\
          --project flytesnacks --since 2026-01-01 --watermark executions.watermark
    """
    from flytecodec import _writers
    from flytecodec.sources.postgres import parse_time

    if not url.startswith(SCHEMES):
        raise click.BadParameter(f"export reads a flyteadmin database: {SCHEMES[0]}USER@HOST:PORT/DB", param_hint="URL")
    try:
        fmt = _writers.format_for(out)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--to'") from None
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise click.BadParameter(f"directory {parent!r} does not exist", param_hint="'--to'")
    try:
        start = parse_time(since)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--since'") from None
    filters = {
        "project": project,
        "domain": domain,
        "name": name,
        "since": start,
        "phase": list(phases) or None,
        "archived": archived,
        "trim_errors": trim_errors,
        "default_namespace": default_namespace,
    }
    run_export(url, kind, out, fmt, _columns(columns, kind), filters=filters, watermark=watermark,
               batch_size=batch_size, quiet=quiet)  # fmt: skip
