"""Bulk decoding: bytes in, a :class:`Batch` of lazy models out."""

from __future__ import annotations

import operator
import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Callable, Generic, TypeVar, overload

from flytecodec import framing as _framing
from flytecodec._backend import backend
from flytecodec.exceptions import DecodeError
from flytecodec.kinds import BY_MESSAGE, KINDS, LIST_KINDS
from flytecodec.models._base import over as _over
from flytecodec.models._base import set_raw as _set_raw
from flytecodec.models._entity import FlyteIdlEntity

if TYPE_CHECKING:
    import pandas
    import polars
    import pyarrow

M = TypeVar("M", bound=FlyteIdlEntity)


def list_message_for(model: type[FlyteIdlEntity]):
    """``(list message class, repeated field name)`` of the ``*List`` response holding ``model`` records."""
    return _list_kind(model).list_message()


def _list_kind(model: type[FlyteIdlEntity]):
    """The record kind of ``model``, which must have a ``*List`` response (``ValueError`` if not)."""
    kind = BY_MESSAGE.get(model._pb_name)
    if kind is None or kind.list_response is None:
        listed = ", ".join(KINDS[name].message for name in LIST_KINDS)
        raise ValueError(f"framing='list' needs a model with a *List response ({listed}); got {model.__name__}")
    return kind


def _has_pages(model: type[FlyteIdlEntity]) -> bool:
    kind = BY_MESSAGE.get(model._pb_name)
    return kind is not None and kind.list_response is not None


class RecordBytes:
    """The bytes each record of a batch was decoded from, found lazily for a ``*List`` response.

    Models refer to this (not to their batch), so a batch and its models form no reference cycle and are
    freed as soon as they are dropped.
    """

    __slots__ = ("_buf", "_number", "_raws")

    def __init__(self, raws: Sequence | None = None, buf: bytes = b"", number: int = 0):
        self._raws = raws
        self._buf = buf
        self._number = number

    def all(self) -> Sequence:
        raws = self._raws
        if raws is None:  # walk the *List response for the record spans, the first time they are asked for
            buf, number = self._buf, self._number
            view = memoryview(buf)
            raws = self._raws = [
                view[a:b] for n, wire, _, a, b in _framing.top_level_fields(buf) if n == number and wire == 2
            ]
        return raws

    def __getitem__(self, index: int):
        return self.all()[index]


class ProtoRecords:
    """The python backend's record source: upb messages and the bytes each was decoded from.

    The native backend's is ``flytecodec._native.RecordList``; both answer the same operations — ``len``, a
    new ``model(i, cls)``, the ``models(cls, kept)`` in order, the ``raw(i)`` bytes of a record, ``take`` —
    so that :class:`Batch` never asks which one it holds. Indexing or iterating gives the messages.
    """

    __slots__ = ("_bytes", "_messages")

    def __init__(self, messages: Sequence, raw: RecordBytes):
        self._messages = messages
        self._bytes = raw

    def __len__(self) -> int:
        return len(self._messages)

    def __getitem__(self, index: int):
        return self._messages[index]

    def __iter__(self):
        return iter(self._messages)

    def model(self, index: int, cls: type[M]) -> M:
        obj = _over(cls, self._messages[index])
        _set_raw(obj, (self._bytes, index))  # serialize_to_string() gives back the bytes it was decoded from
        return obj

    def models(self, cls: type[M], kept: dict[int, M]) -> Iterator[M]:
        messages, raw = self._messages, self._bytes
        for i in range(len(messages)):
            found = kept.get(i)
            if found is None:  # model() inlined: iteration is the hot path of a pipeline
                found = _over(cls, messages[i])
                _set_raw(found, (raw, i))
            yield found

    def raw(self, index: int) -> bytes:
        return bytes(self._bytes[index])

    def take(self, indices: list[int]) -> ProtoRecords:
        raws = self._bytes.all()
        return ProtoRecords([self._messages[i] for i in indices], RecordBytes([raws[i] for i in indices]))


