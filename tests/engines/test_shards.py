"""Shards: planning (files, globs, directories, byte ranges on record boundaries), reading, errors, and the
Arrow stream (``flytecodec.dataset``) read by DuckDB and Polars, on both backends."""

from __future__ import annotations

import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pytest
from _dumps import KEYS, expected_table, sorted_rows, write_dumps
from hypothesis import given, settings
from hypothesis import strategies as st

import flytecodec
from flytecodec import DecodeError, shards
from flytecodec.models.execution import Execution
from flytecodec.testing import corpus

POOL = [r.SerializeToString(deterministic=True) for r in corpus.executions(40, seed=3)]


def _delimited(records: list[bytes]) -> bytes:
    return b"".join(corpus.varint(len(r)) + r for r in records)


def _names(planned, backend) -> list:
    return [
        name
        for shard in planned
        for batch in shards.read_shard(shard, ["name"], backend=backend)
        for name in batch.column("name").to_pylist()
    ]


@pytest.fixture(params=["whole", "streamed"])
def piece_reading(request, monkeypatch):
    """Delimited pieces read whole and split by the decoder, or streamed by iter_batches."""
    if request.param == "streamed":
        monkeypatch.setattr(shards, "WHOLE_PIECE_BYTES", -1)
    return request.param


@pytest.mark.parametrize("backend", flytecodec.available_backends())
@pytest.mark.parametrize("whole", [True, False], ids=["whole", "streamed"])
@settings(max_examples=100, deadline=None)
@given(
    picks=st.lists(st.one_of(st.none(), st.integers(0, len(POOL) - 1)), max_size=12),
    data=st.data(),
)
def test_byte_ranges_read_every_record_once(backend, whole, picks, data):
    """Any shard size or count — edges inside records, several edges in one record, an empty file, one record —
    and every record is read exactly once, in order, and each range starts on a record boundary."""
    records = [b"" if pick is None else POOL[pick] for pick in picks]  # b"": an empty message, 1 byte in all
    blob = _delimited(records)
    starts, pos = [], 0
    for record in records:
        starts.append(pos)
        pos += len(corpus.varint(len(record))) + len(record)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "dump.bin"
        path.write_bytes(blob)
        if data.draw(st.booleans(), label="by count"):
            planned = shards.plan(path, Execution, framing="delimited", shards=data.draw(st.integers(1, 20)))
        else:
            size = data.draw(st.integers(1, max(1, len(blob) + 2)), label="shard_bytes")
            planned = shards.plan(path, Execution, framing="delimited", shard_bytes=size)
        pieces = [piece for shard in planned for piece in shard.pieces]
        assert pieces[0].start == 0 and pieces[-1].end == len(blob)
        for before, after in zip(pieces, pieces[1:]):
            assert before.end == after.start
        for piece in pieces:
            if piece.start < len(blob):
                assert starts[piece.first_index] == piece.start
        expected = [pb_name(record) for record in records]
        saved = shards.WHOLE_PIECE_BYTES
        shards.WHOLE_PIECE_BYTES = saved if whole else -1
        try:
            names = _names(planned, backend)
        finally:
            shards.WHOLE_PIECE_BYTES = saved
        assert names == expected


def pb_name(record: bytes):
    name = Execution._pb_class.FromString(record).id.name
    return name or None


def test_shards_are_balanced_and_picklable(tmp_path):
    path = tmp_path / "big.bin"
    path.write_bytes(corpus.delimited(corpus.executions(1_000, seed=1)))
    planned = shards.plan(path, "execution", framing="delimited", shards=4)
    assert len(planned) == 4
    size = path.stat().st_size
    assert all(abs(s.nbytes - size / 4) < 10_000 for s in planned)  # records are at most a few KB
    assert pickle.loads(pickle.dumps(planned)) == planned
    assert str(planned[1]).startswith(f"{path}, bytes {planned[1].pieces[0].start}-")


