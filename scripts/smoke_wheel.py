"""Smoke test of an installed flytecodec (a wheel in a fresh environment): run by scripts/test_wheels.sh.

Checks that the native extension is the one installed with the package and is the active backend, then, on
the built-in sample (``flytecodec sample``): decodes each kind of record on both backends and compares them
record by record and with protobuf's own parse, compares ``to_arrow()`` of both backends, checks that bad input
raises ``DecodeError`` at the same index and offset on both, and runs ``flytecodec decode`` to Parquet on each
backend. Exits non-zero (an AssertionError or the failing command's status) on any difference. Needs the ``cli``
and ``arrow`` extras.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
from flyteidl.admin import execution_pb2, node_execution_pb2, task_execution_pb2

import flytecodec
from flytecodec.models.admin.task_execution import TaskExecution
from flytecodec.models.execution import Execution
from flytecodec.models.node_execution import NodeExecution

N = 2000
# kind (the command's name), model, its *List response, the property paths compared between backends
KINDS = [
    ("execution", Execution, execution_pb2.ExecutionList, ["id.name", "closure.phase", "closure.started_at"]),
    ("node-execution", NodeExecution, node_execution_pb2.NodeExecutionList, ["id.node_id", "closure.phase"]),
    ("task-execution", TaskExecution, task_execution_pb2.TaskExecutionList, ["id.retry_attempt", "closure.phase"]),
]


def check_install() -> str:
    """The extension is the installed one (not a checkout's), it loaded, and the native backend is active."""
    from flytecodec import _native

    site = Path(sysconfig.get_paths()["platlib"]).resolve()
    native = Path(_native.__file__).resolve()
    assert site in native.parents, f"flytecodec._native comes from {native}, not from this environment's {site}"
    assert flytecodec.available_backends() == ["native", "python"], flytecodec.available_backends()
    assert flytecodec.backend() == "native", f"active backend is {flytecodec.backend()}, not native"
    version = importlib.metadata.version("flytecodec")
    assert version == flytecodec.__version__, f"metadata version {version} != flytecodec.__version__"
    files = {str(f) for f in importlib.metadata.files("flytecodec") or []}
    assert "flytecodec/py.typed" in files, "py.typed is not installed"
    assert any(f.endswith("licenses/LICENSE") for f in files), "the LICENSE file is not in the wheel"
    return native.name


def read(model: object, path: str) -> object:
    for name in path.split("."):
        model = getattr(model, name)
    return model


def compare_backends(kind: str, model: type, response: type, props: list[str], dump: Path) -> list[str]:
    """Both backends decode the sample to the same records, properties and Arrow table as protobuf parses."""
    data = dump.read_bytes()
    expected = list(response.FromString(data).ListFields()[0][1])
    assert len(expected) == N, (kind, len(expected))
    batches = {}
    for name in ("native", "python"):
        with flytecodec.using_backend(name):
            batches[name] = flytecodec.decode(model, data, framing="list")
            assert len(batches[name]) == N, (kind, name, len(batches[name]))
    native, python = batches["native"], batches["python"]
    for i, message in enumerate(expected):
        a, b = native[i], python[i]
        exact = message.SerializeToString(deterministic=True)  # the sample is written deterministically
        assert a.serialize_to_string() == b.serialize_to_string() == exact, (kind, i)
        assert a.to_flyte_idl() == b.to_flyte_idl() == message, (kind, i)
        for prop in props:
            assert read(a, prop) == read(b, prop), (kind, i, prop)
    assert native.to_flyte_idl() == python.to_flyte_idl() == response.FromString(data), kind
    with flytecodec.using_backend("native"):
        table = native.to_arrow()
    with flytecodec.using_backend("python"):
        python_table = python.to_arrow()
    assert table.num_rows == N, (kind, table.num_rows)
    assert table.equals(python_table), f"{kind}: to_arrow differs between the backends"

    bad = data[:-3]  # the last record cut short
    errors = []
    for name in ("native", "python"):
        with flytecodec.using_backend(name):
            try:
                flytecodec.decode(model, bad, framing="list")
            except flytecodec.DecodeError as error:
                # the reason's wording may differ between the backends (as in tests/errors/test_framing_errors.py)
                errors.append((type(error), error.index, error.offset))
            else:
                raise AssertionError(f"{kind}: {name} decoded a truncated dump")
    assert errors[0] == errors[1], (kind, errors)
    return table.column_names


def decode_to_parquet(kind: str, columns: list[str], dump: Path, work: Path) -> None:
    """``flytecodec decode`` writes the same Parquet table on both backends: every record, to_arrow's columns."""
    command = Path(sys.executable).with_name("flytecodec")
    tables = []
    for name in ("native", "python"):
        out = work / f"{kind}-{name}.parquet"
        args = ["--backend", name, "decode", str(dump), "--kind", kind, "--framing", "list", "--to", str(out)]
        subprocess.run([str(command), *args, "--quiet"], check=True)
        tables.append(pq.read_table(out))
    assert tables[0].num_rows == N, (kind, tables[0].num_rows)
    assert tables[0].column_names == columns, f"{kind}: the Parquet file's columns are not to_arrow's"
    assert tables[0].equals(tables[1]), f"{kind}: flytecodec decode wrote different Parquet on the backends"


def main() -> None:
    extension = check_install()
    command = Path(sys.executable).with_name("flytecodec")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for kind, model, response, props in KINDS:
            dump = work / f"{kind}.pb"
            subprocess.run(
                [str(command), "sample", "--kind", kind, "-n", str(N), "--framing", "list", str(dump), "--quiet"],
                check=True,
            )
            columns = compare_backends(kind, model, response, props, dump)
            decode_to_parquet(kind, columns, dump, work)
        left = sorted(os.listdir(work))
    print(
        f"smoke: Python {sys.version.split()[0]}, flytecodec {flytecodec.__version__}, {extension}: native backend "
        f"active; {len(KINDS)} kinds x {N} records equal on both backends and to protobuf, to_arrow equal, "
        f"DecodeError index and offset equal, flytecodec decode to Parquet equal ({len(left)} files written)"
    )


if __name__ == "__main__":
    main()
