"""The type stubs: current with the field tables, accepted by mypy, and true of the values the models give."""

from __future__ import annotations

import datetime
import importlib.util
import pathlib
import pydoc
import subprocess
import sys

import pytest
import typing_example
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flytecodec
from flytecodec.models import _docs
from flytecodec.models.admin.task_execution import TaskExecution
from flytecodec.models.common import FlyteIdlEntity
from flytecodec.models.execution import Execution, ExecutionClosure
from flytecodec.models.node_execution import NodeExecution
from flytecodec.testing import corpus, strategies

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location("gen_stubs", ROOT / "scripts" / "gen_stubs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen_stubs = _generator()


def test_stubs_are_current():
    files = gen_stubs.generate()
    stale = [str(p.relative_to(ROOT)) for p, text in files.items() if not p.exists() or p.read_text() != text]
    assert not stale, f"stale generated files {stale}: run python scripts/gen_stubs.py"
    committed = {p for p in (ROOT / "python" / "flytecodec").rglob("*.pyi") if p.name != "_native.pyi"}
    assert committed == {p for p in files if p.suffix == ".pyi"}, "a .pyi file the generator no longer writes"


def test_every_model_module_has_a_stub():
    modules = {m.__name__ for m in gen_stubs.model_modules()}
    assert {
        "flytecodec.models.execution",
        "flytecodec.models.node_execution",
        "flytecodec.remote.executions",
    } <= modules
    for name in modules:
        assert gen_stubs.stub_path(name).exists(), name


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory):
    """One mypy cache for the module's runs: the second reuses what the first learnt of the stubs."""
    return str(tmp_path_factory.mktemp("mypy") / "cache")


def test_mypy_reads_the_models_through_the_stubs(tmp_path, mypy_cache):
    """mypy --strict accepts tests/packaging/typing_example.py: its assert_type calls hold and each type: ignore
    marks an error mypy finds (--strict warns of unused ignores)."""
    example = ROOT / "tests" / "packaging" / "typing_example.py"
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", mypy_cache, str(example)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_reports_a_wrong_type(tmp_path, mypy_cache):
    """The check above can fail: a wrong assertion about a property's type is reported, at its line."""
    wrong = tmp_path / "wrong.py"
    wrong.write_text(
        "import flytecodec\nfrom typing_extensions import assert_type\n\n"
        "def f(data: bytes) -> None:\n"
        "    assert_type(flytecodec.decode_executions(data, framing='list')[0].closure.started_at, int)\n"
    )
    result = subprocess.run(  # the options of the run above, so that its cache serves
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", mypy_cache, str(wrong)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert 'wrong.py:5: error: Expression is of type "datetime", not "int"' in result.stdout


def test_stubtest_finds_the_stubs_true_of_the_runtime(tmp_path):
    """mypy's stubtest compares every stub with the imported module: names, signatures, class members. The
    only difference it may report is that a field property is not a ``property`` at run time, which happens
    without the extension only (the pure-Python lazy descriptor is not a data descriptor; the extension's is)."""
    modules = sorted(
        ".".join(p.relative_to(ROOT / "python").with_suffix("").parts)
        for p in gen_stubs.generate()
        if p.suffix == ".pyi"
    )
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\nignore_missing_imports = True\n")  # flyteidl, pyarrow, pandas have no stubs
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "--mypy-config-file", str(config), *modules],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    reports = [block for block in result.stdout.split("\n\n") if block.startswith("error: ")]
    unexpected = [r for r in reports if "cannot reconcile @property on stub with runtime object" not in r]
    assert not unexpected, "\n\n".join(unexpected)
    checked = reports or f"Success: no issues found in {len(modules)} modules" in result.stdout
    assert checked, result.stdout + result.stderr  # stubtest ran over every module


def test_typing_example_runs(backend):
    page = corpus.execution_list(40, seed=3).SerializeToString()
    rows = typing_example.execution_rows(page)
    assert len(rows) == 40
    assert typing_example.first_started_at(page) == rows[0][2]
    for name, phase, started, duration, code in rows:
        assert isinstance(name, str) and isinstance(phase, int)
        assert isinstance(started, datetime.datetime) and isinstance(duration, datetime.timedelta)
        assert code is None or isinstance(code, str)
    assert any(code for *_, code in rows), "the corpus has failed executions"
    for execution in flytecodec.decode_executions(page, framing="list"):
        typing_example.spec_summary(execution)
        typing_example.round_trip(execution)
    nodes = typing_example.node_targets(corpus.delimited(corpus.node_executions(60, seed=3)))
    assert any(nodes) and len(nodes) == 60
    for task in flytecodec.decode_task_executions([t.SerializeToString() for t in corpus.task_executions(20)]):
        typing_example.task_logs(task)
    assert len(typing_example.remote_done(page)) == 40


def _conforms(value, t, depth: int = 0) -> None:
    """Assert that ``value`` is of the generator's type ``t``, recursing into the models it holds."""
    if t.kind == "any":
        return
    if t.kind == "union":
        errors = []
        for option in t.args:
            try:
                _conforms(value, option, depth)
                return
            except AssertionError as e:
                errors.append(str(e))
        raise AssertionError(" / ".join(errors))
    if t.kind == "pb":
        assert getattr(value, "DESCRIPTOR", None) is not None and value.DESCRIPTOR.full_name == t.obj.full_name
        return
    if t.kind == "sub":
        assert type(value) is t.obj, f"{value!r} is not a {t.obj.__name__}"
        if t.obj is list:
            for x in value:
                _conforms(x, t.args[0], depth)
        else:
            for k, x in value.items():
                _conforms(k, t.args[0], depth)
                _conforms(x, t.args[1], depth)
        return
    if t.obj is None:
        assert value is None, f"{value!r} is not None"
        return
    assert isinstance(value, t.obj), f"{value!r} is not a {t.obj.__qualname__}"
    if t.obj is float:
        assert type(value) is float
    if isinstance(value, FlyteIdlEntity) and depth < 12:
        _model_conforms(value, depth + 1)