class Batch(Generic[M], Sequence[M]):
    """A sequence of lazy models decoded together.

    Index, slice, iterate and ``len`` as with a list. Indexing makes a model the first time and keeps it:
    ``batch[i] is batch[i]``, also when several threads index it first at once. Iterating gives back the kept
    models and makes the others without keeping them. ``token`` is the page token of a ``*List`` response (``""``
    for other framings). Each model remembers the bytes it was decoded from, so its ``serialize_to_string()``
    gives them back exactly.
    """

    __slots__ = ("_kept", "_records", "model", "token")

    def __init__(self, model: type[M], records, token: str):
        self.model = model
        self.token = token
        self._records = records  # the record source: _native.RecordList or ProtoRecords
        self._kept: dict[int, M] = {}

    def __len__(self) -> int:
        return len(self._records)

    @overload
    def __getitem__(self, index: int) -> M: ...

    @overload
    def __getitem__(self, index: slice) -> Batch[M]: ...

    def __getitem__(self, index):
        kept = self._kept
        if isinstance(index, slice):
            positions = range(len(self._records))[index]
            part = Batch(self.model, self._records.take(list(positions)), self.token)
            part._kept = {j: kept[i] for j, i in enumerate(positions) if i in kept}
            return part
        found = kept.get(index)
        if found is not None:
            return found
        i = operator.index(index)
        n = len(self._records)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("batch index out of range")
        found = kept.get(i)
        if found is None:  # setdefault: the first model stored wins, whichever thread made it
            found = kept.setdefault(i, self._records.model(i, self.model))
        return found

    def __iter__(self) -> Iterator[M]:
        """The models in order. A model already made by indexing is given back; the others are made for the
        iteration and not kept, so streaming through a batch holds no more than the caller keeps (and, on
        CPython, keeps the cyclic garbage collector from re-scanning every model made so far)."""
        return self._records.models(self.model, self._kept)

    def __repr__(self) -> str:
        return f"<Batch of {len(self)} {self.model.__name__}{f' token={self.token!r}' if self.token else ''}>"

    def __reduce__(self):
        records = self._records
        return _restore_batch, (self.model, [records.raw(i) for i in range(len(records))], self.token)

    def __add__(self, other: Batch[M]) -> Batch[M]:
        """The records of both batches, in order: :func:`concat`."""
        if not isinstance(other, Batch):
            return NotImplemented
        return concat([self, other])

    def to_flyte_idl(self):
        """The ``*List`` response message with every record (and the token)."""
        list_class, field = list_message_for(self.model)
        out = list_class(token=self.token)
        getattr(out, field).extend(m.to_flyte_idl() for m in self)
        return out

    def serialize_to_string(self) -> bytes:
        return self.to_flyte_idl().SerializeToString()

    def to_arrow(
        self, columns: Sequence[str] | None = None, errors: str = "raise", layout: str = "flat"
    ) -> pyarrow.Table:
        """The records as a ``pyarrow.Table``, one row each. Needs pyarrow (``flytecodec[arrow]``).

        ``layout="flat"`` (the default): every column or those named in ``columns`` (only those are read); the
        columns of each kind are listed in ``docs/columns.md`` (:func:`flytecodec.columns.column_names` gives
        them). A time outside Arrow's range raises ``ValueError`` (``errors="raise"``) or is null
        (``errors="null"``).

        ``layout="nested"``: every field of the message, nested as it is, and ``_rest`` columns with what no
        column holds (``docs/nested.md``); nothing is lost, and :func:`flytecodec.from_arrow` gives the records
        back. ``columns`` is for the flat layout only.
        """
        from flytecodec.arrow import to_arrow

        return to_arrow(self, columns, errors, layout)

    def to_pandas(self, columns: Sequence[str] | None = None, errors: str = "raise") -> pandas.DataFrame:
        """The records as a ``pandas.DataFrame``, through :meth:`to_arrow`; map columns as dicts and list columns
        as lists (``{}``, ``[]`` when empty)."""
        from flytecodec.arrow import to_pandas

        return to_pandas(self, columns, errors)

    def to_polars(self, columns: Sequence[str] | None = None, errors: str = "raise") -> polars.DataFrame:
        """The records as a ``polars.DataFrame``, through :meth:`to_arrow`."""
        from flytecodec.arrow import to_polars

        return to_polars(self, columns, errors)


