"""The bulk API: ``decode`` and friends over every framing and input kind, :class:`Batch`, backend selection.

Every test that decodes takes the ``backend`` fixture, so the suite runs once per available backend. The records
come from :mod:`flytecodec.testing.corpus` (realistic flyteadmin records) or are built by hand where a test needs
exact control over the bytes.
"""

from __future__ import annotations

import collections.abc
import datetime
import functools
import io
import mmap
import os
import pathlib
import pickle
import subprocess
import sys
from typing import Any, Callable, NamedTuple

import pytest
from flyteidl.admin import execution_pb2, node_execution_pb2, task_execution_pb2

import flytecodec
from flytecodec import (
    Batch,
    DecodeError,
    decode,
    decode_executions,
    decode_node_executions,
    decode_task_executions,
)
from flytecodec.models._entity import FlyteIdlEntity, model_for
from flytecodec.models.admin.task_execution import TaskExecution, TaskExecutionClosure
from flytecodec.models.execution import Execution, ExecutionClosure, ExecutionSpec
from flytecodec.models.node_execution import NodeExecution, NodeExecutionClosure
from flytecodec.remote.executions import FlyteNodeExecution, FlyteTaskExecution, FlyteWorkflowExecution
from flytecodec.testing import corpus

# -- the three kinds of records -------------------------------------------------------------------------------


class Kind(NamedTuple):
    model: type
    records: Callable[..., list]  # corpus generator: (n, seed) -> list of pb2 records
    make_list: Callable[..., Any]  # corpus generator: (n, seed, token) -> *List message
    list_class: type
    field: str  # the repeated field of the *List message
    decoder: Callable[..., Batch]  # decode_executions & co
    remote: type  # the FlyteRemote class
    closure_model: type
    paths: tuple  # attribute paths whose value is the same on the model and on the pb2 message


KINDS = {
    "execution": Kind(
        Execution,
        corpus.executions,
        corpus.execution_list,
        execution_pb2.ExecutionList,
        "executions",
        decode_executions,
        FlyteWorkflowExecution,
        ExecutionClosure,
        ("id.project", "id.domain", "id.name", "closure.phase", "spec.launch_plan.name", "spec.metadata.principal"),
    ),
    "node_execution": Kind(
        NodeExecution,
        corpus.node_executions,
        corpus.node_execution_list,
        node_execution_pb2.NodeExecutionList,
        "node_executions",
        decode_node_executions,
        FlyteNodeExecution,
        NodeExecutionClosure,
        ("id.node_id", "id.execution_id.name", "input_uri", "closure.phase"),
    ),
    "task_execution": Kind(
        TaskExecution,
        corpus.task_executions,
        corpus.task_execution_list,
        task_execution_pb2.TaskExecutionList,
        "task_executions",
        decode_task_executions,
        FlyteTaskExecution,
        TaskExecutionClosure,
        ("id.task_id.name", "id.retry_attempt", "input_uri", "is_parent", "closure.phase"),
    ),
}


@pytest.fixture(params=sorted(KINDS))
def kind(request) -> Kind:
    return KINDS[request.param]


def _get(obj, path: str):
    return functools.reduce(getattr, path.split("."), obj)


def _ser(message) -> bytes:
    return message.SerializeToString(deterministic=True)


_varint = corpus.varint


def _delimited(payloads) -> bytes:
    return b"".join(_varint(len(p)) + p for p in payloads)


def _has_multi_entry_map(message) -> bool:
    """Whether ``message`` (recursively) has a map field with two or more entries.

    upb serializes map entries in the order of its hash table, so only such messages can come out of a
    parse-and-reserialize round trip with other bytes than went in.
    """
    for fdesc, value in message.ListFields():
        mtype = fdesc.message_type
        if mtype is None:
            continue
        if mtype.GetOptions().map_entry:
            if len(value) >= 2:
                return True
            nested = mtype.fields_by_name["value"].message_type is not None
            if nested and any(_has_multi_entry_map(v) for v in value.values()):
                return True
        elif fdesc.is_repeated:
            if any(_has_multi_entry_map(v) for v in value):
                return True
        elif _has_multi_entry_map(value):
            return True
    return False


