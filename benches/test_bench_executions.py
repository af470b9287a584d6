"""flytecodec against flytekit and raw upb, on the same bytes, in the same run.

Groups (pytest-benchmark ``group``) hold the contenders of one case; ``benches/report.py`` turns a JSON run
into the README's table of ratios.
"""

from __future__ import annotations

import pytest
from flyteidl.admin import execution_pb2, node_execution_pb2
from flytekit.models import execution as fk_execution
from flytekit.models import node_execution as fk_node_execution

import flytecodec
from flytecodec.models import execution, node_execution

BACKENDS = flytecodec.available_backends()


def _read_four(records, name="name"):
    """closure.phase, closure.started_at, closure.duration and the id's ``name`` (``node_id`` for node executions)
    of every record."""
    for r in records:
        closure = r.closure
        closure.phase, closure.started_at, closure.duration, getattr(r.id, name)


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
        _read_four([fk_node_execution.NodeExecution.from_flyte_idl(e) for e in pb.node_executions], "node_id")

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
            batch = flytecodec.decode(node_execution.NodeExecution, node_execution_list_bytes, framing="list")
            _read_four(batch, "node_id")

    benchmark.pedantic(run, rounds=5, iterations=1)


# -- case 3: full materialization of every documented property, recursively ------------------------------------


def _documented(cls, cache={}):  # noqa: B006 - a per-process cache of flytekit's property names
    names = cache.get(cls)
    if names is None:
        names = cache[cls] = [
            name
            for klass in cls.__mro__
            for name, value in vars(klass).items()
            if isinstance(value, property) and not name.startswith("_") and name != "is_empty"
        ]
    return names


def _materialize(value, flytekit_class):
    """Read every property flytekit documents on ``value`` (ours or flytekit's), recursively."""
    from flytekit.models.common import FlyteIdlEntity as FkEntity

    for name in _documented(flytekit_class):
        inner = getattr(value, name)
        items = inner.values() if isinstance(inner, dict) else inner if isinstance(inner, list) else [inner]
        for item in items:
            theirs = _FLYTEKIT_CLASS.get(type(item).__name__)
            if theirs is not None and issubclass(theirs, FkEntity):
                _materialize(item, theirs)


def _flytekit_classes():
    import inspect

    import flytekit.models.admin.task_execution
    import flytekit.models.common
    import flytekit.models.core.catalog
    import flytekit.models.core.execution
    import flytekit.models.core.identifier
    import flytekit.models.literals
    import flytekit.models.security

    found = {}
    for module in (
        fk_execution,
        fk_node_execution,
        flytekit.models.admin.task_execution,
        flytekit.models.common,
        flytekit.models.core.catalog,
        flytekit.models.core.execution,
        flytekit.models.core.identifier,
        flytekit.models.literals,
        flytekit.models.security,
    ):
        found.update({name: cls for name, cls in inspect.getmembers(module, inspect.isclass)})
    return found


_FLYTEKIT_CLASS = _flytekit_classes()


@pytest.mark.benchmark(group="executions: materialize everything")
def test_all_flytekit(benchmark, execution_list_bytes):
    def run():
        pb = execution_pb2.ExecutionList.FromString(execution_list_bytes)
        for e in pb.executions:
            _materialize(fk_execution.Execution.from_flyte_idl(e), fk_execution.Execution)

    benchmark.pedantic(run, rounds=3, iterations=1)


@pytest.mark.benchmark(group="executions: materialize everything")
@pytest.mark.parametrize("name", BACKENDS)
def test_all_flytecodec(benchmark, execution_list_bytes, name):
    def run():
        with flytecodec.using_backend(name):
            for e in flytecodec.decode_executions(execution_list_bytes, framing="list"):
                _materialize(e, fk_execution.Execution)

    benchmark.pedantic(run, rounds=3, iterations=1)


# -- the Rust limit: split and validate only, 1 and 2 threads ------------------------------------------------


@pytest.mark.benchmark(group="executions: decode only")
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.skipif("native" not in BACKENDS, reason="needs the native extension")
def test_decode_rust_threads(benchmark, execution_list_bytes, threads):
    from flytecodec import _native

    args = ("flyteidl.admin.Execution", execution_list_bytes, "list", 1, 2, threads)
    benchmark.pedantic(_native.decode_records, args=args, rounds=5, iterations=1)
