"""Type stubs for ``flytecodec._native``, the Rust extension module (sources under ``rust/``)."""

__version__: str
"""Version of the Rust crate the extension was built from."""

flyteidl_version: str
"""Version of the flyteidl package whose descriptors the extension's types were generated from."""

def schema_digest() -> str:
    """16 lowercase hex digits: 64-bit FNV-1a of the embedded ``schema/flyteidl.binpb``."""

def decode_records(
    message: str,
    data: bytes | list[bytes],
    framing: str,
    list_records: int = 1,
    list_token: int = 2,
    threads: int | None = None,
) -> tuple[RecordList, str]:
    """Split ``data`` into records of ``message`` (a proto full name) and validate them as upb would, without the
    GIL and on ``threads`` threads (default: the machine's cores).

    ``framing``: ``"list"`` (a ``*List`` response whose records are field ``list_records`` and page token field
    ``list_token``), ``"delimited"``, ``"message"`` (bytes ``data``) or ``"sequence"`` (a list of bytes). Returns
    the records and the page token; raises ``flytecodec.DecodeError`` as the python backend does.
    """

class RecordList:
    """The records of a decoded batch: the native backend's record source (see ``bulk.ProtoRecords``)."""

    def __len__(self) -> int: ...
    def model(self, index: int, cls: type) -> object:
        """A new model of class ``cls`` over record ``index``."""
    def models(self, cls: type, kept: dict[int, object]) -> ModelIter:
        """The models of every record in order: those in ``kept`` as they are, the others made for the iteration."""
    def raw(self, index: int) -> bytes:
        """The bytes record ``index`` was decoded from."""
    def take(self, indices: list[int]) -> RecordList:
        """The records at ``indices``, sharing this list's buffers."""
    def arrow_columns(
        self,
        message: str,
        specs: list[tuple[str, tuple[int, ...], str, tuple[int, ...]]],
        enum_names: list[list[str]],
        threads: int | None = None,
    ) -> list[ArrowBatch]:
        """The columns ``specs`` — ``(name, field numbers from message, kind, enum value numbers)``, as
        ``flytecodec.columns`` resolves them, with each enum's value names in ``enum_names`` — of every record,
        built without the GIL on ``threads`` threads (default: the machine's cores): one batch per thread used,
        at least one. Raises ``ValueError`` for a column the schema does not have, or a time outside Arrow's
        int64 microseconds."""

    def arrow_nested(
        self, plan: tuple[tuple[str, tuple[tuple], ...], ...], threads: int | None = None
    ) -> list[ArrowBatch]:
        """The nested layout (``docs/nested.md``) of every record, read from its bytes without the GIL on ``threads``
        threads (default: the machine's cores): one batch per thread used (at least one; more where a thread's
        records are over 2 GiB), in order, each with the schema ``flytecodec.layout.schema()`` gives (field and
        schema metadata included). ``plan`` is ``flytecodec.layout.plan()`` of the records' message: its ``Node``s
        and their ``Slot``s, read as tuples (a tuple plan is converted once and kept).
        Raises ``ValueError`` for a plan it cannot read."""

class ArrowBatch:
    """One record batch of columns (flat or nested), exported through the Arrow PyCapsule protocol
    (``pyarrow.record_batch(it)``)."""

    def __arrow_c_array__(self, requested_schema: object | None = None) -> tuple[object, object]:
        """``(schema capsule, array capsule)`` of the batch as a struct array; the nested layout's schema carries
        its field and schema metadata. ``requested_schema`` is ignored."""
    def __len__(self) -> int: ...

class ModelBase:
    """The base of every model (``FlyteIdlEntity`` derives from it): the model's source — nothing for a
    constructed model, a record's bytes, or a protobuf message — and a cache of its field values, one slot per
    field."""

    _dirty: set[str] | None
    """The names of the fields assigned on a decoded model (applied over the source by ``to_flyte_idl``)."""
    _raw: tuple[object, int] | None
    """The python backend's ``(RecordBytes, index)`` of a bulk-decoded record."""
    _src: object | None
    """None for a constructed model, else the protobuf message read from (a record's is parsed once and kept:
    never change it). A source is given when the model is made; setting None (the constructor run again)
    makes the model a constructed one and drops its cache."""
    @property
    def _decoded(self) -> bool:
        """Whether the model has a source (was decoded), not made by its constructor."""
    def __new__(cls, *args: object, **kwargs: object) -> ModelBase: ...
    @staticmethod
    def _over(cls: type, pb: object) -> object:
        """A new model of class ``cls`` over the protobuf message ``pb`` (taken over, not copied)."""
    def _source_copy(self) -> object | None:
        """A new protobuf message equal to the source (one parse of a record), or None for a constructed model."""
    def _source_bytes(self) -> bytes | None:
        """A batch record's bytes as decoded; a sub-message's protobuf serialization; None when constructed."""
    def _source_empty(self) -> bool | None:
        """Whether the source serializes to nothing (protobuf's answer); None for a constructed model."""

def read_message(cls: type, message: str, data: bytes) -> object:
    """A model of class ``cls`` over ``data``, one serialized ``message`` (a proto full name), validated as upb
    parses: ``flytecodec.DecodeError`` when it is not valid."""