def _assert_records(batch, sources, kind: Kind | None = None) -> None:
    """``batch`` holds models equal to the pb2 ``sources``, in order, with the same property values."""
    assert len(batch) == len(sources)
    for model, source in zip(batch, sources):
        assert model.to_flyte_idl() == source
        if kind is not None:
            for path in kind.paths:
                assert _get(model, path) == _get(source, path), path


# -- backend selection -----------------------------------------------------------------------------------------


def test_available_backends_lists_python_last():
    names = flytecodec.available_backends()
    assert "python" in names
    assert set(names) <= {"native", "python"}
    assert names[-1] == "python"  # preferred first: native when it is built
    assert len(names) == len(set(names))


def test_backend_fixture_activates_the_backend(backend):
    assert flytecodec.backend() == backend


def test_set_backend_rejects_an_unknown_name(backend):
    with pytest.raises(ValueError, match=r"unknown backend 'rust'.*native.*python"):
        flytecodec.set_backend("rust")
    assert flytecodec.backend() == backend


_WITHOUT_NATIVE = (
    "import sys\n"
    "sys.modules['flytecodec._native'] = None  # importing it now raises ImportError: a build without Rust\n"
    "import flytecodec\n"
    "print(flytecodec.available_backends(), flytecodec.backend())\n"
    "try:\n"
    "    flytecodec.set_backend('native')\n"
    "except ValueError as e:\n"
    "    print('refused:', e)\n"
    "print(flytecodec.backend())\n"
)


def test_set_backend_rejects_a_backend_that_is_not_built():
    """In a process where the extension cannot be imported, asking for the native backend says it is not built,
    and the python backend stays active."""
    env = {k: v for k, v in os.environ.items() if k != "FLYTECODEC_BACKEND"}
    done = subprocess.run([sys.executable, "-c", _WITHOUT_NATIVE], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    first, refused, last = done.stdout.splitlines()
    assert first == "['python'] python"
    assert refused.startswith("refused: set_backend: the native backend is not available here"), refused
    assert last == "python"


def test_using_backend_restores_the_previous_one_after_an_error(backend):
    other = flytecodec.available_backends()[0]
    with pytest.raises(RuntimeError), flytecodec.using_backend(other) as name:
        assert name == other == flytecodec.backend()
        raise RuntimeError("boom")
    assert flytecodec.backend() == backend


def _run(code: str, env_value: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "FLYTECODEC_BACKEND"}
    env["FLYTECODEC_BACKEND"] = env_value
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )


_SUBPROCESS_DECODE = (
    "import flytecodec\n"
    "from flytecodec.models.execution import Execution\n"
    "print(flytecodec.backend())\n"
    "batch = flytecodec.decode(Execution, b'\\x0a\\x04\\x22\\x02ab', framing='message')\n"
    "print(batch[0].id.name)\n"
)


def test_env_var_selects_the_python_backend():
    done = _run(_SUBPROCESS_DECODE, "python")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["python", "ab"]


def test_env_var_with_an_unknown_backend_is_a_clear_error():
    done = _run(_SUBPROCESS_DECODE, "turbo")
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ValueError: FLYTECODEC_BACKEND: unknown backend 'turbo'"), done.stderr
    assert "native" in last and "python" in last


def test_env_var_with_an_unknown_backend_fails_for_sequence_input_too():
    code = "import flytecodec\nfrom flytecodec.models.execution import Execution\nflytecodec.decode(Execution, [b''])\n"
    done = _run(code, "turbo")
    assert done.returncode != 0
    assert "unknown backend 'turbo'" in done.stderr


# -- framings ----------------------------------------------------------------------------------------------------


def test_list_framing(backend, kind):
    """A ``*List`` response: the records equal the pb2 records, the batch keeps the page token."""
    listing = kind.make_list(25, seed=3, token="page-2/\u00e9")
    batch = decode(kind.model, _ser(listing), framing="list")
    assert isinstance(batch, Batch)
    assert batch.model is kind.model
    assert batch.token == "page-2/\u00e9"
    _assert_records(batch, list(getattr(listing, kind.field)), kind)
    assert all(type(m) is kind.model for m in batch)


