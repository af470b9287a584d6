"""flyteadmin's PostgreSQL database as a source of executions, node executions and task executions.

Each message is rebuilt from its row exactly as flyteadmin's API rebuilds it (``flytecodec.sources._rebuild``)
and decoded into lazy models a batch at a time (bounded memory), in one transaction (one consistent snapshot):
on the native backend through ``COPY (SELECT ...) TO STDOUT (FORMAT BINARY)``, whose stream Rust parses and
rebuilds without a Python object per row (``rust/pgcopy.rs``, ``rust/rows.rs``); on the python backend through
a server-side cursor. Needs psycopg 3: ``pip install 'flytecodec[postgres]'``.

    from flytecodec.sources import postgres

    for rows in postgres.read("postgresql://flyte@localhost/flyteadmin", "execution", project="flytesnacks"):
        for execution in rows:
            print(execution.id.name, execution.closure.phase)
        rows.to_arrow()       # a pyarrow.Table, with the row's updated_at as `row_updated_at`
"""

from __future__ import annotations

import contextlib
import datetime
import re
import urllib.parse
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Callable, Generic, NamedTuple, TypeVar, Union, overload

from flytecodec._backend import backend
from flytecodec.bulk import Batch, decode
from flytecodec.exceptions import DecodeError
from flytecodec.sources import SourceError, _rebuild

if TYPE_CHECKING:
    import psycopg
    import pyarrow

M = TypeVar("M")
Since = Union[datetime.datetime, str, None]

EXECUTION_KEY = ("execution_project", "execution_domain", "execution_name")
NODE_KEY = (*EXECUTION_KEY, "node_id")
TASK_KEY = ("project", "domain", "name", "version", *NODE_KEY, "retry_attempt")
UPDATED_AT = "row_updated_at"  # the row's updated_at, as a column of to_arrow()
# timestamptz columns are read as their binary value, microseconds since 2000-01-01 UTC (±2**63-1: ±infinity)
_PG_EPOCH = 946_684_800_000_000  # 2000-01-01 in microseconds since the Unix epoch
_INFINITY = 2**63 - 1


class _Kind(NamedTuple):
    table: str
    key: tuple[str, ...]
    columns: tuple[str, ...]  # selected after the key columns; the last one is updated_at
    model: str  # module.Class
    # row -> message bytes (the native backend's `rebuild_rows` applies the same rules to a batch of the table's
    # rows read through COPY); None: the part as stored
    build: Callable[[tuple, bool, str], bytes] | None

    def load(self) -> type:
        import importlib

        module, name = self.model.rsplit(".", 1)
        return getattr(importlib.import_module(module), name)

    @property
    def types(self) -> str:
        """The type of each selected column, one letter each, as ``_native.CopyStream`` reads them."""
        return "".join(_COLUMN_TYPES.get(column, "t") for column in (*self.key, *self.columns))


def _execution(row: tuple, trim: bool, namespace: str) -> bytes:
    project, domain, name, spec, closure, phase, abort_cause, user, created_at, _ = row
    if created_at is None:  # flyteadmin cannot read such a row either (its model's CreatedAt is not nullable)
        raise _rebuild.Malformed("created_at is NULL")
    if not -_INFINITY < created_at < _INFINITY:
        raise _rebuild.Malformed("created_at is infinite")
    return _rebuild.execution(
        project,
        domain,
        name,
        spec or b"",
        closure or b"",
        phase or "",
        abort_cause or "",
        user or "",
        created_at + _PG_EPOCH,
        trim=trim,
        namespace=namespace,
    )


def _node_execution(row: tuple, trim: bool, namespace: str) -> bytes:
    project, domain, name, node_id, input_uri, closure, metadata, has_children, dynamic, _ = row
    return _rebuild.node_execution(
        project, domain, name, node_id, input_uri or "", closure or b"", metadata or b"", has_children, dynamic or "",
        trim=trim,
    )  # fmt: skip


def _task_execution(row: tuple, trim: bool, namespace: str) -> bytes:
    input_uri, closure, has_children = row[9], row[10], row[11]
    return _rebuild.task_execution(
        row[0:4], row[4:7], row[7], row[8], input_uri or "", closure or b"", has_children, trim=trim
    )


