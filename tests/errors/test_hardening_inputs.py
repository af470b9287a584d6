"""Issue 10, "Hardening, round two": the decoding faults and traps, each pinned by a test that failed before its fix;
here the inputs: bad length prefixes in streams, an mmap of a truncated file, errors that say what to do,
compressed dumps, directories of pages, rows with NULLs and batches that combine.

Every test runs on both backends (the ``backend`` fixture) or compares them directly.
"""

from __future__ import annotations

import gzip
import io
import operator
import os
import pickle

import pytest
from flyteidl.admin import execution_pb2

import flytecodec
from flytecodec import DecodeError, decode, iter_batches
from flytecodec.models.execution import Execution, ExecutionClosure
from support import malformed as mf
from support.bad_inputs import BOTH, decode_error

# -- records for the stream tests ------------------------------------------------------------------------------


def _records(n: int = 30) -> list[bytes]:
    from flytecodec.testing import corpus

    return [r.SerializeToString() for r in corpus.executions(n, 7)]


def _delimited(records: list[bytes]) -> bytes:
    return b"".join(mf.varint(len(r)) + r for r in records)


def _listed(records: list[bytes], token: str = "") -> bytes:
    out = b"".join(mf.ld(1, r) for r in records)
    return out + (mf.ld(2, token.encode()) if token else b"")


# -- 6. one bad length prefix fails at once -------------------------------------------------------------------


class _CountingStream(io.BytesIO):
    """A binary stream that counts the bytes read from it, and hides its size (like a pipe) when asked."""

    def __init__(self, data: bytes, seekable: bool = True):
        super().__init__(data)
        self.read_bytes = 0
        self._seekable = seekable

    def seekable(self) -> bool:
        return self._seekable

    def read(self, size=-1):
        data = super().read(size)
        self.read_bytes += len(data)
        return data


@pytest.mark.parametrize("seekable", [True, False])
@pytest.mark.parametrize(
    ("prefix", "reason"),
    [
        ("ffffffffffffffff3f", "length prefix claims"),
        ("ff" * 10 + "01", "bad length prefix: varint is longer than 10 bytes"),
    ],
)
def test_a_huge_length_prefix_fails_without_reading_the_rest(backend, monkeypatch, seekable, prefix, reason):
    import flytecodec.streaming as streaming

    monkeypatch.setattr(streaming, "CHUNK", 1024)
    records = _records(200)
    head = _delimited(records[:8])
    stream = head + bytes.fromhex(prefix) + _delimited(records[8:])
    assert len(stream) > 50 * 1024
    counting = _CountingStream(stream, seekable)
    seen = []
    with pytest.raises(DecodeError) as info:
        for batch in iter_batches(counting, Execution, framing="delimited", batch_size=5):
            seen.append(len(batch))
    assert seen == [5, 3]  # the records before the bad prefix, then the error
    assert (info.value.index, info.value.offset) == (8, len(head))
    assert reason in info.value.reason
    assert counting.read_bytes <= len(head) + 2 * 1024  # up to the chunk holding the prefix, and no more


def test_a_length_prefix_past_the_end_of_a_file_fails_at_once(backend, monkeypatch, tmp_path):
    import flytecodec.streaming as streaming

    monkeypatch.setattr(streaming, "CHUNK", 4096)
    records = _records(200)
    head = _delimited(records[:3])
    stream = head + mf.varint(10_000_000) + _delimited(records[3:])
    path = tmp_path / "dump.bin"
    path.write_bytes(stream)
    with pytest.raises(DecodeError) as info:
        list(iter_batches(path, Execution, framing="delimited"))
    e = info.value
    assert (e.index, e.offset) == (3, len(head))
    left = len(stream) - len(head) - len(mf.varint(10_000_000))
    assert e.reason == f"{path}: length prefix claims 10000000 bytes but {left} remain"
    assert "ends inside record 3" in e.hint


# -- 9. (see above) -- 10. an mmap of a truncated file ------------------------------------------------------

_MMAP_SCRIPT = """
import mmap, os, sys
import flytecodec
from flytecodec.models.execution import Execution
flytecodec.set_backend(sys.argv[2])
path = sys.argv[1]
with open(path, "r+b") as f:
    m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    os.truncate(path, 10)
    for call in (
        lambda: flytecodec.decode(Execution, m, framing="delimited"),
        lambda: list(flytecodec.iter_batches(m, Execution, framing="delimited")),
        lambda: flytecodec.decode(Execution, [m]),
    ):
        try:
            call()
        except flytecodec.DecodeError as e:
            print("refused:", e.reason)
"""