def test_kind_decoders_match_decode(backend, kind):
    listing = kind.make_list(10, seed=5, token="t")
    data = _ser(listing)
    batch = kind.decoder(data, framing="list")
    assert batch.model is kind.model and batch.token == "t"
    _assert_records(batch, list(getattr(listing, kind.field)), kind)
    records = list(getattr(listing, kind.field))
    _assert_records(kind.decoder(_delimited(_ser(r) for r in records), framing="delimited"), records, kind)
    _assert_records(kind.decoder([_ser(r) for r in records]), records, kind)


def test_list_framing_with_records_and_token_in_any_order(backend):
    """Protobuf allows fields in any order and repeated scalars to repeat: the last token wins, as in upb."""
    records = corpus.executions(3, seed=11)
    data = (
        b"\x12\x05first"
        + b"".join(b"\x0a" + _varint(len(_ser(r))) + _ser(r) for r in records[:2])
        + b"\x12\x04last"
        + b"\x0a"
        + _varint(len(_ser(records[2])))
        + _ser(records[2])
    )
    expected = execution_pb2.ExecutionList.FromString(data)
    batch = decode(Execution, data, framing="list")
    assert batch.token == expected.token == "last"
    _assert_records(batch, records)


def test_delimited_framing(backend, kind):
    records = kind.records(40, seed=7)
    batch = decode(kind.model, corpus.delimited(records), framing="delimited")
    assert batch.token == ""
    _assert_records(batch, records, kind)


def test_delimited_framing_with_empty_records(backend):
    """A zero-length record is a valid message with every field at its default."""
    records = corpus.executions(2, seed=1)
    data = _delimited([b"", _ser(records[0]), b"", b"", _ser(records[1]), b""])
    batch = decode(Execution, data, framing="delimited")
    empty = execution_pb2.Execution()
    _assert_records(batch, [empty, records[0], empty, empty, records[1], empty])
    assert batch[0].closure.phase == 0
    assert batch[0].id.name == ""


def test_message_framing(backend, kind):
    record = kind.records(1, seed=9)[0]
    batch = decode(kind.model, _ser(record), framing="message")
    assert len(batch) == 1 and batch.token == ""
    _assert_records(batch, [record], kind)


def test_message_framing_reads_a_whole_list_as_one_message(backend):
    """Any model class decodes, including the generic model of a ``*List`` response itself."""
    listing = corpus.execution_list(4, seed=2, token="next")
    list_model = model_for("flyteidl.admin.ExecutionList")
    (whole,) = decode(list_model, _ser(listing), framing="message")
    assert whole.token == "next"
    assert [e.to_flyte_idl() for e in whole.executions] == list(listing.executions)
    assert all(isinstance(e, Execution) for e in whole.executions)


_BYTES_LIKE = {
    "bytes": bytes,
    "bytearray": bytearray,
    "memoryview": memoryview,
    "memoryview-slice": lambda b: memoryview(b"<<" + b + b">>")[2:-2],
}


@pytest.mark.parametrize("framing", [None, "sequence"])
@pytest.mark.parametrize("item_type", sorted(_BYTES_LIKE))
@pytest.mark.parametrize("container", [list, tuple])
def test_sequence_input(backend, kind, item_type, framing, container):
    records = kind.records(12, seed=4)
    items = container(_BYTES_LIKE[item_type](_ser(r)) for r in records)
    batch = decode(kind.model, items, framing=framing)
    assert batch.token == ""
    _assert_records(batch, records, kind)


def test_sequence_of_mixed_bytes_like_items(backend):
    records = corpus.executions(4, seed=8)
    items = [_ser(records[0]), bytearray(_ser(records[1])), memoryview(_ser(records[2])), _ser(records[3])]
    _assert_records(decode(Execution, items), records)


