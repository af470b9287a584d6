#!/usr/bin/env python3
"""Export the protobuf descriptors of the installed ``flyteidl`` package.

Writes ``schema/flyteidl.binpb`` (a serialized ``google.protobuf.FileDescriptorSet`` holding the
admin execution / node execution / task execution files and every file they depend on, each file
after its dependencies) and ``schema/VERSION`` (the installed flyteidl version). The extension embeds
these files and builds its message table from them at load, so no ``protoc`` is needed.

Usage::

    python scripts/export_descriptors.py           # (re)write schema/
    python scripts/export_descriptors.py --check   # exit 1 if schema/ differs from the installed flyteidl
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = REPO_ROOT / "schema"
DESCRIPTORS_PATH = SCHEMA_DIR / "flyteidl.binpb"
VERSION_PATH = SCHEMA_DIR / "VERSION"

# The generated modules whose files (and transitive deps) make up the schema, in this order.
ROOT_MODULES = (
    "flyteidl.admin.execution_pb2",
    "flyteidl.admin.node_execution_pb2",
    "flyteidl.admin.task_execution_pb2",
)


def flyteidl_version() -> str:
    return importlib.metadata.version("flyteidl")


def build_descriptor_set() -> bytes:
    """Serialized FileDescriptorSet of ROOT_MODULES and their transitive deps, deps first.

    The order is a depth-first post-order walk that follows each file's ``dependency`` list in
    declaration order, starting from ROOT_MODULES in the order above: stable across runs and
    machines, and every file comes after all the files it imports.
    """
    from google.protobuf import descriptor_pb2

    ordered: list[descriptor_pb2.FileDescriptorProto] = []
    state: dict[str, int] = {}  # name -> 1 visiting, 2 done

    def visit(file_descriptor) -> None:  # google.protobuf.descriptor.FileDescriptor
        name = file_descriptor.name
        mark = state.get(name)
        if mark == 2:
            return
        if mark == 1:
            raise RuntimeError(f"import cycle through {name}")
        state[name] = 1
        for dep in file_descriptor.dependencies:
            visit(dep)
        # serialized_pb is the FileDescriptorProto exactly as protoc emitted it into the _pb2 module,
        # so the result does not depend on how this protobuf runtime would re-describe the file.
        ordered.append(descriptor_pb2.FileDescriptorProto.FromString(file_descriptor.serialized_pb))
        state[name] = 2

    for module_name in ROOT_MODULES:
        visit(importlib.import_module(module_name).DESCRIPTOR)

    fds = descriptor_pb2.FileDescriptorSet()
    fds.file.extend(ordered)
    return fds.SerializeToString(deterministic=True)


def expected_files() -> dict[Path, bytes]:
    return {
        DESCRIPTORS_PATH: build_descriptor_set(),
        VERSION_PATH: (flyteidl_version() + "\n").encode("ascii"),
    }


def check() -> tuple[bool, list[str]]:
    """Compare schema/ with what the installed flyteidl produces. Returns (ok, problems)."""
    problems: list[str] = []
    for path, want in expected_files().items():
        rel = path.relative_to(REPO_ROOT)
        if not path.exists():
            problems.append(f"{rel} is missing")
            continue
        have = path.read_bytes()
        if have != want:
            first = next((i for i, (a, b) in enumerate(zip(have, want)) if a != b), min(len(have), len(want)))
            problems.append(
                f"{rel} differs from the installed flyteidl {flyteidl_version()} "
                f"({len(have)} bytes committed vs {len(want)} expected; first difference at byte {first})"
            )
    return (not problems), problems


def write() -> None:
    SCHEMA_DIR.mkdir(parents=True, exist_ok=True)
    for path, data in expected_files().items():
        path.write_bytes(data)
        print(f"wrote {path.relative_to(REPO_ROOT)} ({len(data)} bytes)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify schema/ instead of writing it")
    args = parser.parse_args(argv)
    if args.check:
        ok, problems = check()
        if ok:
            print(f"schema/ matches the installed flyteidl {flyteidl_version()}")
            return 0
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        print("run `python scripts/export_descriptors.py` to regenerate schema/", file=sys.stderr)
        return 1
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
