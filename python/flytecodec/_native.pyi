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
    """The records of a decoded batch; each index gives a new :class:`NativeRecord`."""

    def __len__(self) -> int: ...
    def __getitem__(self, index: int) -> NativeRecord: ...
    def wrap(self, index: int, cls: type, set_src: object) -> object:
        """A model of class ``cls`` over record ``index``, its ``_src`` slot set through ``set_src``."""
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

class ArrowBatch:
    """One record batch of columns, exported through the Arrow PyCapsule protocol (``pyarrow.record_batch(it)``)."""

    def __arrow_c_array__(self, requested_schema: object | None = None) -> tuple[object, object]:
        """``(schema capsule, array capsule)`` of the batch as a struct array; ``requested_schema`` is ignored."""
    def __len__(self) -> int: ...

class NativeRecord:
    """The source of one lazy model: a message's bytes (in one or more parts of a buffer)."""

    def get(self, field: NativeField) -> object:
        """The value of ``field``, converted as the python backend converts it (a NativeRecord for a message)."""
    def to_bytes(self) -> bytes:
        """The message's bytes as decoded."""
    def serialize(self, cls: type) -> bytes:
        """``serialize_to_string()``: a batch record's own bytes, a sub-message's protobuf serialization."""
    def size(self) -> int:
        """The message's size in bytes."""
    def pb(self, cls: type) -> object:
        """The message parsed by ``cls.FromString``, made once per record."""

class NativeField:
    """How to read one singular field of a message from a :class:`NativeRecord`."""

    def __init__(self, message: str, number: int, elem: str, absent: str) -> None:
        """``elem``: scalar, timestamp, naive, duration, wrapper or model; ``absent``: never, presence or falsy."""

class NativeProperty:
    """A model property whose ``__get__`` runs in Rust (a non-data descriptor caching in the instance dict)."""

    name: str
    def __init__(
        self,
        name: str,
        doc: str,
        spec: tuple[str, int, str, str] | None,
        resolve_model: object | None,
        make_pb_reader: object,
        make_native_reader: object,
        set_src: object,
    ) -> None: ...
    def __get__(self, obj: object | None, owner: type | None = None) -> object: ...