@pytest.mark.parametrize(
    "closure_model",
    [ExecutionClosure, NodeExecutionClosure, TaskExecutionClosure],
    ids=lambda c: c.__name__,
)
def test_a_column_of_closures(backend, closure_model):
    """flyteadmin's ``*.closure`` columns: one serialized closure per row, decoded as a sequence."""
    kind = next(k for k in KINDS.values() if k.closure_model is closure_model)
    closures = [r.closure for r in kind.records(60, seed=12)]
    batch = decode(closure_model, [_ser(c) for c in closures])
    assert batch.model is closure_model
    _assert_records(batch, closures)
    for model, source in zip(batch, closures):
        assert model.phase == source.phase
        started = model.started_at  # aware UTC, or naive UTC for task executions (as in flytekit)
        assert started.utcoffset() in (None, datetime.timedelta(0))
        assert started.replace(tzinfo=None) == source.started_at.ToDatetime()
    # The same column as a delimited dump decodes the same way.
    _assert_records(decode(closure_model, _delimited(_ser(c) for c in closures), framing="delimited"), closures)


def test_a_column_of_specs(backend):
    specs = [r.spec for r in corpus.executions(30, seed=13)]
    batch = decode(ExecutionSpec, [_ser(s) for s in specs])
    _assert_records(batch, specs)
    for model, source in zip(batch, specs):
        assert model.launch_plan.name == source.launch_plan.name
        assert model.metadata.principal == source.metadata.principal


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
    data = _ser(listing) if framing == "list" else corpus.delimited(records)
    with contextlib.ExitStack() as stack:
        batch = decode(Execution, _as_input(kind_of_input, data, tmp_path, stack), framing=framing)
    # Files and maps are closed now: the models do not depend on them.
    assert batch.token == listing.token
    _assert_records(batch, records, KINDS["execution"])


def test_binary_file_is_read_from_its_current_position(backend, tmp_path):
    records = corpus.executions(5, seed=22)
    header = b"HEADER\n"
    path = tmp_path / "dump.bin"
    path.write_bytes(header + corpus.delimited(records))
    with open(path, "rb") as f:
        f.seek(len(header))
        batch = decode(Execution, f, framing="delimited")
    _assert_records(batch, records)


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
        data = bytearray(_ser(records[0]))
    elif framing == "list":
        data = bytearray(_ser(listing))
    else:
        data = bytearray(corpus.delimited(records))
    batch = decode(Execution, data, framing=framing)
    first = batch[0]
    name, phase = first.id.name, first.closure.phase  # read some fields before the change ...
    data[:] = bytes(len(data))  # ... overwrite every byte (this must not raise: no view of `data` is kept) ...
    data[:4] = b"\xff\xff\xff\xff"
    data.clear()  # ... and shrink the buffer to nothing.
    assert first.id.name == name and first.closure.phase == phase
    _assert_records(batch, records, KINDS["execution"])  # models not read before the change, too
    if framing == "list":
        assert batch.token == "tok"


def test_mutating_sequence_items_after_decode(backend):
    records = corpus.node_executions(5, seed=32)
    items = [bytearray(_ser(r)) for r in records]
    views = [memoryview(bytearray(_ser(r))) for r in records]
    from_items = decode(NodeExecution, items)
    from_views = decode(NodeExecution, views)
    for item in items:
        item[:] = b"\x00" * len(item)
        item.clear()
    for view in views:
        view.obj[:] = b"\xff" * len(view.obj)  # same length: a bytearray with exports cannot resize
        view.release()
    _assert_records(from_items, records, KINDS["node_execution"])
    _assert_records(from_views, records, KINDS["node_execution"])


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
    _assert_records(batch, records, KINDS["task_execution"])


# -- argument errors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"\x0a\x00", bytearray(b"\x0a\x00"), memoryview(b"")], ids=repr)
def test_framing_is_required_for_bytes_input(backend, data):
    with pytest.raises(ValueError, match=r"framing") as info:
        decode(Execution, data)
    message = str(info.value)
    assert "'list'" in message and "'delimited'" in message and "'message'" in message
    assert not isinstance(info.value, DecodeError)