def test_small_files_are_grouped_and_globs_and_lists_resolve(tmp_path):
    for i in range(6):
        (tmp_path / f"page-{i}.pb").write_bytes(corpus.execution_list(20, seed=i).SerializeToString())
    (tmp_path / "notes.txt").write_text("not a page")
    size = (tmp_path / "page-0.pb").stat().st_size
    planned = shards.plan(tmp_path / "page-*.pb", "execution", framing="list", shard_bytes=3 * size)
    assert 1 < len(planned) < 6
    assert all(s.nbytes <= 3 * size or len(s.pieces) == 1 for s in planned)
    assert [p.path for s in planned for p in s.pieces] == [str(tmp_path / f"page-{i}.pb") for i in range(6)]
    both = shards.files_of([tmp_path / "page-5.pb", str(tmp_path / "page-[01].pb")])
    assert both == [str(tmp_path / "page-5.pb"), str(tmp_path / "page-0.pb"), str(tmp_path / "page-1.pb")]
    with pytest.raises(FileNotFoundError, match="no file matches"):
        shards.files_of(tmp_path / "*.parquet")
    with pytest.raises(FileNotFoundError, match="no such file"):
        shards.files_of(tmp_path / "missing.pb")
    with pytest.raises(TypeError, match="paths, globs or directories"):
        shards.plan(b"bytes", "execution", framing="list")
    with pytest.raises(ValueError, match="unknown kind"):
        shards.plan(tmp_path, "executions", framing="list")
    (tmp_path / "empty").mkdir()
    assert shards.plan(tmp_path / "empty", "execution", framing="list") == []


def test_model_for_gives_every_kinds_model():
    from flytecodec.kinds import KINDS

    assert {name: shards.model_for(name) for name in KINDS} == {name: k.load() for name, k in KINDS.items()}
    with pytest.raises(ValueError, match="unknown kind 'executions'; choose one of execution, node-execution"):
        shards.model_for("executions")


@pytest.mark.parametrize("columns", [None, ["phase", "name", "duration"], []])
def test_read_shard_gives_the_single_process_table(backend, tmp_path, columns):
    for case in write_dumps(tmp_path):
        kind, source, framing, count = case
        wanted = columns if kind == "execution" or columns == [] else None
        planned = shards.plan(source, kind, framing=framing, shards=count or 2)
        target = shards.schema(kind, wanted)
        batches = [b for s in planned for b in shards.read_shard(s, wanted, batch_size=64)]
        assert all(b.schema.equals(target) and b.num_rows <= 64 for b in batches)
        got = pa.Table.from_batches(batches, schema=target)
        if wanted == []:
            assert got.num_columns == 0
            assert got.num_rows == expected_table(kind, source, framing, [KEYS[kind][-1]]).num_rows
        else:
            assert sorted_rows(got, kind) == sorted_rows(expected_table(kind, source, framing, wanted), kind)


def test_a_bad_record_names_the_shard_and_the_record(backend, piece_reading, tmp_path):
    records = [r.SerializeToString(deterministic=True) for r in corpus.executions(300, seed=2)]
    bad = 201
    records[bad] = records[bad][:-3] + b"\xff\xff\xff"  # the record ends inside a broken tag
    blob = _delimited(records)
    offset = len(_delimited(records[:bad]))
    path = tmp_path / "dump.bin"
    path.write_bytes(blob)
    planned = shards.plan(path, "execution", framing="delimited", shards=3)
    failing = [s for s in planned if s.pieces[0].start <= offset < s.pieces[0].end]
    assert len(failing) == 1
    for shard in planned:
        if shard is not failing[0]:
            assert sum(b.num_rows for b in shards.read_shard(shard, ["name"]))
    with pytest.raises(DecodeError) as raised:
        list(shards.read_shard(failing[0], ["name"]))
    error, piece = raised.value, failing[0].pieces[0]
    assert (error.index, error.offset) == (bad, offset)
    assert f"{path}, bytes {piece.start}-{piece.end}" in str(error)
    assert pickle.loads(pickle.dumps(error)).args == error.args


def test_a_cut_length_prefix_and_a_bad_page(backend, piece_reading, tmp_path):
    """A length prefix claiming more than the file holds stops the walk: the rest is one shard, which fails."""
    records = [r.SerializeToString(deterministic=True) for r in corpus.executions(50, seed=4)]
    blob = _delimited(records) + corpus.varint(10_000) + b"\x0a\x00"
    path = tmp_path / "cut.bin"
    path.write_bytes(blob)
    planned = shards.plan(path, "execution", framing="delimited", shard_bytes=2_000)
    *good, last = planned
    assert sum(b.num_rows for s in good for b in shards.read_shard(s, ["name"])) == last.pieces[0].first_index
    with pytest.raises(DecodeError, match="length prefix claims") as raised:
        list(shards.read_shard(last))
    assert raised.value.index == 50 and raised.value.offset == len(_delimited(records))

    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "a.pb").write_bytes(corpus.execution_list(5, seed=1).SerializeToString())
    (pages / "b.pb").write_bytes(b"\x0a\x05abc")
    (shard,) = shards.plan(pages, "execution", framing="list")
    with pytest.raises(DecodeError, match=r"b\.pb, bytes 0-5"):
        list(shards.read_shard(shard))