_NODE_CHILDREN = "EXISTS (SELECT 1 FROM node_executions c WHERE c.parent_id = t.id AND c.deleted_at IS NULL)"
_TASK_CHILDREN = (
    "EXISTS (SELECT 1 FROM node_executions c WHERE c.parent_task_execution_id = t.id AND c.deleted_at IS NULL)"
)
_DYNAMIC = "dynamic_workflow_remote_closure_reference"
# the selected columns that are not text: b bytea, ? bool, i integer, T timestamptz
_COLUMN_TYPES = {"spec": "b", "closure": "b", "node_execution_metadata": "b", _NODE_CHILDREN: "?",
                 _TASK_CHILDREN: "?", "retry_attempt": "i", "created_at": "T", "updated_at": "T"}  # fmt: skip
KINDS: dict[str, _Kind] = {
    "execution": _Kind(
        "executions",
        EXECUTION_KEY,
        ("spec", "closure", "phase", "abort_cause", '"user"', "created_at", "updated_at"),
        "flytecodec.models.execution.Execution",
        _execution,
    ),
    "node-execution": _Kind(
        "node_executions",
        NODE_KEY,
        ("input_uri", "closure", "node_execution_metadata", _NODE_CHILDREN, _DYNAMIC, "updated_at"),
        "flytecodec.models.node_execution.NodeExecution",
        _node_execution,
    ),
    "task-execution": _Kind(
        "task_executions",
        TASK_KEY,
        ("input_uri", "closure", _TASK_CHILDREN, "updated_at"),
        "flytecodec.models.admin.task_execution.TaskExecution",
        _task_execution,
    ),
    "execution-spec": _Kind(
        "executions", EXECUTION_KEY, ("spec", "updated_at"), "flytecodec.models.execution.ExecutionSpec", None
    ),
    "execution-closure": _Kind(
        "executions", EXECUTION_KEY, ("closure", "updated_at"), "flytecodec.models.execution.ExecutionClosure", None
    ),
    "node-execution-closure": _Kind(
        "node_executions",
        NODE_KEY,
        ("closure", "updated_at"),
        "flytecodec.models.node_execution.NodeExecutionClosure",
        None,
    ),
    "task-execution-closure": _Kind(
        "task_executions",
        TASK_KEY,
        ("closure", "updated_at"),
        "flytecodec.models.admin.task_execution.TaskExecutionClosure",
        None,
    ),
}


class Rows(Generic[M], Sequence[M]):
    """One batch of rows: the decoded models (``batch``), each row's primary key (``keys``, named by
    ``key_columns``), its ``updated_at`` (as microseconds since the Unix epoch: ``updated_micros``), and
    ``nbytes``, the size of the messages decoded (the stored bytes and, for rebuilt messages, the few bytes of
    their id and of flyteadmin's changes).
    Iterating, indexing and ``len`` go to ``batch``. Read through COPY (the native backend), ``keys`` and
    ``updated_micros`` are made on first access from the batch of COPY cells, which :meth:`to_arrow` reads
    without them."""

    __slots__ = ("_copy", "_keys", "_micros", "batch", "key_columns", "nbytes", "part")

    def __init__(
        self,
        batch: Batch,
        key_columns: tuple[str, ...],
        keys: list[tuple] | None,
        updated_micros: list[int | None] | None,
        part: bool,
        nbytes: int = 0,
        copy: Any = None,
    ):
        self.batch = batch
        self.nbytes = nbytes
        self.key_columns = key_columns
        self._keys = keys
        self._micros = updated_micros
        self._copy = copy  # the _native.CopyRows the rows were read from (keys and times None until asked for)
        self.part = part  # a part (spec or closure) as stored: its table has no id, so to_arrow adds the key

    def __len__(self) -> int:
        return len(self.batch)

    @property
    def keys(self) -> list[tuple]:
        """Each row's primary key, a tuple of the ``key_columns`` values."""
        if self._keys is None:
            self._keys = self._copy.tuples(len(self.key_columns))
        return self._keys

    @property
    def updated_micros(self) -> list[int | None]:
        """Each row's ``updated_at`` in microseconds since the Unix epoch (None where the column is NULL)."""
        if self._micros is None:
            import array

            valid, data = self._copy.int64s(self._copy.width - 1)
            values = array.array("q")
            values.frombytes(data)
            micros: list[int | None] = values.tolist()
            if valid is not None:
                micros = [value if valid[i >> 3] >> (i & 7) & 1 else None for i, value in enumerate(micros)]
            self._micros = micros
        return self._micros

    @property
    def updated_at(self) -> list[datetime.datetime | None]:
        """Each row's ``updated_at``, an aware datetime in UTC (None where the column is NULL)."""
        return [from_micros(micros) if micros is not None else None for micros in self.updated_micros]

    @overload
    def __getitem__(self, index: int) -> M: ...

    @overload
    def __getitem__(self, index: slice) -> Batch: ...

    def __getitem__(self, index):
        return self.batch[index]

    def __iter__(self) -> Iterator[M]:
        return iter(self.batch)

    def __repr__(self) -> str:
        return f"<Rows of {len(self)} {self.batch.model.__name__}>"

    def extra_columns(self) -> list[str]:
        """The columns :meth:`to_arrow` adds to the batch's: the key columns of a part, and ``row_updated_at``."""
        return [*(self.key_columns if self.part else ()), UPDATED_AT]

    def to_arrow(self, columns: Sequence[str] | None = None) -> pyarrow.Table:
        """The batch's table (:meth:`Batch.to_arrow`) with the row columns: for a part, its key columns first;
        always ``row_updated_at`` (the row's ``updated_at``) last. ``columns`` may name any of them."""
        import pyarrow as pa

        extra = self.extra_columns()
        wanted = list(columns) if columns is not None else [*extra[:-1], *_model_columns(self.batch.model), UPDATED_AT]
        table = self.batch.to_arrow([c for c in wanted if c not in extra])
        arrays = {}
        for i, name in enumerate(self.key_columns):
            if name in wanted and self.part:
                if self._copy is not None:
                    arrays[name] = _copy_column(self._copy, i, name == "retry_attempt")
                else:
                    values = [key[i] for key in self.keys]
                    arrays[name] = _int64s(values) if name == "retry_attempt" else _strings(values)
        if UPDATED_AT in wanted:
            if self._copy is not None:
                updated = _copy_column(self._copy, self._copy.width - 1, True)
            else:
                updated = _int64s(self.updated_micros)
            arrays[UPDATED_AT] = updated.view(pa.timestamp("us", tz="UTC"))
        if not wanted:
            return table  # no column, a row per record (pa.table of no arrays would have no rows)
        return pa.table([arrays[c] if c in arrays else table.column(c) for c in wanted], names=wanted)


