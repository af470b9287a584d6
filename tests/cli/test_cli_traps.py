"""The command line's traps (issue 10): ``python -m flytecodec`` with subcommands, outputs that would clobber or
feed back into the input, signals during ``decode``, ``--glob``, a wrong ``--kind``, and the smaller gaps of
``sample``, ``bench``, ``stats`` and the tables."""

from __future__ import annotations

import collections
import contextlib
import os
import shlex
import signal
import subprocess
import threading
import time

import pyarrow.parquet as pq
import pytest

import flytecodec
from flytecodec import _guess
from flytecodec.kinds import KINDS
from flytecodec.streaming import CHUNK
from flytecodec.testing import corpus
from support.cli import COMMAND, MODULE, ok, run


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


@pytest.mark.parametrize(
    "line", ["stats {page} --kind execution --framing list", "sample -n 3 {tmp}/s.pb", "export --help", "--help"]
)
def test_python_m_takes_every_subcommand(page, tmp_path, line):
    done = ok(line.format(page=page, tmp=tmp_path), command=MODULE)
    assert done.stdout


def test_the_subcommands_python_m_knows_are_the_commands():
    from flytecodec import cli

    assert sorted(cli.COMMANDS) == sorted(cli.command().commands)
    assert "Usage: python -m flytecodec export [OPTIONS] postgresql://" in ok("export --help", command=MODULE).stdout


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
    """The input is a pipe that delivers more than a read chunk of records and then waits (no timing involved):
    decode has written its first batches to ``out.parquet.<pid>.part`` when the signal comes."""
    number = getattr(signal, name)
    fifo = tmp_path / "dump.bin"
    os.mkfifo(fifo)
    out = tmp_path / "out.parquet"
    release = threading.Event()
    copies = 2 * CHUNK // len(delimited_executions) + 1  # two read chunks and more: batches are written
    feeder = threading.Thread(target=_feed, args=(fifo, delimited_executions * copies, release))
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


# -- item 11: a wrong --kind fails, naming the likely one ------------------------------------------------------


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    """Delimited dumps of execution specs and closures and of node execution closures."""
    root = tmp_path_factory.mktemp("parts")
    executions = corpus.executions(300, seed=11)
    nodes = corpus.node_executions(300, seed=11)
    files = {
        "execution-spec": [e.spec for e in executions],
        "execution-closure": [e.closure for e in executions],
        "node-execution-closure": [n.closure for n in nodes],
    }
    for name, messages in files.items():
        (root / f"{name}.bin").write_bytes(corpus.delimited(messages))
    return root


@pytest.mark.parametrize(
    ("real", "given", "backend"),
    [
        ("execution-spec", "execution-closure", "native"),
        ("execution-spec", "execution-closure", "python"),
        ("execution-closure", "node-execution-closure", None),
        ("node-execution-closure", "task-execution-closure", None),
    ],
)
def test_a_wrong_kind_fails_naming_the_likely_one(parts, tmp_path, backend, real, given):
    out = tmp_path / "out.parquet"
    line = f"decode {parts / real}.bin --kind {given} --framing delimited --to {out} -q"
    done = run(line, backend=backend)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and f"(--kind {real})" in done.stderr, done.stderr
    assert not out.exists() and os.listdir(tmp_path) == []
    head = parts / f"{real}-as-{given}.bin"  # records that decode as `given`: only the guess tells
    model = KINDS[given].load()
    records = [r for r in _guess.split((parts / f"{real}.bin").read_bytes(), "delimited") if _decodes(model, r)][:10]
    head.write_bytes(b"".join(corpus.varint(len(record)) + record for record in records))
    line = f"decode {head} --kind {given} --framing delimited --to {out} -q"
    done = run(line, backend=backend)
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert done.stderr.startswith("flytecodec: error: these records do not look like "), done.stderr
    assert f"(--kind {real})" in done.stderr and "--force" in done.stderr
    assert not out.exists()
    ok(f"{line} --force", backend=backend)
    assert pq.read_table(out).num_rows == 10
    done = run(f"stats {head} --kind {given} --framing delimited")
    assert done.returncode == 1 and f"(--kind {real})" in done.stderr


def _decodes(model, record: bytes) -> bool:
    try:
        flytecodec.decode(model, record, framing="message")
    except flytecodec.DecodeError:
        return False
    return True


def test_a_page_of_another_kind_fails(page):
    done = run(f"stats {page} --kind node-execution --framing list")
    assert done.returncode == 1 and "(--kind execution)" in done.stderr, done.stderr


def test_the_guess_on_every_pair_of_kinds():
    """Records of each kind fit it, and under every other kind are refused with the right kind named."""
    executions, nodes, tasks = (corpus.executions(60, 2), corpus.node_executions(60, 2), corpus.task_executions(60, 2))
    records = {
        "execution": executions,
        "node-execution": nodes,
        "task-execution": tasks,
        "execution-spec": [e.spec for e in executions],
        "execution-closure": [e.closure for e in executions],
        "node-execution-closure": [n.closure for n in nodes],
        "task-execution-closure": [t.closure for t in tasks],
    }
    descriptors = {name: kind.load()._pb_class.DESCRIPTOR for name, kind in KINDS.items()}
    for real, messages in records.items():
        sample = [m.SerializeToString() for m in messages]
        assert _guess.verdict(sample, real, descriptors) is None
        for given in KINDS:
            if given != real:
                assert _guess.verdict(sample, given, descriptors).likely == real, (real, given)


