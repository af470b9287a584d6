"""The commands of ``flytecodec`` (click); :mod:`flytecodec.cli` is the entry point that runs them."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Callable, NoReturn

import click

import flytecodec
from flytecodec.exceptions import DecodeError
from flytecodec.framing import FRAMINGS
from flytecodec.kinds import KINDS, LIST_KINDS

PROG = "flytecodec"


class Failure(click.ClickException):
    """An error reported as one line, ``flytecodec: error: ...``, with exit status 1."""

    def show(self, file=None) -> None:
        click.echo(f"{PROG}: error: {self.format_message()}", err=True)


# -- options shared by decode and stats --------------------------------------------------------------------------


def _input_options(command: Callable) -> Callable:
    options = [
        click.argument("dumps", metavar="DUMP...", nargs=-1, required=True, type=click.Path(exists=True)),
        click.option(
            "--kind",
            required=True,
            type=click.Choice(list(KINDS)),
            help="What each record is: an admin Execution, NodeExecution or TaskExecution, or one of their parts "
            "as flyteadmin stores them (spec, closure).",
        ),
        click.option(
            "--framing",
            required=True,
            type=click.Choice(FRAMINGS),
            help="list: each file is a *List response (a page); delimited: varint length-prefixed records, "
            "across all files; message: each file is one record.",
        ),
        click.option(
            "--force",
            is_flag=True,
            help="Decode even when the first records do not look like --kind (wire types that contradict its "
            "schema, or fields it does not know on most of them).",
        ),
        click.option(
            "--glob",
            metavar="PATTERN",
            help="Of a directory DUMP, read only the files whose name matches PATTERN (e.g. 'page-*.pb'; "
            "default: every file). Files named directly are always read.",
        ),
        click.option(
            "--batch-size",
            default=10_000,
            show_default=True,
            type=click.IntRange(min=1),
            help="Records decoded at a time (memory use grows with it).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _check_framing(kind: str, framing: str) -> None:
    if framing == "list" and kind not in LIST_KINDS:
        raise click.BadParameter(
            f"'list' reads *List responses, which hold executions, node executions or task executions; "
            f"a dump of {kind} records is 'delimited' or 'message'",
            param_hint="'--framing'",
        )


def _input_files(dumps: Sequence[str], glob: str | None = None) -> list[str]:
    """The files of the input in order: a directory stands for its files (those matching ``glob``), as
    iter_batches reads them."""
    from flytecodec.streaming import directory_files

    files = []
    for dump in dumps:
        if not os.path.isdir(dump):
            files.append(dump)
            continue
        found = directory_files(dump, glob=glob)
        if glob is not None and not found:
            raise Failure(f"no file of {dump} matches --glob {shlex.quote(glob)}")
        files.extend(found)
    return files


class _InputFile:
    """A file of the input for iter_batches: opened on its first read, closed once read to its end, and
    reporting how many bytes were read (for the progress bar)."""

    def __init__(self, name: str, on_read: Callable[[int], None]):
        self.name = name  # iter_batches names the file in its errors
        self._on_read = on_read
        self._file = None
        self._done = False

    def read(self, size: int = -1) -> bytes:
        if self._done:
            return b""
        if self._file is None:
            self._file = open(self.name, "rb")  # noqa: SIM115 (closed by close(), at the end of the file)
        data = self._file.read(size)
        self._on_read(len(data))
        if size is None or size < 0 or not data:
            self.close()
        return data

    def close(self) -> None:
        self._done = True
        if self._file is not None:
            self._file.close()
            self._file = None


class _Progress:
    """Bytes read and records decoded, shown as a rich progress bar on stderr, or not shown."""

    def __init__(self, progress=None, task=None):
        self._progress, self._task, self.records = progress, task, 0

    def read(self, size: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=size)

    def decoded(self, records: int) -> None:
        self.records += records
        if self._progress is not None:
            self._progress.update(self._task, records=self.records)


@contextlib.contextmanager
def _progress(show: bool, total: int, what: str, doing: str = "decoding") -> Iterator[_Progress]:
    """A progress bar on stderr when ``show`` and stderr is a terminal: ``doing what`` over ``total`` bytes."""
    if not (show and sys.stderr.isatty()):
        yield _Progress()
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[records]} records"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        yield _Progress(progress, progress.add_task(f"{doing} {what}", total=total, records=0))


def _batches(
    files: Sequence[str], kind: str, framing: str, batch_size: int, progress: _Progress, *, force: bool = False
):
    """The input's batches; a :class:`DecodeError` becomes a one-line :class:`Failure`, and so do records that do
    not look like ``kind`` (:func:`_check_kind`) unless ``force``."""
    inputs = [_InputFile(name, progress.read) for name in files]
    model = KINDS[kind].load()
    try:
        for batch in flytecodec.iter_batches(inputs, model, framing=framing, batch_size=batch_size):
            if not force and progress.records == 0 and len(batch):
                _check_kind(batch, kind, framing)
            progress.decoded(len(batch))
            yield batch
    except DecodeError as error:
        hint = "" if force or progress.records else _kind_hint(files, kind, framing)
        raise Failure(f"{error}{hint}") from None
    except OSError as error:
        raise Failure(f"cannot read {error.filename or 'the input'}: {error.strerror or error}") from None
    finally:
        for file in inputs:
            file.close()


def _guess_kind(sample: Sequence[bytes], kind: str, framing: str):
    """:func:`flytecodec._guess.verdict` of ``sample`` against ``kind`` and the other kinds ``framing`` allows."""
    from flytecodec import _guess

    names = LIST_KINDS if framing == "list" else tuple(KINDS)
    descriptors = {name: KINDS[name].load()._pb_class.DESCRIPTOR for name in names}
    return _guess.verdict(sample, kind, descriptors)


def _kind_hint(files: Sequence[str], kind: str, framing: str) -> str:
    """For an input whose first batch failed to decode: ``"; they look like ... (--kind K)"`` when the first
    records are another kind, else nothing."""
    from flytecodec import _guess

    try:
        if framing == "message":
            sample = []
            for name in files[: _guess.SAMPLE]:
                with open(name, "rb") as f:
                    sample.append(f.read())
        else:
            with open(files[0], "rb") as f:
                sample = _guess.split(f.read(1 << 22 if framing == "delimited" else -1), framing)
    except (OSError, IndexError):
        return ""
    found = _guess_kind(sample, kind, framing) if sample else None
    if found is None or found.likely is None:
        return ""
    return f"; they look like {KINDS[found.likely].what} (--kind {found.likely}), not {KINDS[kind].what}"


def _check_kind(batch, kind: str, framing: str) -> None:
    """A :class:`Failure` naming the likely kind when the first records of ``batch`` do not look like ``kind``
    (:mod:`flytecodec._guess`)."""
    from flytecodec import _guess

    sample = [batch[i].serialize_to_string() for i in range(min(_guess.SAMPLE, len(batch)))]
    found = _guess_kind(sample, kind, framing)
    if found is None:
        return
    what, given = KINDS[kind].what, found.given
    evidence = f"{given.contradicting} of {given.records} sampled contradict its schema"
    if given.unknown:
        evidence += f" and {given.unknown} more have fields it does not know"
    if found.likely is not None:
        likely = f"they look like {KINDS[found.likely].what} (--kind {found.likely})"
    else:
        likely = "no other --kind fits them either (is --framing right?)"
    raise Failure(f"these records do not look like {what}: {evidence}; {likely}; --force decodes them anyway")


def _column_names(model: type) -> list[str]:
    from flytecodec import columns

    return columns.column_names(model)


def _empty_table(model: type, columns: list[str] | None, layout: str = "flat"):
    """A table with the kind's schema and no rows, for an input without records."""
    return flytecodec.decode(model, []).to_arrow(columns, layout=layout)