# Arrays built from buffers: pyarrow.array() of a Python list imports pandas (seconds, once per process).
def _int64s(values: list[int] | list[int | None]) -> pyarrow.Array:
    """An int64 array of ``values``, None (a NULL column) as null."""
    import array

    import pyarrow as pa

    valid = None
    if None in values:
        bits = sum(1 << i for i, value in enumerate(values) if value is not None)
        valid = pa.py_buffer(bits.to_bytes((len(values) + 7) // 8, "little"))
        values = [value or 0 for value in values]
    return pa.Array.from_buffers(pa.int64(), len(values), [valid, pa.py_buffer(array.array("q", values))])


def _copy_column(rows: Any, column: int, integer: bool) -> pyarrow.Array:
    """Column ``column`` of a batch of COPY cells (``_native.CopyRows``) as an int64 array (a timestamptz in
    microseconds since the Unix epoch) or a string array, from the buffers Rust gives."""
    import pyarrow as pa

    if integer:
        valid, data = rows.int64s(column)
        buffers = [valid and pa.py_buffer(valid), pa.py_buffer(data)]
        return pa.Array.from_buffers(pa.int64(), len(rows), buffers)
    valid, offsets, data = rows.strings(column)
    buffers = [valid and pa.py_buffer(valid), pa.py_buffer(offsets), pa.py_buffer(data)]
    return pa.Array.from_buffers(pa.large_string(), len(rows), buffers).cast(pa.string())


def _strings(values: list[str]) -> pyarrow.Array:
    import array
    import itertools

    import pyarrow as pa

    data = [value.encode() for value in values]
    offsets = array.array("q", [0, *itertools.accumulate(map(len, data))])
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))]
    return pa.Array.from_buffers(pa.large_string(), len(values), buffers).cast(pa.string())


def from_micros(micros: int) -> datetime.datetime:
    """An aware datetime in UTC for microseconds since the Unix epoch."""
    return _rebuild.EPOCH + datetime.timedelta(microseconds=micros)


def _model_columns(model: type) -> list[str]:
    from flytecodec.columns import column_names

    return column_names(model)


def empty(kind: str) -> Rows:
    """No rows of ``kind``: its ``to_arrow()`` has the kind's schema."""
    spec = KINDS[_check_kind(kind)]
    return Rows(decode(spec.load(), []), spec.key, [], [], spec.build is None)


