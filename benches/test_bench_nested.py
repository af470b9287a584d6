"""The nested layout: every field of every execution to Arrow, and back, against ptars and protarrow.

Same bytes for every contender, in the same run:

- "executions: nested Arrow": ptars (Rust, protobuf -> Arrow: ``list_to_record_batch`` of the records' bytes,
  every field, one thread; given the list of payloads ready-made, which flytecodec must split from the
  ``ExecutionList`` itself) against ``Batch.to_arrow(layout="nested")``, decode included, on all cores and on
  one; the python backend and protarrow (``messages_to_record_batch``, recursive messages skipped), one round
  each. pybufarrow (Go, compiles ``.proto`` files: printed from the descriptors by
  ``benches/_protos.py``) is tried with every recursive type ended as JSON (its ``json_termination``) and empty
  messages pruned; with pybufarrow 0.6.3 it cannot build flyteidl's ``Execution`` ("max depth reached"), and
  the benchmark is skipped saying so.
- "executions: Arrow to messages": ptars's ``record_batch_to_array`` (its table back to serialized messages)
  against ``flytecodec.from_arrow`` (the nested table back to a ``Batch``, every record serialized
  deterministically). Before timing, each side's output is checked: ours against upb's deterministic
  serialization of the original messages.

The ratios are per record of the same bytes; ptars's table is not ours (it keeps enums and times its way and
drops unknown fields), so the comparison is of the whole-message conversion each library offers.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from flyteidl.admin import execution_pb2

import flytecodec
from flytecodec import layout
from flytecodec.models.execution import Execution

BACKENDS = flytecodec.available_backends()
DESCRIPTOR = execution_pb2.Execution.DESCRIPTOR


@pytest.fixture(scope="module")
def payloads(execution_list_bytes) -> list[bytes]:
    """Each record's bytes as they are in the ``ExecutionList``."""
    records = flytecodec.decode_executions(execution_list_bytes, framing="list")._records
    return [records.raw(i) for i in range(len(records))]


@pytest.fixture(scope="module")
def nested_table(execution_list_bytes) -> pa.Table:
    return flytecodec.decode_executions(execution_list_bytes, framing="list").to_arrow(layout="nested")


def _ptars_handler():
    ptars = pytest.importorskip("ptars")
    return ptars.HandlerPool([DESCRIPTOR.file]).get_for_message(DESCRIPTOR)


@pytest.mark.benchmark(group="executions: nested Arrow")
def test_nested_ptars(benchmark, payloads):
    handler = _ptars_handler()
    batch = benchmark.pedantic(lambda: handler.list_to_record_batch(payloads), rounds=5, iterations=1)
    assert batch.num_rows == len(payloads)
    ids = batch.column("id")
    first = execution_pb2.Execution.FromString(payloads[0])
    assert ids.field("name")[0].as_py() == first.id.name


@pytest.mark.benchmark(group="executions: nested Arrow")
@pytest.mark.parametrize("name", BACKENDS)
def test_nested_flytecodec(benchmark, execution_list_bytes, name, nested_table):
    def run():
        with flytecodec.using_backend(name):
            return flytecodec.decode_executions(execution_list_bytes, framing="list").to_arrow(layout="nested")

    table = benchmark.pedantic(run, rounds=5 if name == "native" else 1, iterations=1)
    assert table.equals(nested_table)


@pytest.mark.benchmark(group="executions: nested Arrow")
@pytest.mark.skipif("native" not in BACKENDS, reason="the native backend is not built")
def test_nested_native_1thread(benchmark, execution_list_bytes, nested_table):
    """The nested table built on one core: the per-core throughput, like for like with ptars's one thread."""
    plan = layout.plan(DESCRIPTOR)

    def run():
        with flytecodec.using_backend("native"):
            batch = flytecodec.decode_executions(execution_list_bytes, framing="list")
        parts = batch._records.arrow_nested(plan, 1)
        return pa.Table.from_batches([pa.record_batch(part) for part in parts])

    table = benchmark.pedantic(run, rounds=5, iterations=1)
    assert table.equals(nested_table)


@pytest.mark.benchmark(group="executions: nested Arrow")
def test_nested_protarrow(benchmark, execution_list_bytes, payloads):
    protarrow = pytest.importorskip("protarrow")
    config = protarrow.ProtarrowConfig(skip_recursive_messages=True)

    def run():
        pbs = execution_pb2.ExecutionList.FromString(execution_list_bytes).executions
        return protarrow.messages_to_record_batch(pbs, execution_pb2.Execution, config)

    assert benchmark.pedantic(run, rounds=1, iterations=1).num_rows == len(payloads)


@pytest.mark.benchmark(group="executions: nested Arrow")
def test_nested_pybufarrow(benchmark, payloads, tmp_path):
    pybufarrow = pytest.importorskip("pybufarrow")
    from _protos import write_protos

    path = write_protos(DESCRIPTOR.file, tmp_path).relative_to(tmp_path)
    plan = layout.plan(DESCRIPTOR)
    recursive = sorted({node.message for node in plan for slot in node.slots if slot.kind == "cut"})
    try:
        transcoder = pybufarrow.Transcoder.from_proto_file(
            str(path), DESCRIPTOR.full_name, [str(tmp_path)], json_termination=recursive, well_known_types=True,
            prune_empty_messages=True,
        )  # fmt: skip
    except pybufarrow.BufarrowError as error:
        pytest.skip(f"pybufarrow cannot convert {DESCRIPTOR.full_name}: {error}")

    def run():
        for payload in payloads:
            transcoder.append(payload)
        return transcoder.flush()

    assert benchmark.pedantic(run, rounds=3, iterations=1).num_rows == len(payloads)


@pytest.mark.benchmark(group="executions: Arrow to messages")
def test_import_ptars(benchmark, payloads):
    handler = _ptars_handler()
    batch = handler.list_to_record_batch(payloads)
    out = benchmark.pedantic(lambda: handler.record_batch_to_array(batch), rounds=5, iterations=1)
    assert len(out) == len(payloads)


@pytest.mark.benchmark(group="executions: Arrow to messages")
@pytest.mark.parametrize("name", BACKENDS)
def test_import_flytecodec(benchmark, payloads, nested_table, name):
    def run():
        with flytecodec.using_backend(name):
            return flytecodec.from_arrow(nested_table, Execution)

    batch = benchmark.pedantic(run, rounds=3 if name == "native" else 1, iterations=1)
    for i in (0, len(payloads) // 2, len(payloads) - 1):
        original = execution_pb2.Execution.FromString(payloads[i])
        assert batch[i].serialize_to_string() == original.SerializeToString(deterministic=True)