# Properties that raise on some values a message can hold, as documented (docs/compatibility.md).
READ_ERRORS = ("Invalid environment variable name", "is not a valid Secret.MountType")


def _model_conforms(model, depth: int = 0) -> None:
    for f in type(model)._all_fields:
        try:
            value = getattr(model, f.name)
        except ValueError as e:
            assert any(reason in str(e) for reason in READ_ERRORS), repr(e)
            continue
        try:
            _conforms(value, gen_stubs.field_type(f), depth)
        except AssertionError as e:
            raise AssertionError(f"{type(model).__name__}.{f.name}: {e}") from None


@pytest.mark.parametrize(
    ("model", "records"),
    [
        (Execution, lambda: corpus.executions(60, seed=5)),
        (NodeExecution, lambda: corpus.node_executions(80, seed=5)),
        (TaskExecution, lambda: corpus.task_executions(60, seed=5)),
        (ExecutionClosure, lambda: [e.closure for e in corpus.executions(20, seed=6)]),
    ],
    ids=["execution", "node_execution", "task_execution", "closure"],
)
def test_property_values_are_of_the_stub_types(backend, model, records):
    """Every property, recursively, of decoded records (the corpus, and an empty message) is of its stub type."""
    messages = [r.SerializeToString() for r in records()] + [b""]
    for record in flytecodec.decode(model, messages):
        _model_conforms(record)


@pytest.mark.parametrize("model", [Execution, NodeExecution, TaskExecution], ids=lambda m: m.__name__)
def test_generated_messages_are_of_the_stub_types(model):
    """The same on hypothesis-generated messages (any field set, any value), on both backends."""

    @settings(max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(strategies.messages(model._pb_class, max_depth=3), st.sampled_from(flytecodec.available_backends()))
    def check(pb, name):
        with flytecodec.using_backend(name):
            _model_conforms(flytecodec.decode(model, [pb.SerializeToString()])[0])

    check()


def test_field_types():
    closure = ExecutionClosure._field_map
    render = gen_stubs.short
    assert render(gen_stubs.field_type(closure["started_at"])) == "datetime"
    assert render(gen_stubs.field_type(closure["created_at"])) == "datetime | None"
    assert render(gen_stubs.field_type(closure["phase"])) == "int"
    assert render(gen_stubs.field_type(closure["notifications"])) == "list[Notification]"
    from flytecodec.models.common import Envs
    from flytecodec.models.literals import LiteralMap
    from flytecodec.models.security import Secret, SecurityContext

    assert render(gen_stubs.field_type(LiteralMap._field_map["literals"])) == "dict[str, Literal]"
    assert render(gen_stubs.field_type(Envs._field_map["envs"])) == "dict[str, str]"
    assert render(gen_stubs.field_type(Secret._field_map["mount_requirement"])) == "Secret.MountType"
    assert render(gen_stubs.field_type(SecurityContext._field_map["secrets"])) == "list[Secret] | None"


def test_help_shows_each_property_with_its_type_and_flytekit_description():
    text = pydoc.render_doc(ExecutionClosure, renderer=pydoc.plaintext)
    assert "phase: int\n" in text
    assert "From the flytekit.models.core.execution.WorkflowExecutionPhase enum" in text
    assert "started_at: datetime\n" in text
    assert "error: ExecutionError | None\n" in text
    assert "duration: timedelta\n" in text and "Duration for which the execution has been running." in text


def test_property_docstrings():
    doc = _docs.property_doc("flyteidl.admin.ExecutionClosure", "phase")
    assert doc == (
        "int: From the flytekit.models.core.execution.WorkflowExecutionPhase enum\n\n"
        "``flyteidl.admin.ExecutionClosure.phase``"
    )
    assert _docs.property_doc("flyteidl.admin.ExecutionClosure", "no_such_field") is None
    spec = _docs.property_doc("flyteidl.admin.ExecutionSpec", "launch_plan")
    assert spec.startswith("Identifier: Launch plan unique identifier to execute")  # not flytekit's copied docstring


def test_property_descriptor_docstrings_without_the_extension():
    """The python backend's property descriptors carry the docstring (the native ones are the lead's)."""
    code = (
        "import sys\n"
        "sys.modules['flytecodec._native'] = None\n"
        "from flytecodec.models.execution import ExecutionClosure\n"
        "print(ExecutionClosure.__dict__['phase'].__doc__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == _docs.property_doc("flyteidl.admin.ExecutionClosure", "phase") + "\n"


def test_the_conformance_check_rejects_wrong_types(backend):
    closure = flytecodec.decode(ExecutionClosure, [corpus.executions(1)[0].closure.SerializeToString()])[0]
    with pytest.raises(AssertionError, match="is not a datetime"):
        _conforms(closure.duration, gen_stubs.field_type(ExecutionClosure._field_map["started_at"]))
    with pytest.raises(AssertionError, match="is not None"):
        _conforms(closure.phase, gen_stubs.NONE)
    with pytest.raises(AssertionError, match="is not a list"):
        _conforms({}, gen_stubs.field_type(ExecutionClosure._field_map["notifications"]))