def column_names(kind: str) -> list[str]:
    """Every column of ``kind`` rows in :meth:`Rows.to_arrow` order."""
    spec = KINDS[_check_kind(kind)]
    key = list(spec.key) if spec.build is None else []
    return [*key, *_model_columns(spec.load()), UPDATED_AT]


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    return kind


def parse_time(since: Since) -> datetime.datetime | None:
    """``since`` as an aware datetime: a naive datetime or ISO 8601 text without an offset is UTC."""
    if since is None:
        return None
    if isinstance(since, str):
        text = since.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            since = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"not an ISO 8601 time: {since!r} (e.g. 2026-01-31T12:00:00Z)") from None
    if not isinstance(since, datetime.datetime):
        raise TypeError(f"since must be a datetime or ISO 8601 text, got {type(since).__name__}")
    return since if since.tzinfo is not None else since.replace(tzinfo=datetime.timezone.utc)


def _conditions(
    spec: _Kind,
    project: str | None,
    domain: str | None,
    name: str | None,
    since: datetime.datetime | None,
    phases: list[str] | None,
    archived: bool,
    id_from: int | None = None,
    id_to: int | None = None,
):
    """The WHERE clause of the rows the filters choose (on table alias ``t``), and its parameters."""
    from psycopg import sql

    conditions = [sql.SQL("t.deleted_at IS NULL")]
    params: list[Any] = []
    for column, value in zip(EXECUTION_KEY, (project, domain, name)):
        if value is not None:
            conditions.append(sql.SQL("t.{} = %s").format(sql.Identifier(column)))
            params.append(value)
    bounds = (("t.updated_at >= %s", since), ("t.phase = ANY(%s)", phases), ("t.id >= %s", id_from),
              ("t.id < %s", id_to))  # fmt: skip
    for condition, value in bounds:
        if value is not None:
            conditions.append(sql.SQL(condition))
            params.append(value)
    if spec.table == "executions" and not archived:
        conditions.append(sql.SQL("t.state = 0"))  # ListExecutions: ExecutionState.EXECUTION_ACTIVE
    return sql.SQL(" AND ").join(conditions), params


def _query(spec: _Kind, *filters):
    from psycopg import sql

    where, params = _conditions(spec, *filters)
    key = [sql.SQL("t.{}").format(sql.Identifier(c)) for c in spec.key]
    columns = [sql.SQL(c if c.startswith(("EXISTS", '"')) else "t." + c) for c in spec.columns]
    query = sql.SQL("SELECT {} FROM {} t WHERE {} ORDER BY {}").format(
        sql.SQL(", ").join(key + columns),
        sql.Identifier(spec.table),
        where,
        sql.SQL(", ").join(key),
    )
    return query, params


def read(
    conninfo: str | psycopg.Connection,
    kind: str = "execution",
    *,
    project: str | None = None,
    domain: str | None = None,
    name: str | None = None,
    since: Since = None,
    phase: str | Sequence[str] | None = None,
    archived: bool = False,
    trim_errors: bool = False,
    default_namespace: str = "",
    batch_size: int = 10_000,
    id_from: int | None = None,
    id_to: int | None = None,
) -> Iterator[Rows]:
    """Stream the ``kind`` records of a flyteadmin database as :class:`Rows`, ``batch_size`` rows at a time, in
    primary key order.

    :param conninfo: a libpq connection string or URL (``postgresql://user@host:5432/flyteadmin``), or an open
        psycopg connection (read inside a transaction of its own; left open).
    :param kind: ``execution``, ``node-execution``, ``task-execution`` (messages rebuilt as flyteadmin's API
        returns them), or a part as stored: ``execution-spec``, ``execution-closure``, ``node-execution-closure``,
        ``task-execution-closure``.
    :param project, domain, name: only rows of this execution project, domain, execution name.
    :param since: only rows whose ``updated_at`` is at or after this time (a datetime or ISO 8601 text; UTC
        when it names no offset).
    :param phase: only rows in this phase or these phases (names, e.g. ``"FAILED"``).
    :param archived: also archived executions (flyteadmin's list calls leave them out); executions kinds only.
    :param trim_errors: cut error messages to 100 bytes, as flyteadmin's list calls do (its get calls, and this
        function by default, keep them whole).
    :param id_from, id_to: only rows whose ``id`` column (flyteadmin's sequence number of the row) is at least
        ``id_from`` and below ``id_to`` — a half-open range, either end open when ``None``; the shards of
        :mod:`flytecodec.sources.postgres_shards` are such ranges.
    :param default_namespace: flyteadmin's default namespace: set as ``spec.metadata.system_metadata.namespace``
        of executions that have none, as flyteadmin does when it is configured with one.
    :raises DecodeError: a stored message that does not decode, naming its table and primary key.
    :raises SourceError: the database cannot be reached, the query fails or the connection is lost.
    """
    spec = KINDS[_check_kind(kind)]
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    phases = [phase] if isinstance(phase, str) else (list(phase) if phase is not None else None)
    query, params = _query(spec, project, domain, name, parse_time(since), phases, archived, id_from, id_to)
    # a whole table (or what the filters keep of it) is read in key order by walking the primary key's index,
    # as the cursor's fast-start plan does; a range of ids (a shard) is found by the id index and sorted
    indexed = id_from is None and id_to is None
    return _stream(conninfo, spec, query, params, trim_errors, default_namespace, batch_size, indexed)