@pytest.mark.parametrize("name", BOTH)
def test_an_mmap_of_a_truncated_file_is_refused_not_a_crash(tmp_path, name):
    import subprocess
    import sys

    path = tmp_path / "dump.bin"
    path.write_bytes(_delimited(_records(200)))
    assert os.path.getsize(path) > 3 * mmap_page()
    run = subprocess.run(
        [sys.executable, "-c", _MMAP_SCRIPT, str(path), name], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, (run.returncode, run.stderr)  # -7 is SIGBUS
    lines = run.stdout.splitlines()
    assert len(lines) == 3 and all("truncated after it was mapped" in line for line in lines), run.stdout


def mmap_page() -> int:
    import mmap

    return mmap.PAGESIZE


# -- 12. errors say what to do -------------------------------------------------------------------------------


def test_wrong_framing_gets_a_hint(backend):
    records = _records(5)
    e = decode_error(Execution, _delimited(records), "list")
    assert e.hint == "framing='delimited' reads this input (5 records): is framing='list' the right one?"
    assert "(hint: framing='delimited'" in str(e)
    e = decode_error(Execution, _listed(records), "delimited")
    assert e.hint == "framing='list' reads this input (5 records): is framing='delimited' the right one?"


def test_truncated_input_says_where_it_ends(backend):
    data = _delimited(_records(5))
    e = decode_error(Execution, data[:-7], "delimited")
    assert e.index == 4
    assert e.hint == "the input ends inside record 4: is it truncated?"
    data = _listed(_records(5))
    e = decode_error(Execution, data[:-7], "list")
    assert e.reason == "length runs past the end of the input"
    assert e.hint.startswith(f"the input ends inside the field at byte offset {e.offset}")


def test_json_input_gets_a_hint(backend):
    text = b'{"executions": [{"id": {"project": "p"}}]}'
    for framing in ("list", "delimited"):
        e = decode_error(Execution, text, framing)
        assert e.hint.startswith("this looks like JSON, not binary protobuf"), e.hint
        assert "json_format.Parse(text, Execution())" in e.hint


def test_compressed_bytes_get_a_hint(backend):
    data = gzip.compress(_delimited(_records(3)))
    e = decode_error(Execution, data, "delimited")
    assert e.hint.startswith("this is gzip-compressed data")


def _zstd(data: bytes) -> bytes:
    zstandard = pytest.importorskip("zstandard")
    return zstandard.ZstdCompressor().compress(data)


@pytest.mark.parametrize("compress", [gzip.compress, _zstd])
def test_compressed_dumps_are_read_transparently(backend, tmp_path, compress, monkeypatch):
    import flytecodec.streaming as streaming

    monkeypatch.setattr(streaming, "CHUNK", 1024)
    records = _records(40)
    path = tmp_path / "dump.bin.z"
    path.write_bytes(compress(_delimited(records)))
    got = [m.serialize_to_string() for b in iter_batches(path, Execution, framing="delimited", batch_size=7) for m in b]
    assert got == records
    assert [m.serialize_to_string() for m in decode(Execution, path, framing="delimited")] == records
    with open(path, "rb") as f:
        assert len(decode(Execution, f, framing="delimited")) == 40
    page = tmp_path / "page.z"
    page.write_bytes(compress(_listed(records, "t")))
    assert decode(Execution, page, framing="list").token == "t"
    damaged = tmp_path / "damaged.z"
    damaged.write_bytes(compress(_delimited(records)[:-3]))
    with pytest.raises(DecodeError) as info:
        list(iter_batches(damaged, Execution, framing="delimited"))
    assert info.value.index == 39 and str(damaged) in info.value.reason


def test_zstd_without_the_package_says_what_to_install(backend, tmp_path, monkeypatch):
    import sys

    path = tmp_path / "dump.zst"
    path.write_bytes(bytes.fromhex("28b52ffd") + b"\x00" * 8)
    monkeypatch.setitem(sys.modules, "zstandard", None)
    with pytest.raises(DecodeError, match="install the zstandard package"):
        list(iter_batches(path, Execution, framing="delimited"))
    with pytest.raises(DecodeError, match="install the zstandard package"):
        decode(Execution, path, framing="delimited")


# -- 14. directories -----------------------------------------------------------------------------------------


def _pages(tmp_path, count: int = 12):
    records = _records(count * 2)
    for k in range(count):
        (tmp_path / f"page-{k + 1}.pb").write_bytes(_listed(records[2 * k : 2 * k + 2], f"t{k + 1}"))
    return records


def test_directory_files_in_natural_order_and_by_glob(tmp_path):
    from flytecodec.streaming import directory_files

    for name in ("page-10.pb", "page-2.pb", "page-1.pb", "README.txt", "page-02.pb"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    names = [os.path.basename(p) for p in directory_files(tmp_path)]
    assert names == ["README.txt", "page-1.pb", "page-02.pb", "page-2.pb", "page-10.pb"]
    assert [os.path.basename(p) for p in directory_files(tmp_path, "*.pb")][-1] == "page-10.pb"
    assert "README.txt" not in [os.path.basename(p) for p in directory_files(tmp_path, glob="page-*")]


def test_a_directory_of_pages_is_read_in_natural_order(backend, tmp_path):
    records = _pages(tmp_path)
    batches = list(iter_batches(tmp_path, Execution, framing="list"))
    assert [b.token for b in batches] == [f"t{k}" for k in range(1, 13)]
    whole = decode(Execution, tmp_path, framing="list")
    assert [m.serialize_to_string() for m in whole] == records and whole.token == "t12"
    assert len(flytecodec.decode_executions(str(tmp_path) + os.sep, framing="list")) == 24


def test_a_stray_file_in_a_directory_is_named_and_globbed_out(backend, tmp_path):
    records = _pages(tmp_path, 3)
    (tmp_path / "README.txt").write_bytes(b"These are the pages of a listing.\n")
    with pytest.raises(DecodeError) as info:
        decode(Execution, tmp_path, framing="list")
    assert info.value.reason.startswith(str(tmp_path / "README.txt") + ": ")
    assert len(decode(Execution, tmp_path, framing="list", glob="*.pb")) == len(records)
    assert sum(len(b) for b in iter_batches(tmp_path, Execution, framing="list", glob="page-*")) == len(records)


def test_an_empty_file_is_an_error_with_message_framing(backend, tmp_path):
    empty = tmp_path / "b-empty.pb"
    empty.write_bytes(b"")
    (tmp_path / "a-one.pb").write_bytes(_records(1)[0])
    with pytest.raises(DecodeError) as info:
        list(iter_batches(tmp_path, Execution, framing="message"))
    assert info.value.index == 1 and info.value.reason.startswith(f"{empty}: the file is empty")
    with pytest.raises(DecodeError, match="the file is empty"):
        decode(Execution, empty, framing="message")
    assert len(decode(Execution, b"", framing="message")) == 1  # empty bytes: protobuf's empty message


# -- 15. rows with NULLs --------------------------------------------------------------------------------------


def test_null_rows(backend):
    closure = execution_pb2.ExecutionClosure(phase=4).SerializeToString()
    rows = [closure, None, closure]
    e = decode_error(ExecutionClosure, rows)
    assert e.index == 1 and "on_null='skip'" in e.reason
    assert [m.phase for m in decode(ExecutionClosure, rows, on_null="skip")] == [4, 4]
    assert [m.phase for m in decode(ExecutionClosure, rows, on_null="empty")] == [4, 0, 4]
    with pytest.raises(ValueError, match="on_null"):
        decode(ExecutionClosure, rows, on_null="ignore")


# -- 16. batches combine -------------------------------------------------------------------------------------


def test_concat_and_add(backend):
    records = _records(6)
    a = decode(Execution, _listed(records[:2], "p2"), framing="list")
    b = decode(Execution, _delimited(records[2:]), framing="delimited")
    kept = a[1]
    joined = flytecodec.concat([a, b])
    assert len(joined) == 6 and joined[1] is kept and joined.token == ""
    assert [m.serialize_to_string() for m in joined] == records
    assert [m.serialize_to_string() for m in a + b] == records
    assert flytecodec.concat([b, a]).token == "p2"
    again = pickle.loads(pickle.dumps(joined))
    assert [m.serialize_to_string() for m in again] == records
    assert len(flytecodec.concat([], model=Execution)) == 0
    with pytest.raises(TypeError):
        flytecodec.concat([a, decode(ExecutionClosure, [b""])])
    with pytest.raises(TypeError):
        operator.add(a, 1)


def test_a_sequence_of_pages_with_list_framing(backend):
    records = _records(6)
    pages = [_listed(records[:2], "2"), _listed(records[2:5], "5"), _listed(records[5:], "")]
    batch = decode(Execution, pages, framing="list")
    assert [m.serialize_to_string() for m in batch] == records and batch.token == ""
    bad = [pages[0], _listed(records[2:4]) + b"\x0a\x05"]
    e = decode_error(Execution, bad, "list")
    assert (e.index, e.offset) == (4, len(_listed(records[2:4])))
    assert e.reason == "page 1: length runs past the end of the input"
