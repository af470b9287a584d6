"""Backend selection: ``available_backends``, ``set_backend``, ``using_backend`` and the
``FLYTECODEC_BACKEND`` environment variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import flytecodec

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