def _restore_batch(model, items, token):
    """A batch from a pickle: its records validated as a decode validates them, its token checked."""
    if not isinstance(token, str):
        raise TypeError(f"cannot unpickle a Batch: its page token must be a str, got {type(token).__name__}")
    try:
        token.encode("utf-8")
    except UnicodeEncodeError:
        raise DecodeError("page token: invalid UTF-8", index=0, offset=0, model=_name(model)) from None
    batch = decode(model, items)
    batch.token = token
    return batch


ON_NULL = ("error", "skip", "empty")


def decode(model: type[M], data, *, framing: str | None = None, on_null: str = "error", glob: str = "*") -> Batch[M]:
    """Decode ``data`` into a :class:`Batch` of ``model`` instances.

    :param model: any model class, e.g. ``Execution`` or ``ExecutionClosure`` (for a column of flyteadmin's
        ``executions.closure``).
    :param data: bytes, bytearray, memoryview, mmap, a path, a directory (its files, as
        :func:`flytecodec.iter_batches` reads them), a binary file (read from its current position) — or a
        sequence of bytes-like objects: one message each, or with ``framing="list"`` one ``*List`` response
        (page) each. A file (path or binary file) that starts with gzip's or zstd's magic bytes is decompressed
        (zstd needs ``flytecodec[zstd]``); bytes are taken as they are.
    :param framing: ``"list"`` (a ``*List`` response), ``"delimited"`` (varint length-prefixed messages) or
        ``"message"`` (one message; an empty *file* is an error, empty bytes are a message with no field set).
        Required for bytes input; for a sequence it may be omitted or ``"sequence"``, or ``"list"`` for pages.
    :param on_null: what a ``None`` item of a sequence (a NULL row of a column) becomes: ``"error"`` (the
        default: a DecodeError naming its index), ``"skip"`` (left out: the batch is shorter than the input) or
        ``"empty"`` (a message with no field set).
    :param glob: for a directory, which of its files to read (by name; every file by default).
    :raises DecodeError: on input that is not valid, with the message index and byte offset, and a hint when
        there is something to do about it (another framing reads the input, it looks like JSON or compressed
        data, it ends inside a record).
    :raises TypeError: for a ``model`` that is not a model class, or ``data`` of an unsupported type.
    """
    if (
        type(data) is bytes
        and framing in _framing.FRAMINGS
        and (model, framing) in _native_decoders
        and on_null in ON_NULL
        and backend() == "native"
    ):
        try:  # bytes of a model and framing decoded before: straight to the native decoder
            return _decode_native(model, data, framing)
        except DecodeError as e:
            raise with_hint(e, data, framing, model) from None
    if not (isinstance(model, type) and issubclass(model, FlyteIdlEntity) and hasattr(model, "_pb_name")):
        raise TypeError(f"decode() needs a flytecodec model class, got {model!r}")
    if on_null not in ON_NULL:
        raise ValueError(f"on_null must be one of {', '.join(map(repr, ON_NULL))}, got {on_null!r}")
    if _framing.is_sequence_input(data):
        if framing == "list":
            return _decode_pages(model, data, on_null)
        if framing not in (None, "sequence"):
            raise ValueError(
                f"a sequence is framed one message per item (or one *List page per item with framing='list'); "
                f"framing={framing!r} is wrong"
            )
        return _decode_items(model, _framing.sequence_items(data, _name(model), on_null))
    if not _framing.is_bytes_input(data):
        raise TypeError(
            "decode(): data must be bytes, bytearray, memoryview, mmap, a path, a binary file or a sequence of "
            f"bytes-like objects, got {type(data).__name__}"
        )
    if framing not in _framing.FRAMINGS:
        if framing is None:
            raise ValueError("framing= is required for bytes input: 'list', 'delimited' or 'message'")
        if framing == "sequence":
            raise ValueError("framing='sequence' takes a sequence of bytes-like objects, not one bytes input")
        raise ValueError(f"unknown framing {framing!r}; choose 'list', 'delimited' or 'message'")
    if framing == "list":
        _list_kind(model)
    if isinstance(data, (str, os.PathLike)) and os.path.isdir(data):
        from flytecodec.streaming import iter_batches

        return concat(list(iter_batches(data, model, framing=framing, batch_size=1 << 62, glob=glob)), model=model)
    buf = _framing.as_bytes(data)
    if framing == "message" and not buf and not _framing.is_in_memory(data):
        raise DecodeError(EMPTY_FILE, model=_name(model))
    try:
        return decode_bytes(model, buf, framing)
    except DecodeError as e:
        raise with_hint(e, buf, framing, model) from None