def test_framing_is_required_for_path_input(backend, tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="framing"):
        decode(Execution, path)


@pytest.mark.parametrize("framing", ["lists", "LIST", "", "json", "length-prefixed", "sequence"])
def test_unknown_framing(backend, framing):
    with pytest.raises(ValueError, match="framing") as info:
        decode(Execution, b"", framing=framing)
    assert repr(framing) in str(info.value)
    assert not isinstance(info.value, DecodeError)


@pytest.mark.parametrize("model", [ExecutionClosure, ExecutionSpec, NodeExecutionClosure, TaskExecutionClosure])
def test_list_framing_needs_a_model_with_a_list_response(backend, model):
    with pytest.raises(ValueError, match=model.__name__):
        decode(model, b"", framing="list")
    with pytest.raises(ValueError, match=model.__name__):
        decode(model, corpus.execution_list(2).SerializeToString(), framing="list")


@pytest.mark.parametrize("framing", ["delimited", "message", "bogus"])  # "list": a sequence of pages
def test_sequence_input_takes_no_byte_framing(backend, framing):
    with pytest.raises(ValueError, match="framing"):
        decode(Execution, [b""], framing=framing)
    with pytest.raises(ValueError, match="framing"):
        decode(Execution, [], framing=framing)


class _NotAModel:
    @classmethod
    def from_flyte_idl(cls, pb):  # pragma: no cover - never called
        return cls()


@pytest.mark.parametrize(
    "model",
    [
        int,
        bytes,
        _NotAModel,
        FlyteIdlEntity,  # the base class names no message
        execution_pb2.Execution,  # a pb2 class, not a model
        Execution(id=None, spec=None, closure=None),  # an instance, not a class
        "Execution",
        None,
    ],
    ids=["int", "bytes", "duck", "base", "pb2", "instance", "str", "None"],
)
def test_model_must_be_a_model_class(backend, model):
    with pytest.raises(TypeError):
        decode(model, b"", framing="message")
    with pytest.raises(TypeError):
        decode(model, [b""])


def test_flytekit_model_class_is_not_accepted(backend):
    from flytekit.models import execution as fk_execution

    with pytest.raises(TypeError):
        decode(fk_execution.Execution, b"", framing="message")


# -- Batch ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def listing():
    return corpus.execution_list(10, seed=41, token="page-3")


@pytest.fixture
def batch(backend, listing):
    return decode(Execution, _ser(listing), framing="list")


def test_batch_is_a_sequence(batch, listing):
    records = list(listing.executions)
    assert isinstance(batch, collections.abc.Sequence)
    assert len(batch) == 10
    assert batch[0].to_flyte_idl() == records[0]
    assert batch[9].to_flyte_idl() == records[9]
    assert batch[-1] is batch[9]
    assert batch[-10] is batch[0]
    assert batch[3].id.name == records[3].id.name
    assert batch[3] in batch
    assert batch.index(batch[4]) == 4


@pytest.mark.parametrize("index", [10, 11, -11, 2**40, -(2**40)])
def test_batch_index_out_of_range(batch, index):
    with pytest.raises(IndexError):
        batch[index]


def test_batch_index_must_be_an_int(batch):
    with pytest.raises(TypeError):
        batch["0"]
    with pytest.raises(TypeError):
        batch[1.0]


def test_batch_returns_the_same_model_on_every_read(batch):
    """A model is made once per position: indexing and iterating give the same object every time."""
    firsts = [batch[i] for i in range(len(batch))]
    assert [batch[i] for i in range(len(batch))] == firsts
    assert all(a is b for a, b in zip(firsts, batch))
    assert all(a is b for a, b in zip(firsts, list(batch)))
    assert all(batch[i - len(batch)] is firsts[i] for i in range(len(batch)))
    closure = batch[2].closure
    assert batch[2].closure is closure  # properties are cached as well


