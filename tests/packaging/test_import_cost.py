"""Importing the models, and decoding records and reading them on the native backend, import neither protobuf nor
flyteidl (their import was about half of the models' import time): what the model layer needs of the messages
is in the generated ``_message_table.py``. ``to_flyte_idl`` and the python backend import them when first used."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import flytecodec
from flytecodec.testing import corpus

MODELS = (
    "flytecodec.models.execution",
    "flytecodec.models.node_execution",
    "flytecodec.models.admin.task_execution",
    "flytecodec.remote.executions",
)

_REPORT = """
import sys
print(sorted(m for m in sys.modules if m.split(".")[0] == "flyteidl" or m.startswith("google.protobuf")))
"""


def _protobuf_modules_after(code: str, backend: str = "native") -> list[str]:
    """The protobuf and flyteidl modules a fresh interpreter has imported after running ``code``."""
    env = {**os.environ, "FLYTECODEC_BACKEND": backend}
    out = subprocess.run(
        [sys.executable, "-c", code + _REPORT], capture_output=True, text=True, env=env, check=True
    ).stdout
    return eval(out.strip().splitlines()[-1])


def test_importing_the_models_imports_no_protobuf():
    assert _protobuf_modules_after("\n".join(f"import {m}" for m in MODELS)) == []


@pytest.mark.skipif("native" not in flytecodec.available_backends(), reason="the extension is not built")
def test_a_native_decode_and_its_reads_import_no_protobuf(tmp_path):
    pages = tmp_path / "pages.bin"
    pages.write_bytes(corpus.execution_list(30, seed=3, token="next").SerializeToString())
    code = f"""
import pathlib
import flytecodec
batch = flytecodec.decode_executions(pathlib.Path({str(pages)!r}).read_bytes(), framing="list")
assert len(batch) == 30 and batch.token == "next"
for e in batch:
    c = e.closure
    values = (c.phase, c.started_at, c.duration, e.id.name, e.spec.launch_plan.name, e.spec.labels.values)
again = flytecodec.decode_executions(batch[0].serialize_to_string(), framing="message")[0]
assert again.id.name == batch[0].id.name and again.closure.started_at == batch[0].closure.started_at
"""
    assert _protobuf_modules_after(code) == []


@pytest.mark.parametrize("backend", flytecodec.available_backends())
def test_protobuf_is_imported_when_a_message_is_asked_for(backend, tmp_path):
    pages = tmp_path / "pages.bin"
    pages.write_bytes(corpus.execution_list(5, seed=4).SerializeToString())
    code = f"""
import pathlib
import flytecodec
from flyteidl.admin import execution_pb2
batch = flytecodec.decode_executions(pathlib.Path({str(pages)!r}).read_bytes(), framing="list")
pb = batch[0].to_flyte_idl()
assert type(pb) is execution_pb2.Execution
assert pb == execution_pb2.ExecutionList.FromString(pathlib.Path({str(pages)!r}).read_bytes()).executions[0]
assert type(batch.to_flyte_idl()) is execution_pb2.ExecutionList
"""
    assert "flyteidl.admin.execution_pb2" in _protobuf_modules_after(code, backend)