def rebuild_rows(table: str, message: str, rows: CopyRows, trim: bool, namespace: str) -> tuple[RecordList, int] | None:
    """flyteadmin's rows of ``table`` (``executions``, ``node_executions`` or ``task_executions``, a batch of a
    COPY stream of the columns ``flytecodec.sources.postgres`` selects) rebuilt as ``message`` by the rules of
    ``flytecodec.sources._rebuild``, validated as a sequence's records; with their total size. ``None`` when a
    row is left to the Python rules (stored bytes not plainly well formed, a NULL or infinite ``created_at``).
    ``namespace`` is used for executions only."""

class CopyStream:
    """A ``COPY ... TO STDOUT (FORMAT BINARY)`` stream, read a chunk at a time (a tuple may span chunks), its
    complete tuples taken a batch at a time. ``types``: one letter per selected column, ``t`` text, ``b`` bytea,
    ``?`` bool, ``i`` integer (int2/int4/int8), ``T`` timestamptz. A malformed stream (no signature, OIDs,
    unknown incompatible flags, another field count, a cell whose length its type cannot have, bytes after the
    trailer) raises ``ValueError`` saying what and at which row."""

    def __init__(self, types: str) -> None: ...
    def push(self, chunk: bytes | bytearray | memoryview) -> int:
        """Adds the next bytes of the stream; returns how many complete tuples are waiting."""
    def take(self) -> CopyRows:
        """The complete tuples waiting (possibly none), as a batch; a tuple cut by the chunk stays for later."""
    def finish(self) -> None:
        """Raises ``ValueError`` unless the stream ended with its trailer (and its header was complete)."""

class CopyRows:
    """A batch of complete tuples of a COPY stream: one buffer and the span of every cell."""

    width: int
    """How many columns each row has."""
    def __len__(self) -> int: ...
    def tuples(self, columns: int | None = None) -> list[tuple]:
        """Each row's first ``columns`` cells (all by default) as psycopg's binary cursor gives them: text as str,
        bytea as bytes, bool, integers and timestamptz (microseconds since 2000) as int, NULL as None."""
    def records(self, message: str, column: int) -> tuple[RecordList, int]:
        """The bytes of bytea ``column`` of each row (NULL: empty) validated as ``message`` records, without a
        copy, and their total size; ``flytecodec.DecodeError`` (``index``: the row) for the first invalid one."""
    def int64s(self, column: int) -> tuple[bytes | None, bytes]:
        """Integer or timestamptz ``column`` as an Arrow int64 array's buffers, ``(validity bitmap or None,
        little-endian values)``; a timestamptz in microseconds since the Unix epoch (``OverflowError`` past
        int64, ±infinity among them)."""
    def strings(self, column: int) -> tuple[bytes | None, bytes, bytes]:
        """Text ``column`` as an Arrow large_string array's buffers, ``(validity bitmap or None, int64 offsets,
        data)``; ``ValueError`` for a value that is not UTF-8."""
    def first_infinite(self, column: int) -> int | None:
        """The first row whose timestamptz ``column`` is ±infinity, if any."""

class ModelIter:
    """The models of a :class:`RecordList`, in order (see :meth:`RecordList.models`)."""

    def __iter__(self) -> ModelIter: ...
    def __next__(self) -> object: ...

class NativeProperty:
    """A model property whose ``__get__`` runs in Rust: a data descriptor that gives the instance attribute of the
    same name on a constructed model or one assigned to (``_dirty``), else the field's cached value, or converts
    it from the model's source and caches it in slot ``slot`` (the first value cached wins, so every thread sees
    the same object). Fields are assigned through the model's ``__setattr__``; ``__set__`` and ``__delete__``
    raise ``AttributeError``."""

    name: str
    def __init__(
        self,
        name: str,
        doc: str,
        slot: int,
        slots: int,
        spec: tuple[str, int, str, str, str] | None,
        resolve_model: object | None,
        make_pb_reader: object,
    ) -> None:
        """``spec``: ``(message, field number, shape, elem, absent)`` when Rust reads the field from a record's
        bytes (``shape``: single, repeated — a list — or map — a dict; ``elem``: scalar, timestamp, naive,
        duration, wrapper or model, only scalar or model for a list or a map; ``absent``: never, presence or
        falsy), else None; ``resolve_model()`` gives a
        sub-message's model class; ``make_pb_reader()`` gives the field's reader of protobuf messages."""
    def __get__(self, obj: object | None, owner: type | None = None) -> object: ...
    def __set__(self, obj: object, value: object) -> None: ...
    def __delete__(self, obj: object) -> None: ...

def canonical(message: str, data: bytes) -> bytes:
    """The bytes upb's ``SerializeToString(deterministic=True)`` gives for ``data`` parsed as ``message`` (a proto
    full name), computed from the bytes without the GIL. Raises ``flytecodec.DecodeError`` for bytes upb refuses
    and ``ValueError`` for a message the schema does not have."""

def nested_to_records(plan: tuple, batches: list[object], threads: int | None = None) -> bytes:
    """The records the rows of ``batches`` describe, as one buffer of length-delimited records (what
    ``flytecodec.decode(model, data, framing="delimited")`` reads), each exactly upb's deterministic serialization of
    its message. ``plan`` is ``flytecodec.layout.plan(descriptor)``; ``batches`` are objects with
    ``__arrow_c_array__`` (pyarrow ``RecordBatch``) of schema ``flytecodec.layout.schema(descriptor)`` (field metadata
    aside). Built without the GIL on ``threads`` threads (default: the machine's cores). Raises ``ValueError`` for a
    plan the schema does not have or a column of the wrong type, and ``flytecodec.DecodeError`` (``index``: the row)
    naming the column and the row for a null where the layout has none, or ``_rest``/cut bytes that are not a valid
    message."""
