"""``iter_batches``: big dumps in bounded memory, several files as one input, on both backends."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import flytecodec
from flytecodec import DecodeError, decode, iter_batches, streaming
from flytecodec.models.execution import Execution, ExecutionClosure
from flytecodec.testing import corpus


@pytest.fixture(scope="module")
def records():
    return corpus.executions(2_500, seed=5)


def _flat(batches) -> list:
    return [m.serialize_to_string() for batch in batches for m in batch]


def test_delimited_stream_in_batches(backend, records, tmp_path):
    data = corpus.delimited(records)
    expected = [r.SerializeToString(deterministic=True) for r in records]
    path = tmp_path / "dump.bin"
    path.write_bytes(data)
    with open(path, "rb") as opened:
        for source in (data, path, str(path), opened):
            batches = list(iter_batches(source, Execution, framing="delimited", batch_size=1_000))
            assert [len(b) for b in batches] == [1_000, 1_000, 500]
            assert _flat(batches) == expected
            assert batches[2][499].id.name == records[-1].id.name


def test_records_cut_by_the_read_chunk(backend, records, monkeypatch):
    """Length prefixes and records that straddle the chunks the stream is read in."""
    monkeypatch.setattr(streaming, "CHUNK", 97)
    data = corpus.delimited(records[:300])
    assert _flat(iter_batches(data, Execution, framing="delimited", batch_size=64)) == [
        r.SerializeToString(deterministic=True) for r in records[:300]
    ]


def test_several_files_and_a_directory_are_one_input(backend, records, tmp_path):
    parts = [records[:700], records[700:701], records[701:2_000]]
    paths = []
    for i, part in enumerate(parts):
        path = tmp_path / f"part-{i}.bin"
        path.write_bytes(corpus.delimited(part))
        paths.append(path)
    (tmp_path / "empty.bin").write_bytes(b"")
    expected = [r.SerializeToString(deterministic=True) for r in records[:2_000]]
    assert _flat(iter_batches(paths, Execution, framing="delimited", batch_size=333)) == expected
    assert _flat(iter_batches(tmp_path, Execution, framing="delimited", batch_size=333)) == expected
    files = [open(path, "rb") for path in paths]  # noqa: SIM115 (closed below)
    try:
        mixed = [files[0], str(paths[1]), files[2].read()]  # open files, paths and bytes, in one list
        assert _flat(iter_batches(mixed, Execution, framing="delimited", batch_size=333)) == expected
    finally:
        for f in files:
            f.close()


def test_list_pages_in_a_directory(backend, tmp_path):
    for i in range(3):
        page = corpus.execution_list(250, seed=10 + i, token=f"page-{i + 1}")
        (tmp_path / f"page-{i}.pb").write_bytes(page.SerializeToString())
    batches = list(iter_batches(tmp_path, Execution, framing="list", batch_size=100))
    assert [len(b) for b in batches] == [100, 100, 50] * 3
    assert [b.token for b in batches] == ["page-1"] * 3 + ["page-2"] * 3 + ["page-3"] * 3
    whole = [m for i in range(3) for m in corpus.execution_list(250, seed=10 + i).executions]
    assert [m.to_flyte_idl() for b in batches for m in b] == whole


def test_one_message_per_file(backend, records, tmp_path):
    closures = [r.closure for r in records[:25]]
    for i, closure in enumerate(closures):
        (tmp_path / f"{i:03}.pb").write_bytes(closure.SerializeToString())
    batches = list(iter_batches(tmp_path, ExecutionClosure, framing="message", batch_size=10))
    assert [len(b) for b in batches] == [10, 10, 5]
    assert [m.to_flyte_idl() for b in batches for m in b] == closures


def test_errors_count_over_the_whole_input(backend, records, tmp_path):
    first = corpus.delimited(records[:10])
    second = corpus.delimited(records[10:20])
    (tmp_path / "a.bin").write_bytes(first)
    (tmp_path / "b.bin").write_bytes(second[:-5])  # the last record of the second file is cut
    with pytest.raises(DecodeError) as info:
        list(iter_batches(tmp_path, Execution, framing="delimited", batch_size=4))
    error = info.value
    assert error.index == 19
    last_prefix = len(corpus.delimited(records[10:19]))
    assert error.offset == last_prefix
    assert "b.bin" in str(error)
    bad = records[3].SerializeToString().replace(records[3].id.name.encode(), b"\xff" * len(records[3].id.name))
    stream = corpus.delimited(records[:3]) + corpus.varint(len(bad)) + bad
    with pytest.raises(DecodeError) as info:
        list(iter_batches(stream, Execution, framing="delimited", batch_size=2))
    assert info.value.index == 3  # invalid UTF-8 in record 3, in the second batch
    assert info.value.offset == len(corpus.delimited(records[:3]))


def test_empty_inputs_and_bad_arguments(backend, tmp_path):
    assert list(iter_batches(b"", Execution, framing="delimited")) == []
    assert list(iter_batches(tmp_path, Execution, framing="list")) == []
    assert list(iter_batches([], Execution, framing="message")) == []
    with pytest.raises(ValueError, match="batch_size"):
        list(iter_batches(b"", Execution, framing="delimited", batch_size=0))
    with pytest.raises(ValueError, match="unknown framing"):
        list(iter_batches(b"", Execution, framing="csv"))
    with pytest.raises(TypeError):
        list(iter_batches(42, Execution, framing="delimited"))


PEAK = """
import sys
import flytecodec
from flytecodec import streaming
from flytecodec.models.execution import Execution

def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key))

streaming.CHUNK = 1 << 20
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = status("VmRSS:")
count = 0
with flytecodec.using_backend(sys.argv[2]):
    for batch in flytecodec.iter_batches(sys.argv[1], Execution, framing="delimited", batch_size=1000):
        count += len(batch)
        batch[len(batch) - 1].closure.phase
print(count, (status("VmHWM:") - before) * 1024)
"""


@pytest.mark.parametrize("name", flytecodec.available_backends())
def test_a_dump_many_batches_long_streams_in_bounded_memory(name, tmp_path):
    """A dump of 200 batches (120 MB): the peak memory grows by a fraction of the dump, not by the dump."""
    records = corpus.executions(2_000, seed=9)
    dump = tmp_path / "dump.bin"
    data = corpus.delimited(records)
    with open(dump, "wb") as f:
        for _ in range(100):
            f.write(data)
    size = os.path.getsize(dump)
    out = subprocess.run([sys.executable, "-c", PEAK, str(dump), name], capture_output=True, text=True, check=True)
    count, growth = map(int, out.stdout.split())
    assert count == 200_000
    assert growth < size / 4, f"{name}: peak grew by {growth / 1e6:.1f} MB streaming a {size / 1e6:.1f} MB dump"


def test_same_records_as_decoding_the_whole(backend, records):
    data = corpus.delimited(records)
    whole = decode(Execution, data, framing="delimited")
    streamed = [m for batch in iter_batches(data, Execution, framing="delimited", batch_size=999) for m in batch]
    assert [m.to_flyte_idl() for m in streamed] == [m.to_flyte_idl() for m in whole]