def _psycopg():
    try:
        import psycopg
    except ImportError:
        raise ImportError("reading flyteadmin's database needs psycopg 3: pip install 'flytecodec[postgres]'") from None
    return psycopg


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def connect(conninfo: str) -> psycopg.Connection:
    """A read-only connection in UTC to the database at ``conninfo``.

    :raises SourceError: the database cannot be reached (what the server or libpq said, never the password)."""
    psycopg = _psycopg()
    try:
        conn = psycopg.connect(conninfo, options="-c TimeZone=UTC")
        conn.read_only = True
    except psycopg.Error as error:
        raise SourceError(f"cannot connect to the database: {hide_password(_first_line(error), conninfo)}") from None
    return conn


_PASSWORD_SETTING = re.compile(r"""(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*)""", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/@:]*):([^/@]*)@")


def masked(conninfo: str) -> str:
    """``conninfo`` with its password — in a URL's user info, a ``password=`` setting or query parameter —
    shown as ``***``."""
    return _URL_PASSWORD.sub(r"\1:***@", _PASSWORD_SETTING.sub(r"\1***", conninfo))


def hide_password(text: str, conninfo: str) -> str:
    """``text`` (a message from libpq or the server) with the password of ``conninfo`` masked wherever it
    appears: in fragments of the connection string, and as itself."""
    text = masked(text)
    secrets = [m.group(2).strip("'") for m in _PASSWORD_SETTING.finditer(conninfo)]
    url = _URL_PASSWORD.match(conninfo)
    if url:
        secrets += [url.group(2), urllib.parse.unquote(url.group(2))]
    for secret in secrets:
        if len(secret) >= 4:  # a shorter one would mask every occurrence of a few common letters
            text = text.replace(secret, "***")
    return text


def _stream(
    conninfo, spec: _Kind, query, params, trim: bool, namespace: str, batch_size: int, indexed: bool
) -> Iterator[Rows]:
    psycopg = _psycopg()

    own = isinstance(conninfo, str)
    conn = connect(conninfo) if own else conninfo
    model = spec.load()
    done = 0
    try:
        with conn.transaction():
            if backend() == "native":
                batches, decode_rows = _copy_batches(conn, spec, query, params, batch_size, indexed), _decode_copy
            else:
                batches, decode_rows = _cursor_batches(conn, query, params, batch_size), _decode
            with contextlib.closing(batches):  # a COPY left early is ended before the transaction
                for rows in batches:
                    yield decode_rows(spec, model, rows, done, trim, namespace)
                    done += len(rows)
    except psycopg.OperationalError as error:
        raise SourceError(
            f"lost the connection to the database after {done} rows of {spec.table}: {_first_line(error)}"
        ) from None
    except psycopg.Error as error:
        raise SourceError(f"reading {spec.table} failed after {done} rows: {_first_line(error)}") from None
    except _MalformedCopy as error:
        raise SourceError(f"reading {spec.table} failed after {done} rows: {error}") from None
    finally:
        if own:
            conn.close()


def _cursor_batches(conn: psycopg.Connection, query, params, batch_size: int) -> Iterator[list[tuple]]:
    """The rows of ``query`` through a server-side cursor, ``batch_size`` tuples at a time."""
    from psycopg.types.numeric import Int8BinaryLoader

    with conn.cursor(name="flytecodec_read", binary=True) as cursor:
        cursor.adapters.register_loader("timestamptz", Int8BinaryLoader)  # no datetime object per value
        cursor.execute(query, params)
        while True:
            rows = cursor.fetchmany(batch_size)
            if not rows:
                return
            yield rows


class _MalformedCopy(Exception):
    """The COPY stream is not what was asked for (what Rust's parser found wrong)."""


