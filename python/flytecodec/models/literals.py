"""Literal values, as in ``flytekit.models.literals``.

The literal models flytekit documents are here with its names and properties. The type descriptions they
carry (``BlobType``, ``SchemaType``, ``LiteralType``, ``StructuredDatasetType``) are lighter lazy models from
:mod:`flytecodec.models.generic`: field access under the proto names, equality and ``to_flyte_idl``.
"""

from __future__ import annotations

import datetime as _datetime

from flytecodec import _values
from flytecodec.models._entity import REQUIRED, Field, FlyteIdlEntity


def _aware(value):
    """What flytekit's ``Primitive.datetime`` gives for a constructor value: an aware datetime (UTC if naive)."""
    if isinstance(value, _datetime.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=_values.UTC)
    return _datetime.datetime.fromtimestamp(value.seconds, _values.UTC)


class RetryStrategy(FlyteIdlEntity, proto="flyteidl.core.RetryStrategy"):
    """``flyteidl.core.RetryStrategy``."""

    _fields = (Field("retries", init=REQUIRED),)


class Primitive(FlyteIdlEntity, proto="flyteidl.core.Primitive"):
    """``flyteidl.core.Primitive``: one of integer, float, string, boolean, datetime (aware UTC) or duration."""

    _fields = (
        Field("integer", init=None),
        Field("float_value", init=None),
        Field("string_value", init=None),
        Field("boolean", init=None),
        Field("datetime", init=None, accept=_aware),
        Field("duration", init=None),
    )

    @property
    def value(self):
        """Whichever value is set."""
        for value in (self.integer, self.float_value, self.string_value, self.boolean, self.datetime, self.duration):
            if value is not None:
                return value
        return None


class Binary(FlyteIdlEntity, proto="flyteidl.core.Binary"):
    """``flyteidl.core.Binary``."""

    _fields = (Field("value", init=REQUIRED), Field("tag", init=REQUIRED))


class BlobMetadata(FlyteIdlEntity, proto="flyteidl.core.BlobMetadata"):
    """``flyteidl.core.BlobMetadata``."""

    _fields = (Field("type", init=REQUIRED, absent="never"),)


class Blob(FlyteIdlEntity, proto="flyteidl.core.Blob"):
    """``flyteidl.core.Blob``: offloaded data at ``uri``."""

    _fields = (Field("metadata", init=REQUIRED, absent="never"), Field("uri", init=REQUIRED))


class Void(FlyteIdlEntity, proto="flyteidl.core.Void"):
    """``flyteidl.core.Void``: the none value."""


class Schema(FlyteIdlEntity, proto="flyteidl.core.Schema"):
    """``flyteidl.core.Schema``."""

    _fields = (Field("uri", init=REQUIRED), Field("type", init=REQUIRED, absent="never"))


class Union(FlyteIdlEntity, proto="flyteidl.core.Union"):
    """``flyteidl.core.Union``: a literal with the union member type it was stored as."""

    _fields = (
        Field("value", init=REQUIRED, absent="never"),
        Field("type", name="stored_type", init=REQUIRED, absent="never"),
    )


class StructuredDatasetMetadata(FlyteIdlEntity, proto="flyteidl.core.StructuredDatasetMetadata"):
    """``flyteidl.core.StructuredDatasetMetadata``."""

    _fields = (Field("structured_dataset_type", init=None, absent="never"),)


class StructuredDataset(FlyteIdlEntity, proto="flyteidl.core.StructuredDataset"):
    """``flyteidl.core.StructuredDataset``."""

    _fields = (Field("uri", init=REQUIRED), Field("metadata", init=None, absent="never"))


class LiteralCollection(FlyteIdlEntity, proto="flyteidl.core.LiteralCollection"):
    """``flyteidl.core.LiteralCollection``: ``literals`` is a list of :class:`Literal`."""

    _fields = (Field("literals", init=REQUIRED),)


class LiteralMap(FlyteIdlEntity, proto="flyteidl.core.LiteralMap"):
    """``flyteidl.core.LiteralMap``: ``literals`` is a dict of str to :class:`Literal`."""

    _fields = (Field("literals", init=REQUIRED),)


class Scalar(FlyteIdlEntity, proto="flyteidl.core.Scalar"):
    """``flyteidl.core.Scalar``; ``error`` and ``generic`` are protobuf messages, as in flytekit."""

    _fields = (
        Field("primitive", init=None),
        Field("blob", init=None),
        Field("binary", init=None),
        Field("schema", init=None),
        Field("union", init=None),
        Field("none_type", init=None),
        Field("error", init=None, kind="raw"),
        Field("generic", init=None),
        Field("structured_dataset", init=None),
    )

    @property
    def value(self):
        """Whichever value is set."""
        return (
            self.primitive
            or self.blob
            or self.binary
            or self.schema
            or self.union
            or self.none_type
            or self.error
            or self.generic
            or self.structured_dataset
        )


class LiteralOffloadedMetadata(FlyteIdlEntity, proto="flyteidl.core.LiteralOffloadedMetadata"):
    """``flyteidl.core.LiteralOffloadedMetadata``."""

    _fields = (Field("uri", init=None), Field("size_bytes", init=None), Field("inferred_type", init=None))


class Literal(FlyteIdlEntity, proto="flyteidl.core.Literal"):
    """``flyteidl.core.Literal``: a scalar, a collection or a map; ``hash`` can be set, as in flytekit."""

    _fields = (
        Field("scalar", init=None),
        Field("collection", init=None),
        Field("map", init=None),
        Field("hash", init=None, absent="falsy", settable=True),
        Field("metadata", init=None, absent="falsy"),
        Field("offloaded_metadata", init=None),
    )

    @property
    def value(self):
        """Whichever of scalar, collection and map is set."""
        return self.scalar or self.collection or self.map

    def set_metadata(self, metadata) -> None:
        """Replace the literal's metadata (a mutation, as in flytekit)."""
        self._assign(self._field_map["metadata"], metadata)
