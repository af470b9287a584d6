""".proto sources of a message's files, printed from the compiled descriptors: pybufarrow compiles ``.proto``
files itself and flyteidl's wheel ships none. Only what a schema needs is printed (packages, imports, messages,
enums, oneofs, maps, proto3 ``optional``); options are left out, as they do not change the wire format."""

from __future__ import annotations

from pathlib import Path

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FileDescriptor

F = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    F.TYPE_DOUBLE: "double", F.TYPE_FLOAT: "float", F.TYPE_INT64: "int64", F.TYPE_UINT64: "uint64",
    F.TYPE_INT32: "int32", F.TYPE_FIXED64: "fixed64", F.TYPE_FIXED32: "fixed32", F.TYPE_BOOL: "bool",
    F.TYPE_STRING: "string", F.TYPE_BYTES: "bytes", F.TYPE_UINT32: "uint32", F.TYPE_SFIXED32: "sfixed32",
    F.TYPE_SFIXED64: "sfixed64", F.TYPE_SINT32: "sint32", F.TYPE_SINT64: "sint64",
}  # fmt: skip


def write_protos(file: FileDescriptor, root: Path) -> Path:
    """Write ``file`` and every file it imports under ``root``; the path of ``file``'s source."""
    done: set[str] = set()

    def write(fd: FileDescriptor) -> None:
        if fd.name in done:
            return
        done.add(fd.name)
        for dependency in fd.dependencies:
            write(dependency)
        proto = descriptor_pb2.FileDescriptorProto()
        fd.CopyToProto(proto)
        path = root / fd.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_file(proto))

    write(file)
    return root / file.name


def _file(proto: descriptor_pb2.FileDescriptorProto) -> str:
    lines = [f'syntax = "{proto.syntax or "proto2"}";', f"package {proto.package};"]
    lines += [f'import "{name}";' for name in proto.dependency]
    for enum in proto.enum_type:
        lines += _enum(enum, "")
    for message in proto.message_type:
        lines += _message(message, "", proto.syntax == "proto3")
    return "\n".join(lines) + "\n"


def _enum(enum: descriptor_pb2.EnumDescriptorProto, indent: str) -> list[str]:
    numbers = [value.number for value in enum.value]
    lines = [f"{indent}enum {enum.name} {{"]
    if len(set(numbers)) < len(numbers):
        lines.append(f"{indent}  option allow_alias = true;")
    lines += [f"{indent}  {value.name} = {value.number};" for value in enum.value]
    return [*lines, f"{indent}}}"]


def _message(message: descriptor_pb2.DescriptorProto, indent: str, proto3: bool) -> list[str]:
    inner = indent + "  "
    entries = {nested.name: nested for nested in message.nested_type if nested.options.map_entry}
    lines = [f"{indent}message {message.name} {{"]
    for enum in message.enum_type:
        lines += _enum(enum, inner)
    for nested in message.nested_type:
        if not nested.options.map_entry:
            lines += _message(nested, inner, proto3)
    in_oneof: dict[int, list[descriptor_pb2.FieldDescriptorProto]] = {}
    for field in message.field:
        if field.HasField("oneof_index") and not field.proto3_optional:
            in_oneof.setdefault(field.oneof_index, []).append(field)
            continue
        lines.append(inner + _field(field, entries, proto3))
    for index, fields in in_oneof.items():
        lines.append(f"{inner}oneof {message.oneof_decl[index].name} {{")
        lines += [f"{inner}  {_type(field)} {field.name} = {field.number};" for field in fields]
        lines.append(f"{inner}}}")
    return [*lines, f"{indent}}}"]


def _field(field, entries, proto3: bool) -> str:
    entry = entries.get(field.type_name.rsplit(".", 1)[-1]) if field.type == F.TYPE_MESSAGE else None
    if entry is not None and field.label == F.LABEL_REPEATED:
        key, value = entry.field[0], entry.field[1]
        return f"map<{_type(key)}, {_type(value)}> {field.name} = {field.number};"
    if field.label == F.LABEL_REPEATED:
        label = "repeated "
    elif field.proto3_optional or not proto3:
        label = "optional "
    else:
        label = ""
    return f"{label}{_type(field)} {field.name} = {field.number};"


def _type(field) -> str:
    return _SCALARS.get(field.type) or field.type_name