def test_batch_iterates_lazily_and_repeatedly(batch, listing):
    records = list(listing.executions)
    it = iter(batch)
    assert next(it).to_flyte_idl() == records[0]
    assert [m.to_flyte_idl() for m in it] == records[1:]
    assert [m.to_flyte_idl() for m in batch] == records
    assert [m.to_flyte_idl() for m in reversed(batch)] == records[::-1]


@pytest.mark.parametrize(
    "part",
    [
        slice(2, 5),
        slice(None, None, 2),
        slice(None, None, -1),
        slice(-3, None),
        slice(8, 100),
        slice(5, 2),
        slice(1, -1, 3),
    ],
    ids=str,
)
def test_batch_slicing(batch, listing, part):
    records = list(listing.executions)
    batch[3].closure
    sliced = batch[part]
    assert isinstance(sliced, Batch)
    assert sliced.model is Execution
    assert sliced.token == "page-3"
    assert [m.to_flyte_idl() for m in sliced] == records[part]
    assert len(sliced) == len(records[part])
    assert sliced.to_flyte_idl() == execution_pb2.ExecutionList(executions=records[part], token="page-3")
    # The original batch is unaffected.
    assert [m.to_flyte_idl() for m in batch] == records


def test_slice_of_a_slice(batch, listing):
    records = list(listing.executions)
    part = batch[1:9][::2][1:]
    assert [m.to_flyte_idl() for m in part] == records[1:9][::2][1:]
    assert part.token == "page-3"


def test_batch_repr(batch, backend):
    text = repr(batch)
    assert "Batch" in text and "10" in text and "Execution" in text and "page-3" in text
    closures = decode(ExecutionClosure, [b"", b""])
    assert "2" in repr(closures) and "ExecutionClosure" in repr(closures)
    assert "token" not in repr(closures)


def test_batch_to_flyte_idl_is_the_list_response(backend, kind):
    listing = kind.make_list(15, seed=42, token="abc")
    batch = decode(kind.model, _ser(listing), framing="list")
    out = batch.to_flyte_idl()
    assert type(out) is kind.list_class
    assert out == listing
    assert out.token == "abc"
    again = kind.list_class.FromString(batch.serialize_to_string())
    assert again == listing
    # Reading properties first changes nothing.
    for m in batch:
        for path in kind.paths:
            _get(m, path)
    assert batch.to_flyte_idl() == listing


def test_batch_of_delimited_records_to_flyte_idl_has_no_token(backend, kind):
    records = kind.records(5, seed=43)
    batch = decode(kind.model, corpus.delimited(records), framing="delimited")
    assert batch.to_flyte_idl() == kind.list_class(**{kind.field: records})
    assert kind.list_class.FromString(batch.serialize_to_string()) == kind.list_class(**{kind.field: records})


def test_batch_of_closures_has_no_list_response(backend):
    batch = decode(ExecutionClosure, [_ser(corpus.executions(1)[0].closure)])
    with pytest.raises(ValueError, match="ExecutionClosure"):
        batch.to_flyte_idl()
    with pytest.raises(ValueError, match="ExecutionClosure"):
        batch.serialize_to_string()


@pytest.mark.parametrize(
    "data, framing",
    [(b"", "list"), (b"", "delimited"), (bytearray(), "list"), (memoryview(b""), "delimited"), ([], None), ((), None)],
    ids=["list", "delimited", "bytearray-list", "memoryview-delimited", "empty-list", "empty-tuple"],
)
def test_empty_input_is_an_empty_batch(backend, data, framing):
    batch = decode(Execution, data, framing=framing)
    assert len(batch) == 0
    assert list(batch) == []
    assert batch.token == ""
    assert len(batch[:]) == 0 and batch[:].token == ""
    with pytest.raises(IndexError):
        batch[0]
    assert batch.to_flyte_idl() == execution_pb2.ExecutionList()
    assert batch.serialize_to_string() == b""


def test_list_with_only_a_token(backend):
    batch = decode(Execution, _ser(execution_pb2.ExecutionList(token="end")), framing="list")
    assert len(batch) == 0 and batch.token == "end"