def test_a_changed_file_is_refused(tmp_path):
    path = tmp_path / "dump.bin"
    path.write_bytes(corpus.delimited(corpus.executions(10, seed=1)))
    (shard,) = shards.plan(path, "execution", framing="delimited")
    path.write_bytes(corpus.delimited(corpus.executions(11, seed=1)))
    with pytest.raises(ValueError, match="changed; plan the shards again"):
        list(shards.read_shard(shard))


def test_message_framing_one_record_per_file(backend, tmp_path):
    closures = corpus.executions(7, seed=8)
    for i, record in enumerate(closures):
        (tmp_path / f"{i}.pb").write_bytes(record.closure.SerializeToString())
    (tmp_path / "7.pb").write_bytes(b"\x08\x00")  # a message with every field at its default
    planned = shards.plan(tmp_path, "execution-closure", framing="message", shard_bytes=1_500)
    assert len(planned) > 1
    table = pa.Table.from_batches([b for s in planned for b in shards.read_shard(s, ["phase_number"])])
    assert table.column("phase_number").to_pylist() == [r.closure.phase for r in closures] + [0]
    (tmp_path / "8.pb").write_bytes(b"")  # an empty file is a failed download, not a message (docs: streaming)
    with pytest.raises(DecodeError, match=r"8\.pb, bytes 0-0: the file is empty"):
        [b for s in shards.plan(tmp_path, "execution-closure", framing="message") for b in shards.read_shard(s)]
    (tmp_path / "8.pb").unlink()
    (tmp_path / "3.pb").write_bytes(b"\x08")
    with pytest.raises(DecodeError, match=r"3\.pb, bytes 0-1") as raised:
        [b for s in shards.plan(tmp_path, "execution-closure", framing="message") for b in shards.read_shard(s)]
    assert raised.value.index == 0


def test_dataset_is_an_arrow_stream_for_duckdb_and_polars(backend, tmp_path):
    duckdb = pytest.importorskip("duckdb")
    import polars as pl

    source = tmp_path / "executions.bin"
    source.write_bytes(corpus.delimited(corpus.executions(900, seed=5)))
    whole = flytecodec.decode(Execution, source, framing="delimited").to_arrow()
    reader = flytecodec.dataset(source, kind="execution", framing="delimited", batch_size=200)
    assert isinstance(reader, pa.RecordBatchReader) and hasattr(reader, "__arrow_c_stream__")
    counts = duckdb.sql("select phase, count(*) as n from reader group by 1 order by 1").fetchall()
    expected = sorted((phase, n) for phase, n in pl.from_arrow(whole).group_by("phase").len().iter_rows())
    assert sorted(counts) == expected
    narrow = flytecodec.dataset(source, kind="execution", framing="delimited", columns=["name", "duration"])
    frame = pl.from_arrow(narrow)
    assert frame.equals(pl.from_arrow(whole.select(["name", "duration"])))


def test_dataset_reads_lazily(backend, tmp_path):
    """The stream reads a file only when it is reached: a bad file late in the input fails only there."""
    (tmp_path / "a.bin").write_bytes(corpus.delimited(corpus.executions(30, seed=1)))
    (tmp_path / "b.bin").write_bytes(b"\x05\x0a")
    reader = flytecodec.dataset(tmp_path, kind="execution", framing="delimited", batch_size=10, columns=["name"])
    assert [reader.read_next_batch().num_rows for _ in range(3)] == [10, 10, 10]
    with pytest.raises(DecodeError, match=r"b\.bin, bytes 0-2"):
        reader.read_next_batch()


def test_importing_flytecodec_imports_no_engine():
    code = (
        "import sys, flytecodec, flytecodec.shards\n"
        "loaded = {'dask', 'ray', 'pyarrow'} & set(sys.modules)\n"
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
