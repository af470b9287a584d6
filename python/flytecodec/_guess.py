"""Does a sample of records fit the kind the user named? Evidence for ``flytecodec decode/stats``'s ``--kind``.

Protobuf decodes almost any bytes as almost any message, so records of the wrong kind decode "successfully" into
garbage. The wire format still tells a lot: a field whose wire type contradicts the schema (a varint where the
schema has a message), a string field that is not UTF-8, or a field number the schema does not know. Records of
the right kind have none of the first two, and unknown fields only where the writer's schema is newer.

:func:`misfit` walks a record's bytes against a message descriptor (nested messages too, a few levels deep);
:func:`verdict` weighs a sample of records against the named kind and the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from google.protobuf.descriptor import Descriptor, FieldDescriptor

DEPTH = 6  # nested messages checked below the record; deeper ones are taken as they are
SAMPLE = 100  # records looked at

_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5
_WIRE = {
    **dict.fromkeys(
        (
            FieldDescriptor.TYPE_INT32,
            FieldDescriptor.TYPE_INT64,
            FieldDescriptor.TYPE_UINT32,
            FieldDescriptor.TYPE_UINT64,
            FieldDescriptor.TYPE_SINT32,
            FieldDescriptor.TYPE_SINT64,
            FieldDescriptor.TYPE_BOOL,
            FieldDescriptor.TYPE_ENUM,
        ),
        _VARINT,
    ),
    **dict.fromkeys(
        (FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED64, FieldDescriptor.TYPE_DOUBLE), _FIXED64
    ),
    **dict.fromkeys(
        (FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_SFIXED32, FieldDescriptor.TYPE_FLOAT), _FIXED32
    ),
    **dict.fromkeys((FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES, FieldDescriptor.TYPE_MESSAGE), _LENGTH),
}


class Misfit(NamedTuple):
    contradicts: bool  # a wire type the schema rules out, a string that is not UTF-8, or bytes that do not parse
    unknown: bool  # a field number the schema does not have


FITS = Misfit(False, False)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def misfit(data: bytes, descriptor: Descriptor, depth: int = DEPTH) -> Misfit:
    """How ``data`` (one serialized message) fails to fit ``descriptor``."""
    unknown = False
    fields = descriptor.fields_by_number
    pos, end = 0, len(data)
    try:
        while pos < end:
            key, pos = _varint(data, pos)
            number, wire = key >> 3, key & 7
            if number == 0:
                return Misfit(True, unknown)
            if wire == _VARINT:
                _, pos = _varint(data, pos)
            elif wire == _FIXED64:
                pos += 8
            elif wire == _FIXED32:
                pos += 4
            elif wire == _LENGTH:
                length, pos = _varint(data, pos)
                start, pos = pos, pos + length
            else:  # groups (flyteidl has none) and the unused wire types 6 and 7
                return Misfit(True, unknown)
            if pos > end:
                return Misfit(True, unknown)
            field = fields.get(number)
            if field is None:
                unknown = True
                continue
            expected = _WIRE.get(field.type)
            packed = wire == _LENGTH and expected in (_VARINT, _FIXED32, _FIXED64) and _is_repeated(field)
            if wire != expected and not packed:
                return Misfit(True, unknown)
            if wire != _LENGTH or packed:
                continue
            if field.type == FieldDescriptor.TYPE_STRING:
                try:
                    data[start:pos].decode("utf-8")
                except UnicodeDecodeError:
                    return Misfit(True, unknown)
            elif field.type == FieldDescriptor.TYPE_MESSAGE and depth > 0:
                inner = misfit(data[start:pos], field.message_type, depth - 1)
                if inner.contradicts:
                    return inner
                unknown = unknown or inner.unknown
    except ValueError:
        return Misfit(True, unknown)
    return Misfit(False, unknown)


def _is_repeated(field: FieldDescriptor) -> bool:
    repeated = getattr(field, "is_repeated", None)  # protobuf >= 5.29; `label` before (and gone in 7)
    return repeated if repeated is not None else field.label == FieldDescriptor.LABEL_REPEATED


def split(data: bytes, framing: str, limit: int = SAMPLE) -> list[bytes]:
    """Up to ``limit`` records at the start of ``data``: varint length-prefixed (``"delimited"``) or field 1 of a
    ``*List`` page (``"list"``); stops quietly where the framing breaks (the decoder reports that)."""
    records: list[bytes] = []
    pos = 0
    try:
        while pos < len(data) and len(records) < limit:
            if framing == "delimited":
                length, pos = _varint(data, pos)
            else:
                key, pos = _varint(data, pos)
                wire = key & 7
                if wire == _VARINT:
                    _, pos = _varint(data, pos)
                    continue
                if wire != _LENGTH:
                    break
                length, pos = _varint(data, pos)
                if key >> 3 != 1:
                    pos += length
                    continue
            if pos + length > len(data):
                break
            records.append(data[pos : pos + length])
            pos += length
    except ValueError:
        pass
    return records


class Tally(NamedTuple):
    records: int
    contradicting: int  # records with a contradiction
    unknown: int  # records without one but with unknown fields

    @property
    def fitting(self) -> int:
        return self.records - self.contradicting - self.unknown


def tally(records: Sequence[bytes], descriptor: Descriptor, *, enough: int | None = None) -> Tally:
    """How many of ``records`` misfit ``descriptor``; with ``enough``, the count stops (and the tally covers the
    records seen) once that many fit."""
    contradicting = unknown = fitting = 0
    for data in records:
        found = misfit(data, descriptor)
        contradicting += found.contradicts
        unknown += found.unknown and not found.contradicts
        fitting += found == FITS
        if enough is not None and fitting >= enough:
            break
    return Tally(contradicting + unknown + fitting, contradicting, unknown)


class Verdict(NamedTuple):
    given: Tally
    likely: str | None  # the kind that fits the sample best, when one fits most of it


def verdict(records: Sequence[bytes], kind: str, kinds: Mapping[str, Descriptor]) -> Verdict | None:
    """``None`` when ``records`` may well be ``kind``; otherwise the evidence, and the likely kind.

    The sample is refused when most records contradict ``kind``'s schema, or when most have fields it does not
    know and another of ``kinds`` fits most of them fully (unknown fields alone may be a newer schema).
    """
    records = records[:SAMPLE]
    half = len(records) / 2
    given = tally(records, kinds[kind], enough=len(records) // 2 + 1)
    if given.fitting > half or given.contradicting + given.unknown <= half:
        return None
    others = {name: tally(records, descriptor) for name, descriptor in kinds.items() if name != kind}
    best = max(others, key=lambda name: others[name].fitting, default=None)
    likely = best if best is not None and others[best].fitting > half else None
    if given.contradicting > half or likely is not None:
        return Verdict(given, likely)
    return None
