"""What ``decode`` reads (bytes-like objects, paths, binary files, mmaps) and the buffer rule: decoded models never
see later changes to the input.

Every test that decodes takes the ``backend`` fixture, so it runs once per available backend; the records come
from :mod:`flytecodec.testing.corpus` (``support/kinds.py``) or are built by hand where a test needs exact
control over the bytes.
"""

from __future__ import annotations

import io
import mmap
import pathlib

import pytest

from flytecodec import decode
from flytecodec.models.admin.task_execution import TaskExecution
from flytecodec.models.execution import Execution
from flytecodec.models.node_execution import NodeExecution
from flytecodec.testing import corpus
from support.kinds import KINDS, assert_records, ser

# -- input kinds ------------------------------------------------------------------------------------------------


def _as_input(kind_of_input: str, data: bytes, tmp_path: pathlib.Path, stack):
    """``data`` presented as ``kind_of_input``; files and maps are closed by ``stack``."""
    if kind_of_input == "bytes":
        return data
    if kind_of_input == "bytearray":
        return bytearray(data)
    if kind_of_input == "memoryview":
        return memoryview(data)
    if kind_of_input == "memoryview-of-bytearray":
        return memoryview(bytearray(data))
    path = tmp_path / "records.bin"
    path.write_bytes(data)
    if kind_of_input == "str-path":
        return str(path)
    if kind_of_input == "pathlib-path":
        return path
    if kind_of_input == "binary-file":
        return stack.enter_context(open(path, "rb"))
    if kind_of_input == "bytesio":
        return io.BytesIO(data)
    if kind_of_input == "mmap":
        f = stack.enter_context(path.open("rb"))
        return stack.enter_context(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
    raise AssertionError(kind_of_input)


INPUT_KINDS = [
    "bytes",
    "bytearray",
    "memoryview",
    "memoryview-of-bytearray",
    "mmap",
    "str-path",
    "pathlib-path",
    "binary-file",
    "bytesio",
]


@pytest.mark.parametrize("framing", ["list", "delimited"])
@pytest.mark.parametrize("kind_of_input", INPUT_KINDS)
def test_input_kinds(backend, kind_of_input, framing, tmp_path):
    import contextlib

    listing = corpus.execution_list(20, seed=21, token="tok" if framing == "list" else "")
    records = list(listing.executions)
    data = ser(listing) if framing == "list" else corpus.delimited(records)
    with contextlib.ExitStack() as stack:
        batch = decode(Execution, _as_input(kind_of_input, data, tmp_path, stack), framing=framing)
    # Files and maps are closed now: the models do not depend on them.
    assert batch.token == listing.token
    assert_records(batch, records, KINDS["execution"])


def test_binary_file_is_read_from_its_current_position(backend, tmp_path):
    records = corpus.executions(5, seed=22)
    header = b"HEADER\n"
    path = tmp_path / "dump.bin"
    path.write_bytes(header + corpus.delimited(records))
    with open(path, "rb") as f:
        f.seek(len(header))
        batch = decode(Execution, f, framing="delimited")
    assert_records(batch, records)


def test_a_text_mode_file_is_a_type_error(backend, tmp_path):
    path = tmp_path / "records.txt"
    path.write_text("not protobuf")
    with open(path) as f, pytest.raises(TypeError, match="binary"):
        decode(Execution, f, framing="delimited")
    with pytest.raises(TypeError):
        decode(Execution, io.StringIO("text"), framing="message")


@pytest.mark.parametrize("bad", [42, 4.5, None, object()], ids=["int", "float", "None", "object"])
@pytest.mark.parametrize("framing", ["list", "delimited", "message"])
def test_input_of_a_wrong_type_is_a_type_error(backend, bad, framing):
    with pytest.raises(TypeError):
        decode(Execution, bad, framing=framing)


def test_an_int_without_framing_is_a_type_error(backend):
    with pytest.raises(TypeError):
        decode(Execution, 42)


def test_a_missing_file_is_an_os_error(backend, tmp_path):
    with pytest.raises(FileNotFoundError):
        decode(Execution, tmp_path / "nope.bin", framing="delimited")
    with pytest.raises(FileNotFoundError):
        decode(Execution, str(tmp_path / "nope.bin"), framing="list")


# -- the buffer rule: decoded models never see later changes to the input ------------------------------------


@pytest.mark.parametrize("framing", ["list", "delimited", "message"])
def test_overwriting_and_clearing_the_bytearray_after_decode(backend, framing):
    """Models read before and after the caller reuses its buffer keep the values of the decoded bytes."""
    listing = corpus.execution_list(6, seed=31, token="tok")
    records = list(listing.executions)
    if framing == "message":
        records = records[:1]
        data = bytearray(ser(records[0]))
    elif framing == "list":
        data = bytearray(ser(listing))
    else:
        data = bytearray(corpus.delimited(records))
    batch = decode(Execution, data, framing=framing)
    first = batch[0]
    name, phase = first.id.name, first.closure.phase  # read some fields before the change ...
    data[:] = bytes(len(data))  # ... overwrite every byte (this must not raise: no view of `data` is kept) ...
    data[:4] = b"\xff\xff\xff\xff"
    data.clear()  # ... and shrink the buffer to nothing.
    assert first.id.name == name and first.closure.phase == phase
    assert_records(batch, records, KINDS["execution"])  # models not read before the change, too
    if framing == "list":
        assert batch.token == "tok"


def test_mutating_sequence_items_after_decode(backend):
    records = corpus.node_executions(5, seed=32)
    items = [bytearray(ser(r)) for r in records]
    views = [memoryview(bytearray(ser(r))) for r in records]
    from_items = decode(NodeExecution, items)
    from_views = decode(NodeExecution, views)
    for item in items:
        item[:] = b"\x00" * len(item)
        item.clear()
    for view in views:
        view.obj[:] = b"\xff" * len(view.obj)  # same length: a bytearray with exports cannot resize
        view.release()
    assert_records(from_items, records, KINDS["node_execution"])
    assert_records(from_views, records, KINDS["node_execution"])


def test_closing_the_mmap_after_decode(backend, tmp_path):
    records = corpus.task_executions(8, seed=33)
    path = tmp_path / "dump.bin"
    path.write_bytes(corpus.delimited(records))
    with open(path, "r+b") as f, mmap.mmap(f.fileno(), 0) as mapped:
        batch = decode(TaskExecution, mapped, framing="delimited")
        first = batch[0].to_flyte_idl()
        mapped[:] = bytes(len(mapped))
    path.write_bytes(b"")
    assert first == records[0]
    assert_records(batch, records, KINDS["task_execution"])
