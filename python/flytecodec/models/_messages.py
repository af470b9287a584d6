"""What the model layer knows of a protobuf message before protobuf is imported: its fields and where its class is.

The messages of the hand-written models are described in ``_message_table.py``, generated from flyteidl's
descriptors by ``scripts/gen_message_table.py`` (a test regenerates it and compares), so that importing the models
imports neither protobuf nor flyteidl: a decode on the native backend never needs them. The protobuf class of a
message is imported when first asked for (``to_flyte_idl``, ``from_flyte_idl``, the python backend). A message
outside the table (a generic model's) is described from its descriptor by the same function the generator uses.

A field's row: ``(name, number, shape, message, presence, string_keys)``, where ``shape`` is ``"single"``,
``"repeated"`` or ``"map"``; ``message`` the full name of the field's message type (a map's value type), or None
for a scalar; ``presence`` whether a single field tracks presence; ``string_keys`` whether a map's keys are
strings.
"""

from __future__ import annotations

import importlib

from flytecodec.models._message_table import MESSAGES

FieldRow = tuple[str, int, str, "str | None", bool, bool]


def fields_of(full_name: str) -> tuple[FieldRow, ...]:
    """The field rows of message ``full_name`` (:class:`KeyError` for a message protobuf does not know)."""
    entry = MESSAGES.get(full_name)
    if entry is not None:
        return entry[2]
    return describe(_descriptor(full_name))


def message_class(full_name: str) -> type:
    """The protobuf class of message ``full_name``, its module imported now if it was not."""
    entry = MESSAGES.get(full_name)
    if entry is None:
        from google.protobuf import message_factory

        return message_factory.GetMessageClass(_descriptor(full_name))
    module, path = entry[0], entry[1]
    found = importlib.import_module(module)
    for part in path.split("."):
        found = getattr(found, part)
    return found


def _descriptor(full_name: str):
    """The descriptor of message ``full_name``, from protobuf's pool once the table's modules are imported (they
    bring every message a model's field can lead to)."""
    from google.protobuf import descriptor_pool

    pool = descriptor_pool.Default()
    try:
        return pool.FindMessageTypeByName(full_name)
    except KeyError:
        for module in sorted({entry[0] for entry in MESSAGES.values()}):
            importlib.import_module(module)
    try:
        return pool.FindMessageTypeByName(full_name)
    except KeyError:
        raise KeyError(f"unknown protobuf message {full_name!r}") from None


def describe(descriptor) -> tuple[FieldRow, ...]:
    """The field rows of a protobuf message descriptor."""
    rows = []
    for fd in descriptor.fields:
        repeated = getattr(fd, "is_repeated", None)
        if repeated is None:  # protobuf < 6
            repeated = fd.label == fd.LABEL_REPEATED
        mtype = fd.message_type
        if repeated and mtype is not None and mtype.GetOptions().map_entry:
            key, value = mtype.fields_by_name["key"], mtype.fields_by_name["value"]
            value_type = value.message_type
            name = None if value_type is None else value_type.full_name
            rows.append((fd.name, fd.number, "map", name, False, key.type == key.TYPE_STRING))
        else:
            name = None if mtype is None else mtype.full_name
            shape = "repeated" if repeated else "single"
            rows.append((fd.name, fd.number, shape, name, not repeated and fd.has_presence, False))
    return tuple(rows)


def message_module(descriptor) -> str:
    """The Python module of a protobuf message: ``flyteidl/core/security.proto`` -> ``flyteidl.core.security_pb2``."""
    return descriptor.file.name[: -len(".proto")].replace("/", ".") + "_pb2"


def message_path(descriptor) -> str:
    """A message's class path within its module (``Outer.Inner`` for nested messages)."""
    package = descriptor.file.package
    return descriptor.full_name[len(package) + 1 :] if package else descriptor.full_name
