"""``flytecodec bench``: a quick in-process comparison with flytekit and raw upb on a generated ExecutionList.

The same cases as ``benches/`` (pytest-benchmark), in one command: decode the response and read
``closure.phase``, ``closure.started_at``, ``closure.duration`` and ``id.name`` of every execution. Each
contender runs ``repeat`` times on the same bytes and its best time counts.
"""

from __future__ import annotations

import gc
import time
from typing import Callable, NamedTuple

import flytecodec

READ4 = "decode + read 4 fields"
DECODE = "decode only"
ARROW = "decode + to_arrow() (all columns)"


class Result(NamedTuple):
    case: str
    contender: str
    seconds: float  # the best run
    records: int

    @property
    def micros(self) -> float:
        """µs per record."""
        return self.seconds / self.records * 1e6


def corpus_bytes(n: int) -> bytes:
    """An ExecutionList of ``n`` generated executions, inline outputs moved to a uri so that flytekit can read
    it (:func:`flytecodec.testing.corpus.offload_inline_outputs`): every contender decodes the same bytes."""
    from flytecodec.testing import corpus

    return corpus.offload_inline_outputs(corpus.execution_list(n, seed=1, token="bench")).SerializeToString()


def _read_four(records) -> None:
    for r in records:
        closure = r.closure
        closure.phase, closure.started_at, closure.duration, r.id.name


