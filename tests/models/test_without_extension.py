"""Without the Rust extension (a source checkout that was never built), flytecodec still works: the python
backend, with the pure-Python property descriptors. The flytekit differential tests run again in a process where
``flytecodec._native`` cannot be imported."""

from __future__ import annotations

import os
import subprocess
import sys

import flytecodec

HIDE_EXTENSION = """
import sys
sys.modules["flytecodec._native"] = None  # importing it now raises ImportError
import pytest
import flytecodec
from flytecodec.models._properties import _FieldProperty
from flytecodec.models.execution import ExecutionClosure
assert flytecodec.available_backends() == ["python"], flytecodec.available_backends()
assert flytecodec.backend() == "python"
assert isinstance(vars(ExecutionClosure)["phase"], _FieldProperty)
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", *sys.argv[1:]]))
"""


PACKAGE_ROOT = os.path.dirname(os.path.dirname(flytecodec.__file__))


def test_the_differential_suite_passes_without_the_extension():
    here = os.path.dirname(__file__)
    files = [os.path.join(here, name) for name in ("test_models_vs_flytekit.py", "test_compatibility.py")]
    done = subprocess.run(
        [sys.executable, "-c", HIDE_EXTENSION, *files],
        capture_output=True,
        text=True,
        cwd=here,
        # the tests folder (the support package), and the flytecodec this run imported (not another installed one)
        env={**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(here), PACKAGE_ROOT])},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