EMPTY_FILE = (
    "the file is empty: with framing='message' a file is one message, and an empty file is most likely a failed "
    "download or export (empty bytes in memory decode as a message with no field set)"
)


def decode_bytes(model: type[M], buf: bytes, framing: str) -> Batch[M]:
    """Decode ``buf`` (bytes, in one of the byte framings) on the active backend, without hints."""
    if backend() == "native":
        return _decode_native(model, buf, framing)
    if framing == "list":
        return _decode_list(model, buf)
    if framing == "delimited":
        spans = _framing.split_delimited(buf, _name(model))
        view = memoryview(buf)
        prefix_offsets = [0] + [end for _, end in spans[:-1]]
        return _decode_sequence(model, [view[a:b] for a, b in spans], prefix_offsets)
    return _decode_sequence(model, [buf])


def _decode_items(model: type[M], items: list) -> Batch[M]:
    if backend() == "native":
        return _decode_native(model, items, "sequence")
    return _decode_sequence(model, items)


def _decode_pages(model: type[M], pages, on_null: str) -> Batch[M]:
    """A sequence of ``*List`` responses (pages) as one batch: records numbered across pages, the last page's
    token; an error names the page and its offset in that page."""
    _list_kind(model)
    batches, count = [], 0
    for k, page in enumerate(_framing.sequence_items(pages, _name(model), on_null, what="page")):
        try:
            batch = decode_bytes(model, page, "list")
        except DecodeError as e:
            e = with_hint(e, page, "list", model)
            raise DecodeError(
                f"page {k}: {e.reason}", index=count + e.index, offset=e.offset, model=e.model, hint=e.hint
            ) from None
        batches.append(batch)
        count += len(batch)
    return concat(batches, model=model)


def concat(batches: Sequence[Batch[M]], *, model: type[M] | None = None) -> Batch[M]:
    """One batch of the records of ``batches``, in order (``batch + batch`` does the same for two). The token is
    the last batch's (the next page of a listing read page by page). Models already made are kept (the result
    gives back the same objects); the records are not parsed again on the python backend, and validated again
    (without the GIL) on the native one.

    :param model: the model of an empty result; otherwise that of the batches, which must all be the same.
    :raises TypeError: for items that are not batches, or batches of different models.
    """
    batches = list(batches)
    for b in batches:
        if not isinstance(b, Batch):
            raise TypeError(f"concat() takes batches, got {type(b).__name__}")
    kinds = {b.model for b in batches} | ({model} if model is not None else set())
    if len(kinds) > 1:
        names = ", ".join(sorted(k.__name__ for k in kinds))
        raise TypeError(f"concat() takes batches of one model, got {names}")
    if not kinds:
        raise TypeError("concat() of no batches needs model=")
    (kind,) = kinds
    token = batches[-1].token if batches else ""
    raws = [b._records.raw(i) for b in batches for i in range(len(b))]
    if batches and all(isinstance(b._records, ProtoRecords) for b in batches):
        joined = Batch(kind, ProtoRecords([r for b in batches for r in b._records], RecordBytes(raws)), token)
    else:
        joined = _decode_items(kind, raws)
        joined.token = token
    start = 0
    for b in batches:
        joined._kept.update({start + i: m for i, m in b._kept.items()})
        start += len(b)
    return joined