def _best(run: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def contenders(data: bytes) -> list[tuple[str, str, Callable[[], object]]]:
    """``(case, contender, run)`` for every measurement."""
    from flyteidl.admin.execution_pb2 import ExecutionList
    from flytekit.models.execution import Execution as FlytekitExecution

    def flytekit() -> None:
        _read_four([FlytekitExecution.from_flyte_idl(e) for e in ExecutionList.FromString(data).executions])

    cases = [
        (READ4, "flytekit", flytekit),
        (READ4, "raw upb", lambda: _read_four(ExecutionList.FromString(data).executions)),
    ]
    backends = flytecodec.available_backends()
    for name in backends:
        cases.append((READ4, f"flytecodec {name}", _on(name, lambda: _read_four(_decode(data)))))
    cases.append((DECODE, "raw upb (parse only)", lambda: ExecutionList.FromString(data)))
    for name in backends:
        cases.append((DECODE, f"flytecodec {name}", _on(name, lambda: _decode(data))))
    for name in backends:
        cases.append((ARROW, f"flytecodec {name}", _on(name, lambda: _decode(data).to_arrow())))
    return cases


def _decode(data: bytes):
    return flytecodec.decode_executions(data, framing="list")


def _on(backend: str, run: Callable[[], object]) -> Callable[[], object]:
    def on_backend() -> object:
        with flytecodec.using_backend(backend):
            return run()

    return on_backend


def run(n: int, repeat: int, console) -> list[Result]:
    """Time every contender on ``n`` executions; ``console`` (rich, stderr) shows what is running."""
    with console.status(f"generating {n} executions"):
        data = corpus_bytes(n)
    with console.status("warming up"):  # one-time costs (imports, first calls) are not what is measured
        for _, _, job in contenders(corpus_bytes(20)):
            job()
    results = []
    for case, contender, job in contenders(data):
        with console.status(f"{case}: {contender}"):
            results.append(Result(case, contender, _best(job, repeat), n))
    return results


def _baseline(results: list[Result], contender: str) -> float | None:
    return next((r.seconds for r in results if r.case == READ4 and r.contender == contender), None)


def table(results: list[Result], repeat: int, *, what: str | None = None):
    """A rich table: µs per record and how many times faster than flytekit and raw upb reading 4 fields (for a
    dump, ``what`` names it: how many times faster than raw upb parsing it)."""
    from rich.table import Table

    if what is not None:
        return _dump_table(results, repeat, what)

    flytekit, upb = _baseline(results, "flytekit"), _baseline(results, "raw upb")
    n = results[0].records if results else 0
    out = Table(
        title=f"{n} executions, the best of {repeat} runs each",
        title_justify="left",
        caption="vs flytekit, vs raw upb: their time to decode and read 4 fields over this row's time "
        "(higher is faster)",
        caption_justify="left",
    )
    for name, justify in (("case", "left"), ("contender", "left"), ("µs / record", "right")):
        out.add_column(name, justify=justify)
    out.add_column("vs flytekit", justify="right")
    out.add_column("vs raw upb", justify="right")
    for r in results:
        ratios = [f"{base / r.seconds:.2f}x" if base and r.seconds else "" for base in (flytekit, upb)]
        out.add_row(r.case, r.contender, f"{r.micros:.2f}", *ratios)
    return out


def _dump_table(results: list[Result], repeat: int, what: str):
    from rich.table import Table

    upb = next((r.seconds for r in results if r.contender == "raw upb (parse only)"), None)
    out = Table(
        title=f"{what}, the best of {repeat} runs each",
        title_justify="left",
        caption="vs raw upb: raw upb's time to parse every record over this row's time (higher is faster)",
        caption_justify="left",
    )
    for name, justify in (("case", "left"), ("contender", "left"), ("µs / record", "right"), ("vs raw upb", "right")):
        out.add_column(name, justify=justify)
    for r in results:
        ratio = f"{upb / r.seconds:.2f}x" if upb and r.seconds else ""
        out.add_row(r.case, r.contender, f"{r.micros:.2f}" if r.records else "", ratio)
    return out


_COLOURS = {"flytekit": "#8c8c8c", "raw": "#d08c3c"}  # by the contender's first word; flytecodec in blue


def chart(results: list[Result], path: str, what: str | None = None) -> None:
    """A horizontal bar chart of µs per record, one bar per measurement, written as PNG to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    labels = [f"{r.case}\n{r.contender}" for r in results]
    figure, axes = plt.subplots(figsize=(9, 0.55 * len(results) + 1.2))
    colours = [_COLOURS.get(r.contender.split()[0], "#3b6ea8") for r in results]
    bars = axes.barh(range(len(results)), [r.micros for r in results], color=colours)
    axes.bar_label(bars, labels=[f"{r.micros:.2f}" for r in results], padding=3, fontsize=8)
    axes.set_yticks(range(len(results)), labels, fontsize=8)
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.set_xlabel("µs per record (log scale; lower is faster)")
    n = results[0].records if results else 0
    axes.set_title(f"flytecodec bench: {what or f'{n} executions'}")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


# -- on the user's own dump ---------------------------------------------------------------------------------------


def dump_contenders(payloads: list[bytes], model: type, framing: str) -> list[tuple[str, str, Callable[[], object]]]:
    """``(case, contender, run)`` for a dump already in memory (``payloads``: its files' bytes): raw upb parsing
    every record, and flytecodec decoding (and building every column) on each backend."""
    from flytecodec import _guess

    pb = model._pb_class
    if framing == "list":
        from flytecodec.bulk import list_message_for

        response = list_message_for(model)[0]

        def upb() -> object:
            return [response.FromString(data) for data in payloads]

    else:
        # the records, framed beforehand: upb parses messages, it does not read a delimited stream
        records = (
            payloads
            if framing == "message"
            else [r for data in payloads for r in _guess.split(data, "delimited", limit=len(data))]
        )

        def upb() -> object:
            return [pb.FromString(record) for record in records]

    def decode() -> list:
        return decode_dump(payloads, model, framing)

    cases = [(DECODE, "raw upb (parse only)", upb)]
    backends = flytecodec.available_backends()
    cases += [(DECODE, f"flytecodec {name}", _on(name, decode)) for name in backends]
    for name in backends:
        cases.append((ARROW, f"flytecodec {name}", _on(name, lambda: [batch.to_arrow() for batch in decode()])))
    return cases


def decode_dump(payloads: list[bytes], model: type, framing: str) -> list:
    """The batches of a dump in memory: one per file, or one of all the files with ``message`` framing."""
    if framing == "message":
        return [flytecodec.decode(model, payloads)]
    return [flytecodec.decode(model, data, framing=framing) for data in payloads]


def run_dump(payloads: list[bytes], model: type, framing: str, repeat: int, console) -> list[Result]:
    """Time every contender of :func:`dump_contenders`; ``console`` (rich, stderr) shows what is running."""
    records = sum(len(batch) for batch in decode_dump(payloads, model, framing))
    results = []
    for case, contender, job in dump_contenders(payloads, model, framing):
        with console.status(f"{case}: {contender}"):
            job()  # once to warm up
            results.append(Result(case, contender, _best(job, repeat), records))
    return results
