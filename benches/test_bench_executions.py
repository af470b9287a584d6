"""flytecodec against flytekit and raw upb, on the same bytes, in the same run.

Groups (pytest-benchmark ``group``) hold the contenders of one case; ``benches/report.py`` turns a JSON run
into the README's table of ratios.
"""

from __future__ import annotations

import flytecodec
import pytest
from flytecodec.models import execution, node_execution
from flyteidl.admin import execution_pb2, node_execution_pb2
from flytekit.models import execution as fk_execution
from flytekit.models import node_execution as fk_node_execution

BACKENDS = flytecodec.available_backends()


def _read_four(records):
    """closure.phase, closure.started_at, closure.duration and the id's name of every record."""
    for r in records:
        closure = r.closure
        closure.phase, closure.started_at, closure.duration, r.id.name


def _read_four_nodes(records):
    """The node-execution version: the id's node_id stands for the name."""
    for r in records:
        closure = r.closure
        closure.phase, closure.started_at, closure.duration, r.id.node_id


# -- case 1: decode a list response and read four fields of every record ------------------------------------


@pytest.mark.benchmark(group="executions: decode + read 4 fields")
def test_read4_flytekit(benchmark, execution_list_bytes):
    def run():
        pb = execution_pb2.ExecutionList.FromString(execution_list_bytes)
        _read_four([fk_execution.Execution.from_flyte_idl(e) for e in pb.executions])

    benchmark.pedantic(run, rounds=3, iterations=1)


@pytest.mark.benchmark(group="executions: decode + read 4 fields")
def test_read4_upb_parse_only(benchmark, execution_list_bytes):
    benchmark.pedantic(execution_pb2.ExecutionList.FromString, args=(execution_list_bytes,), rounds=5, iterations=1)


@pytest.mark.benchmark(group="executions: decode + read 4 fields")
@pytest.mark.parametrize("name", BACKENDS)
def test_read4_flytecodec(benchmark, execution_list_bytes, name):
    def run():
        with flytecodec.using_backend(name):
            _read_four(flytecodec.decode_executions(execution_list_bytes, framing="list"))

    benchmark.pedantic(run, rounds=5, iterations=1)


# -- case 2: decode only -------------------------------------------------------------------------------------


@pytest.mark.benchmark(group="executions: decode only")
def test_decode_upb(benchmark, execution_list_bytes):
    benchmark.pedantic(execution_pb2.ExecutionList.FromString, args=(execution_list_bytes,), rounds=5, iterations=1)


@pytest.mark.benchmark(group="executions: decode only")
@pytest.mark.parametrize("name", BACKENDS)
def test_decode_flytecodec(benchmark, execution_list_bytes, name):
    def run():
        with flytecodec.using_backend(name):
            return flytecodec.decode_executions(execution_list_bytes, framing="list")

    benchmark.pedantic(run, rounds=5, iterations=1)


# -- case 4: to_flyte_idl of every decoded record -------------------------------------------------------------


@pytest.mark.benchmark(group="executions: to_flyte_idl")
def test_to_idl_flytekit(benchmark, execution_list_bytes):
    pbs = execution_pb2.ExecutionList.FromString(execution_list_bytes).executions
    models = [fk_execution.Execution.from_flyte_idl(e) for e in pbs]
    benchmark.pedantic(lambda: [m.to_flyte_idl() for m in models], rounds=3, iterations=1)


@pytest.mark.benchmark(group="executions: to_flyte_idl")
@pytest.mark.parametrize("name", BACKENDS)
def test_to_idl_flytecodec(benchmark, execution_list_bytes, name):
    with flytecodec.using_backend(name):
        models = list(flytecodec.decode_executions(execution_list_bytes, framing="list"))
    benchmark.pedantic(lambda: [m.to_flyte_idl() for m in models], rounds=5, iterations=1)


# -- case 5: from_flyte_idl of existing pb2 messages ----------------------------------------------------------


@pytest.mark.benchmark(group="executions: from_flyte_idl")
def test_from_idl_flytekit(benchmark, execution_list_bytes):
    pbs = list(execution_pb2.ExecutionList.FromString(execution_list_bytes).executions)
    benchmark.pedantic(lambda: [fk_execution.Execution.from_flyte_idl(p) for p in pbs], rounds=3, iterations=1)


@pytest.mark.benchmark(group="executions: from_flyte_idl")
def test_from_idl_flytecodec(benchmark, execution_list_bytes):
    pbs = list(execution_pb2.ExecutionList.FromString(execution_list_bytes).executions)
    benchmark.pedantic(lambda: [execution.Execution.from_flyte_idl(p) for p in pbs], rounds=5, iterations=1)


# -- case 7: node executions, decode + read 4 fields ----------------------------------------------------------


@pytest.mark.benchmark(group="node executions: decode + read 4 fields")
def test_nodes_read4_flytekit(benchmark, node_execution_list_bytes):
    def run():
        pb = node_execution_pb2.NodeExecutionList.FromString(node_execution_list_bytes)
        _read_four_nodes([fk_node_execution.NodeExecution.from_flyte_idl(e) for e in pb.node_executions])

    benchmark.pedantic(run, rounds=3, iterations=1)


@pytest.mark.benchmark(group="node executions: decode + read 4 fields")
def test_nodes_read4_upb_parse_only(benchmark, node_execution_list_bytes):
    parse = node_execution_pb2.NodeExecutionList.FromString
    benchmark.pedantic(parse, args=(node_execution_list_bytes,), rounds=5, iterations=1)


@pytest.mark.benchmark(group="node executions: decode + read 4 fields")
@pytest.mark.parametrize("name", BACKENDS)
def test_nodes_read4_flytecodec(benchmark, node_execution_list_bytes, name):
    def run():
        with flytecodec.using_backend(name):
            _read_four_nodes(flytecodec.decode(node_execution.NodeExecution, node_execution_list_bytes, framing="list"))

    benchmark.pedantic(run, rounds=5, iterations=1)