def _decode_native(model: type[M], data, framing: str) -> Batch[M]:
    """Split and validate in Rust, without the GIL and across cores; models read their fields from Rust."""
    decoder = _native_decoders.get((model, framing))
    if decoder is None:
        decoder = _native_decoders[model, framing] = _native_decoder(model, framing)
    records, token = decoder(data)
    return Batch(model, records, token)


# (model, framing) -> data -> (records, page token): the native decoder with the model's arguments bound
_native_decoders: dict[tuple[type, str], Callable] = {}


def _native_decoder(model: type, framing: str) -> Callable:
    from flytecodec._native import decode_records

    name = _name(model)
    if framing != "list":
        return lambda data: decode_records(name, data, framing)
    records_number, token_number = _list_kind(model).list_numbers()
    return lambda data: decode_records(name, data, framing, records_number, token_number)


def _decode_sequence(model: type[M], items: Sequence, offsets: list[int] | None = None) -> Batch[M]:
    from google.protobuf.message import DecodeError as _PbDecodeError  # the python backend's: protobuf is loaded

    parse = model._pb_class.FromString
    records = []
    for i, item in enumerate(items):
        try:
            records.append(parse(item))
        except _PbDecodeError:
            reason = _framing.record_reason(model._pb_class.DESCRIPTOR, item)
            raise DecodeError(reason, index=i, offset=offsets[i] if offsets else 0, model=_name(model)) from None
    return Batch(model, ProtoRecords(records, RecordBytes(items)), "")


def _decode_list(model: type[M], buf: bytes) -> Batch[M]:
    from google.protobuf.message import DecodeError as _PbDecodeError  # the python backend's: protobuf is loaded

    list_class, field = list_message_for(model)
    try:
        parsed = list_class.FromString(buf)
    except _PbDecodeError as e:
        raise _locate_list_error(model, buf, e) from None
    number = _list_kind(model).list_numbers()[0]
    return Batch(model, ProtoRecords(getattr(parsed, field), RecordBytes(None, buf, number)), parsed.token)


def _locate_list_error(model, buf: bytes, error: Exception) -> DecodeError:
    """Find which part of a ``*List`` response upb refused: a record (its index and tag offset) — invalid alone,
    or valid alone but nesting too deep one level down, inside the list — or the list's own framing."""
    from google.protobuf.message import DecodeError as _PbDecodeError

    list_class, _ = list_message_for(model)
    number, token_number = _list_kind(model).list_numbers()
    parse, name = model._pb_class.FromString, _name(model)
    count = 0
    try:
        for n, wire, offset, start, end in _framing.top_level_fields(buf):
            if n == number and wire == 2:  # with another wire type, upb keeps it as an unknown field
                try:
                    parse(buf[start:end])
                except _PbDecodeError:
                    reason = _framing.record_reason(model._pb_class.DESCRIPTOR, buf[start:end])
                    return DecodeError(reason, index=count, offset=offset, model=name)
                try:  # the record as the only one of a list: one level deeper
                    list_class.FromString(buf[offset:end])
                except _PbDecodeError:
                    reason = f"{_framing.TOO_DEEP} inside the list"
                    return DecodeError(reason, index=count, offset=offset, model=name)
                count += 1
            elif n == token_number and wire == 2 and not _is_utf8(buf[start:end]):
                return DecodeError("page token: invalid UTF-8", index=count, offset=offset, model=name)
    except ValueError as e:
        return DecodeError(str(e.args[0]), index=count, offset=e.args[1], model=name)
    return DecodeError(f"the {list_class.DESCRIPTOR.name}: {_reason(error)}", index=count, offset=0, model=name)


