"""Write the seed corpora of the fuzz targets (``fuzz/corpus/framing``, ``wire``, ``columns``), deterministically.

Seeds are small realistic records from ``flytecodec.testing.corpus`` (the smallest of each kind, so the corpora
stay well under 1 MB and each execution stays fast), framed every way, plus truncations and the malformed
variants of ``tests/support/malformed.py``. A ``framing`` seed starts with the selector byte ``src/lib.rs`` reads:
bits 0-1 the record message, bits 2-3 the framing, bits 4-7 all set to amplify; a ``columns`` seed starts with
one that picks the record message (its value modulo 6, in ``COLUMN_ROOTS`` order) and, in bits 3-7, the field
boundary where the record is split. Run from the repository root:
``python fuzz/seed_corpus.py``.
"""

from __future__ import annotations

import hashlib
import random
import sys
from pathlib import Path

from flyteidl.admin import execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import literals_pb2

from flytecodec.testing import corpus

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "tests"))
from support import malformed as mf  # noqa: E402

LIST, DELIMITED, MESSAGE, SWAPPED_LIST = 0, 4, 8, 12
AMPLIFY = 0xF0
EXECUTION, NODE, TASK, CLOSURE = 0, 1, 2, 3


def smallest(records: list, k: int) -> list[bytes]:
    raws = sorted((r.SerializeToString(deterministic=True) for r in records), key=len)
    return raws[:k]


def ld(number: int, payload: bytes) -> bytes:
    return corpus.varint(number << 3 | 2) + corpus.varint(len(payload)) + payload


def delimited(raws: list[bytes]) -> bytes:
    return b"".join(corpus.varint(len(r)) + r for r in raws)


def write(target: str, seeds: list[bytes]) -> None:
    out = ROOT / "corpus" / target
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        old.unlink()
    for seed in dict.fromkeys(seeds):  # unique, in order
        (out / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
    total = sum(len(s) for s in seeds)
    print(f"{target}: {len(dict.fromkeys(seeds))} seeds, {total} bytes")


def main() -> None:
    rng = random.Random(20_240_601)
    kinds = {
        EXECUTION: (smallest(corpus.executions(200, 7), 3), execution_pb2.Execution),
        NODE: (smallest(corpus.node_executions(200, 7), 3), node_execution_pb2.NodeExecution),
        TASK: (smallest(corpus.task_executions(200, 7), 3), task_execution_pb2.TaskExecution),
    }
    closures = smallest([e.closure for e in corpus.executions(200, 7)], 3)
    kinds[CLOSURE] = (closures, execution_pb2.ExecutionClosure)

    framing: list[bytes] = []
    wire: list[bytes] = []
    for k, (raws, pb) in kinds.items():
        one, two = raws[0], raws[:2]
        listed = b"".join(ld(1, r) for r in two)
        framing += [
            bytes([k | LIST]) + listed + ld(2, b"next-page"),
            bytes([k | LIST]) + ld(1, one),
            bytes([k | LIST]) + ld(2, b"\xff"),  # a page token that is not UTF-8
            bytes([k | SWAPPED_LIST]) + ld(2, one) + ld(1, b"t"),
            bytes([k | DELIMITED]) + delimited(two),
            bytes([k | DELIMITED]) + delimited([b"", one]),
            bytes([k | MESSAGE]) + one,
            bytes([k | AMPLIFY | DELIMITED]) + delimited([b"", ld(1, b"")]),
            bytes([k | AMPLIFY | LIST]) + ld(1, b"") * 3,
        ]
        for raw in (bytes([k | LIST]) + listed, bytes([k | DELIMITED]) + delimited(two)):
            framing += [raw[: len(raw) // 2], raw[:-1]]  # cut inside a record, and just before the end
        wire += [*raws, one[: len(one) // 3]]
        # malformed records from the differential tests' mutators, as records and as whole inputs
        desc = pb.DESCRIPTOR
        for _ in range(4):
            tree = mf.parse(desc, one)
            mutation = rng.choice(mf.TREE_MUTATIONS)
            if mutation(rng, tree, desc) is None:
                continue
            bad = mf.serialize(tree)
            framing.append(bytes([k | rng.choice((LIST, DELIMITED, MESSAGE))]) + (ld(1, bad) if k != CLOSURE else bad))
            wire.append(bad)
        bad, _ = mf.byte_mutation(rng, one, desc, [])
        wire.append(bad)

    # nesting right at upb's depth limit (Literal -> LiteralCollection -> Literal ...), and groups
    def chain(levels: int) -> bytes:
        b = b""
        for j in reversed(range(levels)):
            b = ld(2 if j % 2 == 0 else 1, b)
        return b

    literal = literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=7)))
    wire += [
        chain(100),
        chain(101),
        literal.SerializeToString(),
        mf.nested_groups(100),
        mf.nested_groups(101),
        b"\x13\x08\x01\x14",
        b"\x12\x80\x80\x80\x80\x80\x00",
        b"\x80\x80\x80\x80\x10\x01",
        b"\xff" * 11,
    ]
    framing += [bytes([EXECUTION | LIST]) + mf.nested_groups(99), bytes([EXECUTION | DELIMITED]) + b"\xff" * 11]
    write("framing", framing)
    write("wire", wire)
    write("columns", column_seeds(rng))


def column_seeds(rng: random.Random) -> list[bytes]:
    """Realistic records of each ``columns`` root (``COLUMN_ROOTS`` in src/lib.rs), split at varied fields."""
    executions = corpus.executions(200, 7)
    nodes = corpus.node_executions(200, 7)
    tasks = corpus.task_executions(200, 7)
    roots = [
        executions,
        nodes,
        tasks,
        [e.closure for e in executions],
        [n.closure for n in nodes],
        [t.closure for t in tasks],
    ]
    seeds = []
    for k, records in enumerate(roots):
        raws = sorted((r.SerializeToString(deterministic=True) for r in records), key=len)
        for raw in (*raws[:3], raws[len(raws) // 2]):
            seeds.append(bytes([k + 6 * rng.randrange(42)]) + raw)
        seeds.append(bytes([k]))  # the empty message
    return seeds


if __name__ == "__main__":
    main()
