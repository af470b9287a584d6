"""flytecodec against flytekit and raw upb, on the same bytes, in the same run.

Groups (pytest-benchmark ``group``) hold the contenders of one case; ``benches/report.py`` turns a JSON run
into the README's table of ratios. Before it is timed, every contender's result is checked against the others'
(``_agree``), so a fast wrong answer fails the run. What each side does:

- "decode + read 4 fields": flytekit parses the list with upb and converts every record into its models
  (every field), then four fields are read; flytecodec decodes lazily and converts only the four fields read;
  "raw upb (parse only)" parses and reads nothing (a floor, not a contender).
- "decode only": upb parses every record into messages; flytecodec splits and validates (native) or parses
  (python) and converts nothing.
- "to_flyte_idl": flytekit rebuilds a message from its models (dropping the fields it does not model);
  flytecodec hands back a copy of the message it decoded (every field).
- "from_flyte_idl": flytekit converts the whole message; flytecodec wraps it lazily and converts nothing. Not
  like for like: "from_flyte_idl + read everything" is, both sides then reading every documented property.
- "materialize everything": bytes to models, and every documented property read, recursively, on both sides.
- "node executions: decode + read 4 fields": as the first case, for node executions.
- "executions: decode only" also has Rust's split + validate alone (``_native.decode_records``, 1 and 2
  threads): the native backend's floor, not a contender.
"""

from __future__ import annotations

import pytest
from flyteidl.admin import execution_pb2, node_execution_pb2
from flytekit.models import execution as fk_execution
from flytekit.models import node_execution as fk_node_execution

import flytecodec
from flytecodec.models import execution, node_execution

BACKENDS = flytecodec.available_backends()
CHECKED = 2000  # records whose every property is compared before timing the "read everything" cases


def _read_four(records, name="name") -> list:
    """closure.phase, closure.started_at, closure.duration and the id's ``name`` (``node_id`` for node executions)
    of every record."""
    out = []
    for r in records:
        closure = r.closure
        out.append((closure.phase, closure.started_at, closure.duration, getattr(r.id, name)))
    return out


def _agree(what: str, expected, got) -> None:
    """A benchmark's contenders give the same result: checked once, before timing, so a fast wrong answer fails."""
    assert got == expected, f"{what}: the contenders disagree"


def _flytekit_four(data: bytes) -> list:
    return _read_four(
        [fk_execution.Execution.from_flyte_idl(e) for e in execution_pb2.ExecutionList.FromString(data).executions]
    )


# -- case 1: decode a list response and read four fields of every record ------------------------------------


@pytest.fixture(scope="module")
def flytekit_four(execution_list_bytes) -> list:
    """flytekit's four fields of every execution: what every contender of case 1 must give."""
    return _flytekit_four(execution_list_bytes)


@pytest.mark.benchmark(group="executions: decode + read 4 fields")
def test_read4_flytekit(benchmark, execution_list_bytes, flytekit_four):
    def run():
        return _flytekit_four(execution_list_bytes)

    _agree("read 4 fields", flytekit_four, benchmark.pedantic(run, rounds=3, iterations=1))


@pytest.mark.benchmark(group="executions: decode + read 4 fields")
def test_read4_upb_parse_only(benchmark, execution_list_bytes, flytekit_four):
    parsed = benchmark.pedantic(
        execution_pb2.ExecutionList.FromString, args=(execution_list_bytes,), rounds=5, iterations=1
    )
    _agree("parsed records", len(flytekit_four), len(parsed.executions))


@pytest.mark.benchmark(group="executions: decode + read 4 fields")
@pytest.mark.parametrize("name", BACKENDS)
def test_read4_flytecodec(benchmark, execution_list_bytes, name, flytekit_four):
    def run():
        with flytecodec.using_backend(name):
            return _read_four(flytecodec.decode_executions(execution_list_bytes, framing="list"))

    _agree("read 4 fields", flytekit_four, run())
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

    _agree("decoded list", execution_pb2.ExecutionList.FromString(execution_list_bytes), run().to_flyte_idl())
    benchmark.pedantic(run, rounds=5, iterations=1)


# -- case 4: to_flyte_idl of every decoded record -------------------------------------------------------------