@pytest.mark.parametrize("data", [b"", bytearray(), memoryview(b"")], ids=["bytes", "bytearray", "memoryview"])
def test_message_framing_of_empty_bytes_is_one_default_model(backend, data):
    batch = decode(Execution, data, framing="message")
    assert len(batch) == 1
    (model,) = batch
    assert model.to_flyte_idl() == execution_pb2.Execution()
    assert model.serialize_to_string() == b""
    assert model.is_empty
    assert model.id.name == "" and model.closure.phase == 0
    assert model.closure.error is None


def test_batch_models_pickle(batch, listing):
    records = list(listing.executions)
    again = pickle.loads(pickle.dumps(list(batch[:3])))
    assert [m.to_flyte_idl() for m in again] == records[:3]
    assert all(type(m) is Execution for m in again)


# -- FlyteRemote classes ---------------------------------------------------------------------------------------------


def test_decode_with_a_remote_model(backend, kind):
    """``model=`` names a subclass, e.g. ``FlyteWorkflowExecution``, and every record is one of those."""
    listing = kind.make_list(30, seed=51, token="r")
    records = list(getattr(listing, kind.field))
    batch = kind.decoder(_ser(listing), framing="list", model=kind.remote)
    assert batch.model is kind.remote
    assert batch.token == "r"
    assert all(type(m) is kind.remote for m in batch)
    assert all(isinstance(m, kind.model) for m in batch)
    _assert_records(batch, records, kind)
    assert batch.to_flyte_idl() == listing
    for m in batch:
        assert isinstance(m.is_done, bool)
        assert m.inputs is None
    sequence = kind.decoder([_ser(r) for r in records], model=kind.remote)
    assert all(type(m) is kind.remote for m in sequence)


def test_flyte_workflow_execution_guards(backend):
    from flytecodec.exceptions import FlyteAssertion

    executions = corpus.executions(200, seed=52)
    batch = decode_executions(corpus.delimited(executions), framing="delimited", model=FlyteWorkflowExecution)
    done = running = 0
    for model, source in zip(batch, executions):
        assert model.is_successful == (source.closure.phase == 4)  # SUCCEEDED
        if model.is_done:
            done += 1
            if source.closure.HasField("error"):
                assert model.error.to_flyte_idl() == source.closure.error
            else:
                assert model.error is None
        else:
            running += 1
            with pytest.raises(FlyteAssertion):
                _ = model.outputs
        assert model.node_executions == {}
    assert done and running


# -- lossless ----------------------------------------------------------------------------------------------------------


def test_lossless_round_trip_of_corpus_records(backend, kind):
    """A few hundred realistic records: every model gives back its record, field for field and byte for byte.

    Bytes are compared exactly for records without multi-entry maps; the others must re-parse to the record
    (see ``test_serialize_to_string_is_the_input_bytes_for_every_record`` for exact bytes there).
    """
    records = kind.records(300, seed=61)
    payloads = [_ser(r) for r in records]
    for batch in (
        decode(kind.model, _delimited(payloads), framing="delimited"),
        decode(kind.model, payloads),
        decode(kind.model, _ser(kind.list_class(**{kind.field: records})), framing="list"),
    ):
        assert len(batch) == len(records)
        for i, (model, record, payload) in enumerate(zip(batch, records, payloads)):
            assert model.to_flyte_idl() == record, i
            out = model.serialize_to_string()
            assert type(record).FromString(out) == record, i
            if not _has_multi_entry_map(record):
                assert out == payload, i
            # Reading a few properties changes nothing.
            for path in kind.paths:
                _get(model, path)
            assert model.to_flyte_idl() == record, i
            assert model == kind.model.from_flyte_idl(record)


def _reordered_unknown_field_record() -> bytes:
    """An execution whose unknown field comes before the known ones (valid: fields may come in any order)."""
    record = execution_pb2.Execution()
    record.id.name = "n"
    record.closure.phase = 4
    return b"\xb8\x3e\x01" + _ser(record)