def _size(files: Sequence[str]) -> int:
    return sum(os.path.getsize(f) for f in files)


def _mb(size: int) -> str:
    return f"{size / 1e6:.2f} MB" if size < 10e6 else f"{size / 1e6:.1f} MB"


# -- the commands --------------------------------------------------------------------------------------------------


def _set_backend(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    try:
        if value:
            flytecodec.set_backend(value)
        else:
            flytecodec.backend()  # a bad FLYTECODEC_BACKEND is reported here, as a usage error
    except ValueError as error:
        raise click.BadParameter(str(error), ctx, param) from None
    return value


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(flytecodec.__version__, "--version", prog_name=PROG, message="%(prog)s %(version)s")
@click.option(
    "--backend",
    type=click.Choice(["native", "python"]),
    callback=_set_backend,
    expose_value=False,
    is_eager=True,
    help="Decoder to use: native (the Rust extension; the default when it is built) or python (protobuf's upb). "
    "FLYTECODEC_BACKEND does the same.",
)
def cli() -> None:
    """Decode Flyte admin execution records (protobuf dumps) into Parquet, Arrow, JSON lines or CSV, and
    summarize them.

    A dump is a file, several files, or a directory of files: saved *List responses (--framing list),
    varint length-prefixed records (delimited), or one record per file (message).
    """


@cli.command(short_help="Decode dumps into a Parquet, Arrow IPC, JSON lines or CSV file.")
@_input_options
@click.option(
    "--to",
    "out",
    required=True,
    type=click.Path(dir_okay=False),
    help="Output file; its suffix picks the format: .parquet, .arrow/.feather/.ipc (Arrow IPC file), .jsonl, .csv.",
)
@click.option(
    "--columns",
    metavar="A,B,...",
    help="Only these columns, in this order (default: all of the kind's columns).",
)
@click.option(
    "--layout",
    type=click.Choice(["flat", "nested"]),
    default="flat",
    show_default=True,
    help="flat: the kind's columns (docs/columns.md); nested: every field, nested as the message is, nothing "
    "lost (docs/nested.md; `flytecodec restore` gives the records back).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
def decode(
    dumps: tuple[str, ...],
    kind: str,
    framing: str,
    force: bool,
    glob: str | None,
    batch_size: int,
    out: str,
    columns: str | None,
    layout: str,
    quiet: bool,
) -> None:
    """Decode DUMP... into one table file, a batch at a time.

    \b
    Examples:
      flytecodec decode pages/ --kind execution --framing list --to executions.parquet
      flytecodec decode dump.bin --layout nested --to history.parquet
    """
    from flytecodec import _writers

    _check_framing(kind, framing)
    try:
        fmt = _writers.format_for(out)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--to'") from None
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise click.BadParameter(f"directory {parent!r} does not exist", param_hint="'--to'")
    _check_output(out, dumps)
    if layout == "nested" and columns is not None:
        raise click.BadParameter(
            "--columns is for the flat layout: the nested layout has every field", param_hint="'--columns'"
        )
    model = KINDS[kind].load()
    wanted = _parse_columns(columns, model)
    run_decode(
        _input_files(dumps, glob), kind, framing, out, fmt, wanted, batch_size, quiet=quiet, force=force, layout=layout
    )


def _check_output(out: str, dumps: Sequence[str]) -> None:
    """Refuse an output that is one of the inputs (writing it would destroy the dump) or that lies inside an
    input directory (the next run would read it back as a dump)."""
    target = os.path.realpath(out)
    for dump in dumps:
        source = os.path.realpath(dump)
        if os.path.isdir(source):
            if os.path.commonpath([source, target]) == source:
                raise Failure(f"--to {out} is inside the input directory {dump}: write it elsewhere")
        elif source == target or (os.path.exists(target) and os.path.samefile(source, target)):
            raise Failure(f"--to {out} is one of the inputs: decoding would overwrite the dump")


def _parse_columns(text: str | None, model: type, param_hint: str = "'--columns'") -> list[str] | None:
    if text is None:
        return None
    from flytecodec.columns import select

    wanted = [name.strip() for name in text.split(",")]
    try:
        select(model, wanted)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=param_hint) from None
    return wanted


def _table(batch, columns: list[str] | None, progress: _Progress, layout: str = "flat"):
    """``batch.to_arrow(columns, layout=layout)``; a value Arrow cannot hold (a timestamp past the year 294 247)
    is a one-line :class:`Failure` saying where the batch starts (the error counts records within it)."""
    try:
        return batch.to_arrow(columns, layout=layout)
    except ValueError as error:
        raise Failure(f"in the batch that starts at record {progress.records - len(batch)}: {error}") from None


def run_decode(
    files: Sequence[str],
    kind: str,
    framing: str,
    out: str,
    fmt: str,
    columns: list[str] | None,
    batch_size: int,
    *,
    quiet: bool = False,
    summary_to_stdout: bool = False,
    force: bool = False,
    layout: str = "flat",
) -> None:
    """Decode ``files`` into ``out``, a table of the ``layout``. The file is written under a temporary name beside
    it and renamed when complete, so a failure leaves no partial output (nor clobbers an earlier one)."""
    from flytecodec import _writers

    model, what = KINDS[kind].load(), KINDS[kind].what
    partial = f"{out}.{os.getpid()}.part"
    writer = _writers.writer_for(partial, fmt)
    total = _size(files)
    start = time.perf_counter()
    written = False
    with _stopped_by_signals():
        try:
            with _progress(not quiet, total, what) as progress:
                for batch in _batches(files, kind, framing, batch_size, progress, force=force):
                    writer.write(_table(batch, columns, progress, layout))
            writer.finish(_empty_table(model, columns, layout).schema)
            os.replace(partial, out)
            written = True
        except BaseException as error:
            give_up(error, writer, partial, out, written)
    elapsed = time.perf_counter() - start
    if not quiet:
        rate = total / 1e6 / elapsed if elapsed > 0 else float("inf")
        click.echo(
            f"decoded {progress.records} {what} ({_mb(total)}) in {elapsed:.2f} s, {rate:.1f} MB/s, "
            f"{flytecodec.backend()} backend: wrote {out}",
            err=not summary_to_stdout,
        )


class _Stopped(BaseException):
    """A signal asking the process to end (SIGTERM, SIGHUP, SIGQUIT) came while decoding."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, name))


@contextlib.contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """Turn SIGTERM, SIGHUP and SIGQUIT into :class:`_Stopped` (as SIGINT is a KeyboardInterrupt), so that the
    partial output is removed before the process ends; once one came, the others are ignored until the
    cleanup is done. Only the main thread can take signals: elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame) -> None:
        _ignore_stop_signals()
        raise _Stopped(signum)

    previous = {number: signal.signal(number, stop) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _ignore_stop_signals() -> None:
    """Ignore SIGTERM, SIGHUP and SIGQUIT (until :func:`_stopped_by_signals` restores them), so that a cleanup
    runs to its end; nothing outside the main thread."""
    if threading.current_thread() is threading.main_thread():
        for number in STOP_SIGNALS:
            signal.signal(number, signal.SIG_IGN)


def give_up(error: BaseException, writer, partial: str, out: str, written: bool) -> NoReturn:
    """After ``error`` while writing ``out`` under the name ``partial`` (with ``writer``, if any): remove the
    partial output and raise what to say — a one-line :class:`Failure` for a file that cannot be written or a
    stop signal (exit status 128 + the signal's number), the error itself otherwise."""
    _discard(writer, partial)
    if isinstance(error, OSError):
        raise Failure(f"cannot write {out}: {error.strerror or error}") from None
    if isinstance(error, _Stopped):
        outcome = f"{out} is complete" if written else "no output written"
        failure = Failure(f"stopped by {signal.Signals(error.signum).name}: {outcome}")
        failure.exit_code = 128 + error.signum
        raise failure from None
    raise error


def _discard(writer, partial: str) -> None:
    _ignore_stop_signals()
    if writer is not None:
        with contextlib.suppress(Exception):
            writer.abort()
    with contextlib.suppress(OSError):
        os.remove(partial)


@cli.command(short_help="Counts by phase, duration percentiles and error codes of dumps.")
@_input_options
@click.option(
    "--group-by",
    "group_by",
    metavar="COLUMN",
    help="Give duration percentiles by this column (default: launch_plan_name, node_id or task_name).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object instead of tables.")
def stats(
    dumps: tuple[str, ...],
    kind: str,
    framing: str,
    force: bool,
    glob: str | None,
    batch_size: int,
    group_by: str | None,
    as_json: bool,
) -> None:
    """Summarize DUMP...: records by phase, duration percentiles (by launch plan, node or task) and error codes.

    \b
    Examples:
      flytecodec stats dump.bin --kind task-execution --framing delimited
      flytecodec stats pages/ --kind execution --framing list --group-by project --json
    """
    _check_framing(kind, framing)
    if group_by is not None:
        available = _column_names(KINDS[kind].load())
        if "duration" not in available:
            raise click.BadParameter(f"{kind} records have no duration to group", param_hint="'--group-by'")
        _parse_columns(group_by, KINDS[kind].load(), param_hint="'--group-by'")
    run_stats(_input_files(dumps, glob), kind, framing, batch_size, force=force, group_by=group_by, as_json=as_json)


def run_stats(
    files: Sequence[str],
    kind: str,
    framing: str,
    batch_size: int,
    *,
    force: bool = False,
    group_by: str | None = None,
    as_json: bool = False,
) -> None:
    from flytecodec import _stats

    spec = KINDS[kind]
    model = spec.load()
    summary = _stats.Stats(_column_names(model), group_by or spec.group_key)
    columns = summary.columns
    with _progress(True, _size(files), spec.what) as progress:
        for batch in _batches(files, kind, framing, batch_size, progress, force=force):
            summary.add(_table(batch, columns, progress), len(batch))
    if as_json:
        click.echo(json.dumps(_stats.as_dict(summary, kind), ensure_ascii=False))
    else:
        _stats.render(summary, _stdout_console(), what=spec.what)


def _stdout_console():
    """A rich console for tables on stdout: no markup (record values may hold ``[...]``), no colours when piped,
    and 120 columns rather than 80 when not a terminal (COLUMNS overrides)."""
    from rich.console import Console

    console = Console(markup=False, highlight=False, emoji=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 120
    return console


@cli.command(short_help="Write a dump of realistic generated records.")
@click.argument("out", type=click.Path())
@click.option("--kind", default="execution", show_default=True, type=click.Choice(list(KINDS)))
@click.option("-n", "count", default=1_000, show_default=True, type=click.IntRange(min=0), help="Records.")
@click.option(
    "--framing",
    default="list",
    show_default=True,
    type=click.Choice(FRAMINGS),
    help="list: one *List response (executions, node or task executions); delimited: varint length-prefixed "
    "records; message: OUT is a directory, one record per file (000000.pb, 000001.pb, ...).",
)
@click.option("--seed", default=0, show_default=True, type=int, help="The same seed gives the same bytes.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing.")
def sample(out: str, kind: str, count: int, framing: str, seed: int, quiet: bool) -> None:
    """Write OUT: a dump of realistic generated records (flytecodec.testing.corpus) to try the other commands on.

    \b
    Examples:
      flytecodec sample --kind node-execution -n 5000 --framing delimited nodes.bin
      flytecodec sample --kind execution-closure -n 100 --framing message closures/
    """
    _check_framing(kind, framing)
    run_sample(out, kind, count, framing, seed, quiet=quiet)


def run_sample(out: str, kind: str, count: int, framing: str, seed: int, *, quiet: bool = False) -> None:
    from flytecodec.testing import corpus

    if kind in corpus.KINDS:
        records, response = corpus.KINDS[kind]
    else:
        records, response = corpus.PARTS[kind], None
    try:
        if framing == "list" and response is not None:
            data = response(count, seed, "").SerializeToString(deterministic=True)
            size = _write(out, data)
        elif framing == "delimited":
            size = _write(out, corpus.delimited(records(count, seed)))
        else:
            os.makedirs(out, exist_ok=True)
            width = max(6, len(str(count - 1)))
            size = sum(
                _write(os.path.join(out, f"{i:0{width}d}.pb"), record.SerializeToString(deterministic=True))
                for i, record in enumerate(records(count, seed))
            )
    except OSError as error:
        raise Failure(f"cannot write {error.filename or out}: {error.strerror or error}") from None
    if not quiet:
        click.echo(f"wrote {count} {KINDS[kind].what} ({_mb(size)}, {framing} framing, seed {seed}) to {out}")


def _write(path: str, data: bytes) -> int:
    with open(path, "wb") as f:
        f.write(data)
    return len(data)


@cli.command(short_help="Time flytecodec against flytekit and raw upb, or on your own dump.")
@click.argument("dumps", metavar="[DUMP...]", nargs=-1, type=click.Path(exists=True))
@click.option("--kind", type=click.Choice(list(KINDS)), help="With DUMP: what each record is (as for decode).")
@click.option("--framing", type=click.Choice(FRAMINGS), help="With DUMP: how the records are framed.")
@click.option("--glob", metavar="PATTERN", help="With a directory DUMP: only the files whose name matches.")
@click.option("--force", is_flag=True, help="With DUMP: time it even when its records do not look like --kind.")
@click.option("-n", "count", default=20_000, show_default=True, type=click.IntRange(min=1), help="Executions.")
@click.option("--repeat", default=3, show_default=True, type=click.IntRange(min=1), help="Runs; the best counts.")
@click.option("--chart", type=click.Path(dir_okay=False), help="Also draw the results as a bar chart (PNG).")
def bench(
    dumps: tuple[str, ...],
    kind: str | None,
    framing: str | None,
    glob: str | None,
    force: bool,
    count: int,
    repeat: int,
    chart: str | None,
) -> None:
    """Time decoding an ExecutionList and reading four fields of every record: flytekit, raw upb and flytecodec
    on each backend (also decode only, and to_arrow of every column).

    With DUMP... (and --kind, --framing), time decoding your own dump instead, read into memory first: raw upb
    parsing every record, flytecodec decoding it and building every column, on each backend.

    \b
    Example:
      flytecodec bench closures.bin --kind execution-closure --framing delimited
    """
    if chart and importlib.util.find_spec("matplotlib") is None:
        raise Failure("--chart needs matplotlib: pip install 'flytecodec[chart]'")
    from rich.console import Console

    from flytecodec import _bench

    if dumps:
        if kind is None or framing is None:
            raise click.UsageError("a DUMP needs --kind and --framing, as for decode")
        _check_framing(kind, framing)
        files = _input_files(dumps, glob)
        payloads = []
        for name in files:
            try:
                with open(name, "rb") as f:
                    payloads.append(f.read())
            except OSError as error:
                raise Failure(f"cannot read {name}: {error.strerror or error}") from None
        model = KINDS[kind].load()
        try:
            first = next((batch for batch in _bench.decode_dump(payloads, model, framing) if len(batch)), None)
            if first is not None and not force:
                _check_kind(first, kind, framing)
            results = _bench.run_dump(payloads, model, framing, repeat, Console(stderr=True))
        except DecodeError as error:
            raise Failure(f"{error}{_kind_hint(files, kind, framing)}") from None
        records = results[0].records if results else 0
        what = f"{records} {KINDS[kind].what} ({_mb(sum(map(len, payloads)))}) of {', '.join(dumps)}"
        table = _bench.table(results, repeat, what=what)
    else:
        what = None
        if kind is not None or framing is not None:
            raise click.UsageError("--kind and --framing go with a DUMP to time")
        if importlib.util.find_spec("flytekit") is None:
            raise Failure("bench compares against flytekit, which is not installed: pip install flytekit")
        results = _bench.run(count, repeat, Console(stderr=True))
        table = _bench.table(results, repeat)
    console = _stdout_console()
    console.print(table)
    if chart:
        _bench.chart(results, chart, what)
        console.print(f"chart: {chart}")


@cli.command(short_help="Sample, decode to Parquet and summarize 20 000 executions.")
@click.option(
    "--dir",
    "directory",
    default="flytecodec-sample",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where to write the sample and the Parquet file.",
)
@click.option("-n", "count", default=20_000, show_default=True, type=click.IntRange(min=0), help="Executions.")
def demo(directory: str, count: int) -> None:
    """Write a sample ExecutionList, decode it to Parquet and summarize it, showing the commands that do it."""
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as error:
        raise Failure(f"cannot create {directory}: {error.strerror or error}") from None
    dump = os.path.join(directory, "executions.pb")
    out = os.path.join(directory, "executions.parquet")
    active = flytecodec.backend()
    backend = "" if active == flytecodec.available_backends()[0] else f" --backend {active}"

    def show(*words: str) -> None:
        click.echo(f"$ {PROG}{backend} " + " ".join(shlex.quote(word) for word in words))

    show("sample", "--kind", "execution", "-n", str(count), "--framing", "list", dump)
    run_sample(dump, "execution", count, "list", 0)
    click.echo()
    show("decode", dump, "--kind", "execution", "--framing", "list", "--to", out)
    run_decode([dump], "execution", "list", out, "parquet", None, 10_000, summary_to_stdout=True)
    click.echo()
    show("stats", dump, "--kind", "execution", "--framing", "list")
    run_stats([dump], "execution", "list", 10_000)