def test_the_guess_tolerates_a_newer_schema():
    """Unknown fields alone (a writer with a newer flyteidl) are not evidence enough; a wire type that
    contradicts the schema is."""
    from flytecodec.models.execution import ExecutionClosure

    descriptor = ExecutionClosure._pb_class.DESCRIPTOR
    closures = [c.closure.SerializeToString() for c in corpus.executions(20, 4)]
    newer = [data + corpus.varint(999 << 3 | 0) + b"\x01" for data in closures]
    assert _guess.misfit(newer[0], descriptor) == _guess.Misfit(False, True)
    assert _guess.verdict(newer, "execution-closure", {"execution-closure": descriptor}) is None
    phase_as_message = corpus.varint(4 << 3 | 2) + b"\x00"  # phase is a varint
    assert _guess.misfit(phase_as_message, descriptor).contradicts
    not_utf8 = corpus.varint(10 << 3 | 2) + b"\x01\xff"  # abort_cause is a string
    assert _guess.misfit(not_utf8, descriptor).contradicts


# -- item 17: sample writes every kind and framing -----------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "framing"),
    [
        ("execution-spec", "delimited"),
        ("execution-closure", "message"),
        ("node-execution-closure", "delimited"),
        ("task-execution-closure", "message"),
        ("task-execution", "message"),
    ],
)
def test_sample_writes_parts_and_messages(tmp_path, kind, framing):
    dump = tmp_path / "dump"
    ok(f"sample --kind {kind} -n 12 --framing {framing} --seed 4 {dump}")
    if framing == "message":
        assert sorted(os.listdir(dump))[:2] == ["000000.pb", "000001.pb"] and len(os.listdir(dump)) == 12
    ok(f"decode {dump} --kind {kind} --framing {framing} --to {tmp_path / 'out.parquet'} -q")
    assert pq.read_table(tmp_path / "out.parquet").num_rows == 12
    done = run(f"sample --kind {kind} --framing list {tmp_path / 'page.pb'}")
    assert done.returncode == (0 if kind == "task-execution" else 2)


# -- item 17: stats --group-by, --json, and saying why a table is empty ------------------------------------------


def test_stats_group_by_and_json(page):
    import json

    from flytecodec.models.execution import Execution

    done = ok(f"stats {page} --kind execution --framing list --group-by project --json")
    summary = json.loads(done.stdout)
    table = flytecodec.decode(Execution, page.read_bytes(), framing="list").to_arrow(["project", "phase", "duration"])
    rows = table.to_pylist()
    assert summary["records"] == 50 and summary["group_by"] == "project"
    assert summary["counts"] == dict(collections.Counter(row["phase"] for row in rows))
    timed = [row for row in rows if row["duration"] is not None]
    assert summary["durations"][0]["group"] == "(all)" and summary["durations"][0]["count"] == len(timed)
    by_project = collections.Counter(row["project"] for row in timed)
    groups = {d["group"]: d["count"] for d in summary["durations"][1:]}  # the 20 largest groups
    assert len(groups) == min(20, len(by_project)) and all(by_project[g] == n for g, n in groups.items())
    done = ok(f"stats {page} --kind execution --framing list --group-by domain")
    assert "duration by domain" in done.stdout
    done = run(f"stats {page} --kind execution --framing list --group-by nope")
    assert done.returncode == 2 and "--group-by" in done.stderr
    done = run(f"stats {page} --kind execution-spec --framing delimited --group-by project")
    assert done.returncode == 2 and "no duration" in done.stderr


def test_stats_says_why_a_table_is_empty(tmp_path):
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    done = ok(f"stats {empty} --kind execution --framing delimited")
    assert done.stdout == "records: 0 executions\n(the input holds no records: nothing to count)\n"
    queued = tmp_path / "queued.bin"
    closures = [c for c in corpus.execution_closures(400, seed=2) if not c.HasField("duration") and not c.error.code]
    queued.write_bytes(corpus.delimited(closures[:5]))
    done = ok(f"stats {queued} --kind execution-closure --framing delimited")
    assert "(none of the 5 execution closures has a duration set)" in done.stdout
    assert "error codes: (none of the 5 execution closures has an error code)" in done.stdout


# -- item 17: bench on the user's own dump -----------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "framing"), [("execution-closure", "delimited"), ("node-execution", "list")])
def test_bench_runs_on_a_dump(tmp_path, kind, framing):
    dump = tmp_path / "dump.bin"
    ok(f"sample --kind {kind} -n 30 --framing {framing} {dump} -q")
    done = ok(f"bench {dump} --kind {kind} --framing {framing} --repeat 1")
    assert f"30 {KINDS[kind].what}" in done.stdout
    for case in ("raw upb (parse only)", "flytecodec native", "flytecodec python", "decode + to_arrow()"):
        assert case in done.stdout, done.stdout
    assert "flytekit" not in done.stdout
    done = run(f"bench {dump} --framing {framing}")
    assert done.returncode == 2 and "needs --kind and --framing" in done.stderr


def test_bench_on_a_dump_of_the_wrong_kind_names_the_likely_one(tmp_path):
    dump = tmp_path / "specs.bin"
    ok(f"sample --kind execution-spec -n 30 --framing delimited {dump} -q")
    done = run(f"bench {dump} --kind node-execution-closure --framing delimited --repeat 1")
    assert done.returncode == 1 and "(--kind execution-spec)" in done.stderr, done.stderr
