"""The command line's traps (issue 10): ``python -m flytecodec`` with subcommands, outputs that would clobber or
feed back into the input, signals during ``decode``, ``--glob``, a wrong ``--kind``, and the smaller gaps of
``sample``, ``bench``, ``stats`` and the tables."""

from __future__ import annotations

import contextlib
import os
import signal
import shlex
import subprocess
import sys
import threading
import time

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


# -- item 4: a signal during decode leaves no file behind ------------------------------------------------------


@pytest.fixture(scope="module")
def delimited_executions():
    return corpus.delimited(corpus.executions(2000, seed=5))


def _feed(fifo, data: bytes, release: threading.Event) -> None:
    """Write ``data`` into ``fifo``, then hold it open (the reader waits for more) until ``release``."""
    with contextlib.suppress(BrokenPipeError), open(fifo, "wb") as f:  # the reader stops: the pipe breaks
        f.write(data)
        f.flush()
        release.wait(300)


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP", "SIGQUIT", "SIGINT"])
def test_signal_during_decode_leaves_no_file(tmp_path, delimited_executions, name):
    """The input is a pipe that delivers more than one read chunk of records and then waits: decode has written
    its first batches to ``out.parquet.<pid>.part`` and is blocked reading when the signal comes."""
    number = getattr(signal, name)
    fifo = tmp_path / "dump.bin"
    os.mkfifo(fifo)
    out = tmp_path / "out.parquet"
    release = threading.Event()
    feeder = threading.Thread(target=_feed, args=(fifo, delimited_executions * 8, release))
    feeder.start()
    line = f"decode {fifo} --kind execution --framing delimited --batch-size 500 --to {out}"
    process = subprocess.Popen([*COMMAND, *shlex.split(line)], stderr=subprocess.PIPE, text=True)
    try:
        part = tmp_path / f"out.parquet.{process.pid}.part"
        for _ in range(3000):
            if part.exists() or process.poll() is not None:
                break
            time.sleep(0.1)
        assert part.exists(), process.poll()
        process.send_signal(number)
        _, stderr = process.communicate(timeout=120)
    finally:
        release.set()
        feeder.join()
        if process.poll() is None:
            process.kill()
            process.wait()
    assert os.listdir(tmp_path) == ["dump.bin"]
    if number == signal.SIGINT:
        assert process.returncode == 1
    else:
        assert process.returncode == 128 + number
        assert stderr == f"flytecodec: error: stopped by {name}: no output written\n"


# -- item 14 (the command's side): --glob picks the files of a directory -------------------------------------------


def test_glob_reads_only_the_matching_files_of_a_directory(tmp_path):
    pages = tmp_path / "pages"
    pages.mkdir()
    for number in (1, 2):
        page = corpus.execution_list(4, seed=number, token=str(number))
        (pages / f"page-{number}.pb").write_bytes(page.SerializeToString(deterministic=True))
    (pages / "README.txt").write_text("downloaded from flyteadmin, one page per file\n")
    line = f"decode {pages} --kind execution --framing list --to {tmp_path / 'out.parquet'} -q"
    assert run(line).returncode == 1
    ok(f"{line} --glob 'page-*.pb'")
    assert pq.read_table(tmp_path / "out.parquet").num_rows == 8
    done = ok(f"stats {pages} --kind execution --framing list --glob '*.pb'")
    assert "records: 8 executions" in done.stdout
    done = run(f"{line} --glob '*.bin'")
    assert done.returncode == 1
    assert done.stderr == f"flytecodec: error: no file of {pages} matches --glob '*.bin'\n"


def test_iter_batches_takes_the_same_glob(tmp_path):
    import flytecodec
    from flytecodec.models.execution import Execution

    (tmp_path / "page-1.pb").write_bytes(corpus.execution_list(3, seed=1).SerializeToString())
    (tmp_path / "notes.txt").write_text("not a dump")
    batches = flytecodec.iter_batches(tmp_path, Execution, framing="list", glob="*.pb")
    assert sum(len(batch) for batch in batches) == 3