@pytest.mark.benchmark(group="executions: to_flyte_idl")
def test_to_idl_flytekit(benchmark, execution_list_bytes):
    pbs = execution_pb2.ExecutionList.FromString(execution_list_bytes).executions
    models = [fk_execution.Execution.from_flyte_idl(e) for e in pbs]
    # flytekit's message is its own lossy copy: the same as what flytekit makes of the message itself gives
    again = [fk_execution.Execution.from_flyte_idl(m.to_flyte_idl()).to_flyte_idl() for m in models[:500]]
    _agree("to_flyte_idl (flytekit's round trip)", again, [m.to_flyte_idl() for m in models[:500]])
    benchmark.pedantic(lambda: [m.to_flyte_idl() for m in models], rounds=3, iterations=1)


@pytest.mark.benchmark(group="executions: to_flyte_idl")
@pytest.mark.parametrize("name", BACKENDS)
def test_to_idl_flytecodec(benchmark, execution_list_bytes, name):
    with flytecodec.using_backend(name):
        models = list(flytecodec.decode_executions(execution_list_bytes, framing="list"))
    pbs = list(execution_pb2.ExecutionList.FromString(execution_list_bytes).executions)
    _agree("to_flyte_idl", pbs, [m.to_flyte_idl() for m in models])
    benchmark.pedantic(lambda: [m.to_flyte_idl() for m in models], rounds=5, iterations=1)


# -- case 5: from_flyte_idl of existing pb2 messages ----------------------------------------------------------


@pytest.mark.benchmark(group="executions: from_flyte_idl")
def test_from_idl_flytekit(benchmark, execution_list_bytes, flytekit_four):
    pbs = list(execution_pb2.ExecutionList.FromString(execution_list_bytes).executions)
    models = benchmark.pedantic(lambda: [fk_execution.Execution.from_flyte_idl(p) for p in pbs], rounds=3, iterations=1)
    _agree("from_flyte_idl", flytekit_four, _read_four(models))


@pytest.mark.benchmark(group="executions: from_flyte_idl")
def test_from_idl_flytecodec(benchmark, execution_list_bytes, flytekit_four):
    pbs = list(execution_pb2.ExecutionList.FromString(execution_list_bytes).executions)
    models = benchmark.pedantic(lambda: [execution.Execution.from_flyte_idl(p) for p in pbs], rounds=5, iterations=1)
    _agree("from_flyte_idl", flytekit_four, _read_four(models))


# -- case 5b: from_flyte_idl, then every documented property read: like for like ------------------------------


@pytest.fixture(scope="module")
def flytekit_everything(execution_list_bytes) -> list:
    """Every documented property of flytekit's models of the first records: what case 5b must give."""
    pbs = execution_pb2.ExecutionList.FromString(execution_list_bytes).executions[:CHECKED]
    return [_materialize(fk_execution.Execution.from_flyte_idl(p), fk_execution.Execution) for p in pbs]


def _from_idl_read_all(benchmark, data: bytes, expected: list, cls) -> None:
    pbs = list(execution_pb2.ExecutionList.FromString(data).executions)
    _agree(
        "every property", expected, [_materialize(cls.from_flyte_idl(p), fk_execution.Execution) for p in pbs[:CHECKED]]
    )

    def run():
        for p in pbs:
            _materialize(cls.from_flyte_idl(p), fk_execution.Execution)

    benchmark.pedantic(run, rounds=3, iterations=1)


@pytest.mark.benchmark(group="executions: from_flyte_idl + read everything")
def test_from_idl_read_all_flytekit(benchmark, execution_list_bytes, flytekit_everything):
    _from_idl_read_all(benchmark, execution_list_bytes, flytekit_everything, fk_execution.Execution)


@pytest.mark.benchmark(group="executions: from_flyte_idl + read everything")
def test_from_idl_read_all_flytecodec(benchmark, execution_list_bytes, flytekit_everything):
    _from_idl_read_all(benchmark, execution_list_bytes, flytekit_everything, execution.Execution)


# -- case 7: node executions, decode + read 4 fields ----------------------------------------------------------


def _flytekit_nodes_four(data: bytes) -> list:
    pb = node_execution_pb2.NodeExecutionList.FromString(data)
    return _read_four([fk_node_execution.NodeExecution.from_flyte_idl(e) for e in pb.node_executions], "node_id")


