"""The command line's traps (issue 10): ``python -m flytecodec`` with subcommands, outputs that would clobber or
feed back into the input, signals during ``decode``, ``--glob``, a wrong ``--kind``, and the smaller gaps of
``sample``, ``bench``, ``stats`` and the tables."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from flytecodec.testing import corpus

MODULE = [sys.executable, "-m", "flytecodec"]
COMMAND = [sys.executable, "-m", "flytecodec.cli"]


def run(line: str, *, command=COMMAND, backend: str | None = None, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("FLYTECODEC_BACKEND", None)
    if backend:
        env["FLYTECODEC_BACKEND"] = backend
    return subprocess.run(
        [*command, *shlex.split(line)], capture_output=True, text=True, env=env, cwd=cwd, timeout=300, check=False
    )


def ok(line: str, **kwargs) -> subprocess.CompletedProcess:
    done = run(line, **kwargs)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    path = tmp_path_factory.mktemp("page") / "executions.pb"
    path.write_bytes(corpus.execution_list(50, seed=3).SerializeToString(deterministic=True))
    return path


# -- item 13: python -m flytecodec takes every subcommand -------------------------------------------------------


def test_python_m_takes_decode(page, tmp_path):
    out = tmp_path / "out.parquet"
    ok(f"decode {page} --kind execution --framing list --to {out} -q", command=MODULE)
    assert pq.read_table(out).num_rows == 50


@pytest.mark.parametrize("line", ["stats {page} --kind execution --framing list", "sample -n 3 {tmp}/s.pb", "--help"])
def test_python_m_takes_every_subcommand(page, tmp_path, line):
    done = ok(line.format(page=page, tmp=tmp_path), command=MODULE)
    assert done.stdout


def test_python_m_without_a_subcommand_runs_the_demo(tmp_path):
    ok(f"--dir {tmp_path} -n 20", command=MODULE)
    assert pq.read_table(tmp_path / "executions.parquet").num_rows == 20
    ok("-n 10", command=MODULE, cwd=tmp_path)
    assert pq.read_table(tmp_path / "flytecodec-sample" / "executions.parquet").num_rows == 10
    done = ok(f"--backend python --dir {tmp_path / 'py'} -n 5", command=MODULE)
    assert "--backend python" in done.stdout
    assert pq.read_table(tmp_path / "py" / "executions.parquet").num_rows == 5


# -- item 5: an output that is an input, or inside an input directory ---------------------------------------------


def test_to_equal_to_an_input_is_refused_and_the_dump_kept(page, tmp_path):
    dump = tmp_path / "d.parquet"  # a dump whose name has an output suffix
    dump.write_bytes(page.read_bytes())
    done = run(f"decode {page} {dump} --kind execution --framing list --to {dump}")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "is one of the inputs" in done.stderr, done.stderr
    assert dump.read_bytes() == page.read_bytes()
    os.symlink(dump, tmp_path / "link.parquet")
    done = run(f"decode {dump} --kind execution --framing list --to {tmp_path / 'link.parquet'}")
    assert done.returncode == 1 and "is one of the inputs" in done.stderr
    assert dump.read_bytes() == page.read_bytes()


def test_output_inside_an_input_directory_is_refused(page, tmp_path):
    pages = tmp_path / "pages"
    (pages / "sub").mkdir(parents=True)
    (pages / "page-1.pb").write_bytes(page.read_bytes())
    for out in (pages / "out.parquet", pages / "sub" / "out.csv"):
        done = run(f"decode {pages} --kind execution --framing list --to {out}")
        assert done.returncode == 1
        assert done.stderr.count("\n") == 1 and "inside the input directory" in done.stderr, done.stderr
        assert not out.exists()
    assert sorted(os.listdir(pages)) == ["page-1.pb", "sub"]
    ok(f"decode {pages} --kind execution --framing list --to {tmp_path / 'out.parquet'} -q")
