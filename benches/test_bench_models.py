"""The model layer against flytekit and upb: small records in pages of 100, and the cost of importing.

Each case first checks that the contenders give the same values, so a fast wrong answer fails the run. The
other rows of the model targets (long-traceback records, materialize everything, ``to_flyte_idl``,
``from_flyte_idl``) are in ``test_bench_executions.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from flyteidl.admin import execution_pb2
from flytekit.models import execution as fk_execution

import flytecodec

BACKENDS = flytecodec.available_backends()


def _four(records) -> list[tuple]:
    """closure.phase, closure.started_at, closure.duration and id.name of every record."""
    out = []
    for r in records:
        closure = r.closure
        out.append((closure.phase, closure.started_at, closure.duration, r.id.name))
    return out


def _flytekit_pages(pages: list[bytes]) -> list[tuple]:
    out = []
    for page in pages:
        pb = execution_pb2.ExecutionList.FromString(page)
        out += _four([fk_execution.Execution.from_flyte_idl(e) for e in pb.executions])
    return out


def _flytecodec_pages(pages: list[bytes]) -> list[tuple]:
    out = []
    for page in pages:
        out += _four(flytecodec.decode_executions(page, framing="list"))
    return out


def _upb_pages(pages: list[bytes]) -> None:
    parse = execution_pb2.ExecutionList.FromString
    for page in pages:
        parse(page)


@pytest.fixture(scope="module")
def small_pages_expected(small_pages) -> list[tuple]:
    return _flytekit_pages(small_pages[:3])


@pytest.mark.benchmark(group="small executions, pages of 100: decode + read 4 fields")
def test_small_pages_flytekit(benchmark, small_pages):
    benchmark.pedantic(_flytekit_pages, args=(small_pages,), rounds=3, iterations=1)


@pytest.mark.benchmark(group="small executions, pages of 100: decode + read 4 fields")
def test_small_pages_upb_parse_only(benchmark, small_pages):
    benchmark.pedantic(_upb_pages, args=(small_pages,), rounds=5, iterations=1)


@pytest.mark.benchmark(group="small executions, pages of 100: decode + read 4 fields")
@pytest.mark.parametrize("name", BACKENDS)
def test_small_pages_flytecodec(benchmark, small_pages, small_pages_expected, name):
    with flytecodec.using_backend(name):
        assert _flytecodec_pages(small_pages[:3]) == small_pages_expected

        def run():
            with flytecodec.using_backend(name):
                _flytecodec_pages(small_pages)

        benchmark.pedantic(run, rounds=5, iterations=1)


@pytest.fixture(scope="module")
def bytecode_env(tmp_path_factory) -> dict:
    """The environment of the import runs: bytecode cached (in a directory of its own), as an installed package
    has it, even where ``PYTHONDONTWRITEBYTECODE`` is set; so every contender's import is timed without
    compiling its sources."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(tmp_path_factory.mktemp("pycache"))
    return env


def _import(module: str, env: dict) -> None:
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True, env=env)


def _time_import(benchmark, module: str, env: dict, rounds: int) -> None:
    _import(module, env)  # writes the bytecode
    benchmark.pedantic(_import, args=(module, env), rounds=rounds, iterations=1)


@pytest.mark.benchmark(group="import the execution models (a fresh interpreter)")
def test_import_empty_interpreter(benchmark, bytecode_env):
    _time_import(benchmark, "sys", bytecode_env, 5)


@pytest.mark.benchmark(group="import the execution models (a fresh interpreter)")
def test_import_flytekit(benchmark, bytecode_env):
    _time_import(benchmark, "flytekit.models.execution", bytecode_env, 3)


@pytest.mark.benchmark(group="import the execution models (a fresh interpreter)")
def test_import_flytecodec(benchmark, bytecode_env):
    _time_import(benchmark, "flytecodec.models.execution", bytecode_env, 5)