def _many_labels_record() -> bytes:
    record = execution_pb2.Execution()
    record.id.name = "labelled"
    for i in range(24):
        record.spec.labels.values[f"key-{i:02d}"] = f"value-{i}"
    return _ser(record)


@pytest.mark.parametrize(
    "payload",
    [_many_labels_record(), _reordered_unknown_field_record(), None],
    ids=["map-with-24-entries", "unknown-field-first", "corpus"],
)
def test_serialize_to_string_is_the_input_bytes_for_every_record(backend, request, payload):
    """Lossless means byte for byte: ``serialize_to_string()`` of an unmodified decoded model is its input."""
    payloads = [payload] if payload is not None else [_ser(r) for r in corpus.executions(300, seed=62)]
    for framing_input, framing in ((_delimited(payloads), "delimited"), (payloads, None)):
        batch = decode(Execution, framing_input, framing=framing)
        assert [m.serialize_to_string() for m in batch] == payloads


_UNKNOWN_FIELDS = (
    _varint(1000 << 3 | 0)
    + _varint(123456789)  # varint
    + _varint(1001 << 3 | 1)
    + b"\x01\x02\x03\x04\x05\x06\x07\x08"  # fixed64
    + _varint(1002 << 3 | 2)
    + _varint(5)
    + b"hello"  # length-delimited
    + _varint(1003 << 3 | 5)
    + b"\xaa\xbb\xcc\xdd"  # fixed32
    + _varint(1004 << 3 | 3)
    + _varint(1 << 3 | 0)
    + b"\x07"
    + _varint(1004 << 3 | 4)  # a group holding a varint
)


def _with_unknown_fields() -> tuple:
    """An execution with unknown fields at the top level and inside its closure, and its bytes."""
    record = execution_pb2.Execution()
    record.id.project, record.id.domain, record.id.name = "p", "d", "unknown-keeper"
    record.closure.phase = 3
    record.closure.started_at.seconds = 1_700_000_000
    closure = _ser(record.closure) + _UNKNOWN_FIELDS
    head = _ser(execution_pb2.Execution(id=record.id))
    payload = head + b"\x1a" + _varint(len(closure)) + closure + _UNKNOWN_FIELDS
    parsed = execution_pb2.Execution.FromString(payload)
    assert parsed.closure.phase == 3 and parsed.id.name == "unknown-keeper"
    assert parsed.SerializeToString() == payload  # upb itself keeps them in place here
    return parsed, payload


@pytest.mark.parametrize("framing", ["message", "delimited", "list", "sequence"])
def test_unknown_fields_survive(backend, framing):
    parsed, payload = _with_unknown_fields()
    if framing == "message":
        data = payload
    elif framing == "delimited":
        data = _delimited([payload, payload])
    elif framing == "list":
        data = (b"\x0a" + _varint(len(payload)) + payload) * 2 + b"\x12\x01t"
    else:
        data, framing = [payload, bytearray(payload)], None
    batch = decode(Execution, data, framing=framing)
    for model in batch:
        assert model.closure.phase == 3  # read fields first: lazy conversion must not drop anything
        assert model.closure.started_at.year == 2023
        assert model.id.name == "unknown-keeper"
        assert model.serialize_to_string() == payload
        assert model.to_flyte_idl().SerializeToString() == payload
        assert model.to_flyte_idl() == parsed
        assert model.closure.serialize_to_string() == _ser(parsed.closure)
        assert model.closure.serialize_to_string().endswith(_UNKNOWN_FIELDS)
        assert pickle.loads(pickle.dumps(model)).serialize_to_string() == payload
    if framing == "list":
        assert batch.token == "t"
        assert batch.serialize_to_string() == data


def test_from_bytes_takes_any_bytes_like(backend):
    record = corpus.executions(1, seed=71)[0]
    for data in (_ser(record), bytearray(_ser(record)), memoryview(_ser(record))):
        model = Execution.from_bytes(data)
        assert type(model) is Execution
        assert model.to_flyte_idl() == record
    with pytest.raises(DecodeError):
        Execution.from_bytes(b"\x0a\x05abc")