HINT_BYTES = 1 << 20  # how much of an input is tried with the other framings, for a hint


def with_hint(error: DecodeError, data: bytes, framing: str, model) -> DecodeError:
    """``error`` with a hint of what to do, when the input says something about what went wrong."""
    if error.hint:
        return error
    hint = _hint(error, data, framing, model)
    if hint is None:
        return error
    return DecodeError(error.reason, index=error.index, offset=error.offset, model=error.model, hint=hint)


def _hint(error: DecodeError, data: bytes, framing: str, model) -> str | None:
    head = bytes(data[:4])
    if head.startswith(_framing.GZIP_MAGIC):
        return (
            "this is gzip-compressed data: pass the file's path (decode() and iter_batches decompress files), "
            "or gzip.decompress() it first"
        )
    if head.startswith(_framing.ZSTD_MAGIC):
        return (
            "this is zstd-compressed data: pass the file's path (decode() and iter_batches decompress files, "
            "with flytecodec[zstd]), or decompress it first"
        )
    if _framing.looks_like_json(data):
        name = model._pb_class.__name__
        return (
            "this looks like JSON, not binary protobuf: convert each record with "
            f"google.protobuf.json_format.Parse(text, {name}()).SerializeToString(), or save the API's binary responses"
        )
    for other in _framing.FRAMINGS:
        if other == framing or (other == "list" and not _has_pages(model)):
            continue
        if other == "message" and framing == "list":
            continue  # a page is a message too (of unknown fields): no evidence
        start = _framing.whole_fields(data, other, HINT_BYTES)
        if not start:
            continue
        try:
            found = decode_bytes(model, start, other)
        except DecodeError:
            continue
        if any(len(found._records.raw(i)) for i in range(len(found))):
            what = "this input" if len(start) == len(data) else f"the first {len(start)} bytes of this input"
            return f"framing={other!r} reads {what} ({len(found)} records): is framing={framing!r} the right one?"
    if framing == "delimited" and error.reason.startswith("length prefix claims"):
        return f"the input ends inside record {error.index}: is it truncated?"
    if framing == "list" and error.reason in _framing.RUNS_PAST_THE_END:
        return f"the input ends inside the field at byte offset {error.offset}: is it truncated?"
    return None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _reason(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return text[0].lower() + text[1:]


def _name(model) -> str:
    return model._pb_name


def _kind_decoder(model_path: str, doc: str):
    module_name, class_name = model_path.rsplit(".", 1)

    found: list = []  # the model class, imported on the first call

    def decode_kind(
        data, *, framing: str | None = None, model: type | None = None, on_null: str = "error", glob: str = "*"
    ) -> Batch:
        if not found:
            import importlib

            found.append(getattr(importlib.import_module(module_name), class_name))
        base = found[0]
        if model is not None and not (isinstance(model, type) and issubclass(model, base)):
            raise TypeError(f"model= must be {class_name} or a subclass of it, got {model!r}")
        return decode(model or base, data, framing=framing, on_null=on_null, glob=glob)

    decode_kind.__name__ = decode_kind.__qualname__ = "decode_" + _snake(class_name) + "s"
    decode_kind.__doc__ = doc
    return decode_kind


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


decode_executions = _kind_decoder(
    "flytecodec.models.execution.Execution",
    "Decode workflow executions (``Execution``); see :func:`decode`. ``model=`` may name a subclass, "
    "e.g. ``FlyteWorkflowExecution``.",
)
decode_node_executions = _kind_decoder(
    "flytecodec.models.node_execution.NodeExecution",
    "Decode node executions (``NodeExecution``); see :func:`decode`. ``model=`` may name a subclass.",
)
decode_task_executions = _kind_decoder(
    "flytecodec.models.admin.task_execution.TaskExecution",
    "Decode task executions (``TaskExecution``); see :func:`decode`. ``model=`` may name a subclass.",
)