def _copy_batches(
    conn: psycopg.Connection, spec: _Kind, query, params, batch_size: int, indexed: bool
) -> Iterator[Any]:
    """The rows of ``query`` through ``COPY ... TO STDOUT (FORMAT BINARY)``, parsed in Rust, as batches of
    ``batch_size`` rows (``_native.CopyRows``; the last may be shorter)."""
    from psycopg import sql

    from flytecodec import _native

    stream = _native.CopyStream(spec.types)
    copy_query = sql.SQL("COPY ({}) TO STDOUT (FORMAT BINARY)").format(query)
    with conn.cursor() as cursor:
        if indexed:  # a COPY is planned for all of its rows, and would rather sort the table than walk its index
            sort = "SELECT current_setting('enable_sort'), set_config('enable_sort', %s, true)"
            previous = cursor.execute(sort, ["off"]).fetchone()[0]
        with cursor.copy(copy_query, params) as copy:
            for chunk in copy:
                try:
                    waiting = stream.push(chunk)
                except ValueError as error:
                    raise _MalformedCopy(str(error)) from None
                if waiting >= batch_size:
                    yield stream.take()
        if indexed:  # as it was: a caller's connection may be inside a transaction of its own, which it outlives
            cursor.execute(sort, [previous])
    try:
        stream.finish()
    except ValueError as error:
        raise _MalformedCopy(str(error)) from None
    rows = stream.take()
    if len(rows):
        yield rows


def _decode(spec: _Kind, model: type, rows: list[tuple], done: int, trim: bool, namespace: str) -> Rows:
    """The batch of psycopg's tuples ``rows`` decoded by the Python rules (``_rebuild``), the reference the native
    rules are tested against; DecodeError naming the row."""
    width = len(spec.key)
    build = spec.build
    if build is None:
        messages = [row[width] or b"" for row in rows]
    else:
        messages = []
        for i, row in enumerate(rows):
            try:
                messages.append(build(row, trim, namespace))
            except _rebuild.Malformed as error:
                raise _row_error(spec, model, rows, i, done, f"stored bytes: {error.args[0]}") from None
    try:
        batch = decode(model, messages)
    except DecodeError as error:
        raise _row_error(spec, model, rows, error.index, done, error.reason) from None
    nbytes = sum(map(len, messages))
    keys = [row[:width] for row in rows]
    updated = [row[-1] for row in rows]
    try:
        finite = -_INFINITY < min(updated) <= max(updated) < _INFINITY
    except TypeError:  # a NULL updated_at
        finite = all(micros is None or -_INFINITY < micros < _INFINITY for micros in updated)
    if not finite:
        index = next(i for i, micros in enumerate(updated) if micros is not None and abs(micros) >= _INFINITY)
        raise _row_error(spec, model, rows, index, done, "updated_at is infinite")
    micros = [value + _PG_EPOCH if value is not None else None for value in updated]
    return Rows(batch, spec.key, keys, micros, build is None, nbytes)


def _decode_copy(spec: _Kind, model: type, rows: Any, done: int, trim: bool, namespace: str) -> Rows:
    """A batch of COPY cells decoded in Rust: the stored parts as they are, or the messages rebuilt by the
    native rules; a row those leave to the Python rules sends the batch to them, as psycopg's tuples."""
    from flytecodec import _native

    message = model._pb_name
    width = len(spec.key)
    try:
        if spec.build is None:
            rebuilt = rows.records(message, width)
        else:
            rebuilt = _native.rebuild_rows(spec.table, message, rows, trim, namespace)
    except DecodeError as error:
        raise _row_error(spec, model, rows.tuples(width), error.index, done, error.reason) from None
    if rebuilt is None:
        return _decode(spec, model, rows.tuples(), done, trim, namespace)
    records, nbytes = rebuilt
    infinite = rows.first_infinite(rows.width - 1)
    if infinite is not None:
        raise _row_error(spec, model, rows.tuples(width), infinite, done, "updated_at is infinite")
    return Rows(Batch(model, records, ""), spec.key, None, None, spec.build is None, nbytes, rows)


def _row_error(spec: _Kind, model: type, rows: list[tuple], index: int, done: int, reason: str) -> DecodeError:
    key = rows[index][: len(spec.key)]
    where = ", ".join(f"{column}={value!r}" for column, value in zip(spec.key, key))
    return DecodeError(
        f"{spec.table} row ({where}): {reason}",
        index=done + index,
        model=model._pb_name,
    )