@pytest.fixture(scope="module")
def flytekit_nodes_four(node_execution_list_bytes) -> list:
    return _flytekit_nodes_four(node_execution_list_bytes)


@pytest.mark.benchmark(group="node executions: decode + read 4 fields")
def test_nodes_read4_flytekit(benchmark, node_execution_list_bytes, flytekit_nodes_four):
    found = benchmark.pedantic(_flytekit_nodes_four, args=(node_execution_list_bytes,), rounds=3, iterations=1)
    _agree("read 4 fields", flytekit_nodes_four, found)


@pytest.mark.benchmark(group="node executions: decode + read 4 fields")
def test_nodes_read4_upb_parse_only(benchmark, node_execution_list_bytes, flytekit_nodes_four):
    parse = node_execution_pb2.NodeExecutionList.FromString
    parsed = benchmark.pedantic(parse, args=(node_execution_list_bytes,), rounds=5, iterations=1)
    _agree("parsed records", len(flytekit_nodes_four), len(parsed.node_executions))


@pytest.mark.benchmark(group="node executions: decode + read 4 fields")
@pytest.mark.parametrize("name", BACKENDS)
def test_nodes_read4_flytecodec(benchmark, node_execution_list_bytes, name, flytekit_nodes_four):
    def run():
        with flytecodec.using_backend(name):
            batch = flytecodec.decode(node_execution.NodeExecution, node_execution_list_bytes, framing="list")
            return _read_four(batch, "node_id")

    _agree("read 4 fields", flytekit_nodes_four, run())
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


def _materialize(value, flytekit_class) -> list:
    """Read every property flytekit documents on ``value`` (ours or flytekit's), recursively; the plain values
    read (the leaves: not models), in reading order. What to do with a value is decided once per type (the
    same walk for both sides: a user reading everything writes attribute reads, not reflection per value)."""
    leaves: list = []
    _walk(value, flytekit_class, leaves)
    return leaves


def _walk(value, flytekit_class, leaves: list) -> None:
    for name in _documented(flytekit_class):
        inner = getattr(value, name)
        how = _HOW.get(type(inner))
        if how is None:
            how = _HOW[type(inner)] = _how(type(inner))
        shape, theirs = how
        if shape == "leaf":
            leaves.append(inner)
        elif shape == "model":
            _walk(inner, theirs, leaves)
        elif shape != "skip":
            for item in [inner[k] for k in sorted(inner)] if shape == "map" else inner:  # maps have no order
                item_how = _HOW.get(type(item))
                if item_how is None:
                    item_how = _HOW[type(item)] = _how(type(item))
                if item_how[0] == "model":
                    _walk(item, item_how[1], leaves)
                elif item_how[0] == "leaf":
                    leaves.append(item)


_HOW: dict = {}


def _how(kind: type) -> tuple:
    """How the walk treats a value of type ``kind``: a leaf, a model (with flytekit's class for its documented
    properties), a map or a list of values, or a method (skipped)."""
    from flytekit.models.common import FlyteIdlEntity as FkEntity

    name = kind.__name__
    if issubclass(kind, dict) or name in ("ScalarMap", "MessageMap"):
        return ("map", None)
    if issubclass(kind, list) or name.startswith("Repeated"):
        return ("list", None)
    theirs = _FLYTEKIT_CLASS.get(name)
    if theirs is not None and issubclass(theirs, FkEntity):
        return ("model", theirs)
    if any("__call__" in vars(k) for k in kind.__mro__):  # its values are callable: not data
        return ("skip", None)
    return ("leaf", None)


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
def test_all_flytekit(benchmark, execution_list_bytes, flytekit_everything):
    def run():
        pb = execution_pb2.ExecutionList.FromString(execution_list_bytes)
        for e in pb.executions:
            _materialize(fk_execution.Execution.from_flyte_idl(e), fk_execution.Execution)

    benchmark.pedantic(run, rounds=3, iterations=1)


@pytest.mark.benchmark(group="executions: materialize everything")
@pytest.mark.parametrize("name", BACKENDS)
def test_all_flytecodec(benchmark, execution_list_bytes, name, flytekit_everything):
    with flytecodec.using_backend(name):
        batch = flytecodec.decode_executions(execution_list_bytes, framing="list")
        _agree(
            "every property", flytekit_everything, [_materialize(e, fk_execution.Execution) for e in batch[:CHECKED]]
        )

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
