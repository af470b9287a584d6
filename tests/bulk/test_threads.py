"""Decoding and reading models from many Python threads at once gives exactly what a serial run gives.

The native backend validates records without the GIL (and on its own Rust threads) and its properties read
bytes shared by every model of a batch; the python backend shares upb messages. These tests run 8 Python
threads over the same and over different inputs — ``list``, ``delimited`` and sequence framings of executions,
node executions and task executions from :mod:`flytecodec.testing.corpus` — and compare everything each thread
sees (every property, recursively; ``to_flyte_idl()``; ``serialize_to_string()``; ``len`` and ``token``) with a
serial run made beforehand, on every available backend (the ``backend`` fixture of ``tests/conftest.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest

import flytecodec
from flytecodec.models._entity import FlyteIdlEntity
from flytecodec.models.admin.task_execution import TaskExecution
from flytecodec.models.execution import Execution
from flytecodec.models.node_execution import NodeExecution
from flytecodec.testing import corpus
from support.oracle import properties

THREADS = 8
TIMEOUT = 60  # seconds a thread may take before the test calls it hung
N = 40  # records per input (each thread reads all of every record: about 0.5 ms a record)


class Input(NamedTuple):
    name: str
    model: type
    data: Any  # bytes, or a list of bytes for the sequence framing
    framing: str | None


def _inputs() -> list[Input]:
    kinds = (
        ("executions", Execution, corpus.executions, corpus.execution_list, 11),
        ("node_executions", NodeExecution, corpus.node_executions, corpus.node_execution_list, 12),
        ("task_executions", TaskExecution, corpus.task_executions, corpus.task_execution_list, 13),
    )
    out = []
    for name, model, records, page, seed in kinds:
        messages = records(N, seed)
        out.append(Input(f"{name}/list", model, page(N, seed, f"token-{name}").SerializeToString(), "list"))
        out.append(Input(f"{name}/delimited", model, corpus.delimited(messages), "delimited"))
        items = [m.SerializeToString(deterministic=True) for m in messages]
        out.append(Input(f"{name}/sequence", model, items, None))
    return out


INPUTS = _inputs()

# -- a model's observable state as plain values ---------------------------------------------------------------


def snapshot(value: Any) -> Any:
    """``value`` with every model replaced by the snapshots of all its properties, recursively: comparable with
    ``==`` (floats by ``repr``, so NaN and -0.0 compare as themselves), holding no model."""
    if isinstance(value, FlyteIdlEntity) and hasattr(type(value), "_all_fields"):
        return (type(value).__name__, tuple((name, _read(value, name)) for name in properties(type(value))))
    if isinstance(value, list):
        return [snapshot(v) for v in value]
    if isinstance(value, dict):
        return {k: snapshot(v) for k, v in value.items()}
    if isinstance(value, float):
        return ("float", repr(value))
    return value


def _read(obj: Any, name: str) -> Any:
    try:
        value = getattr(obj, name)
    except Exception as e:  # a property may raise (e.g. a flytekit extra on an unset oneof): raise the same always
        return ("raises", type(e).__name__, str(e))
    return snapshot(value)


def record_state(model: FlyteIdlEntity) -> tuple:
    """Everything a caller can see of a record: properties, ``to_flyte_idl()`` and ``serialize_to_string()``."""
    idl = model.to_flyte_idl()
    return snapshot(model), idl.SerializeToString(deterministic=True), model.serialize_to_string()


def batch_state(batch) -> tuple:
    return len(batch), batch.token, [record_state(m) for m in batch]


def decode_state(item: Input) -> tuple:
    return batch_state(flytecodec.decode(item.model, item.data, framing=item.framing))


# -- running threads -------------------------------------------------------------------------------------------


def run_threads(targets: list[Callable[[], None]]) -> None:
    """Start ``targets`` each on its own thread, released together by a barrier; re-raise the first failure."""
    barrier = threading.Barrier(len(targets))
    errors: list[BaseException] = []

    def run(target):
        try:
            barrier.wait(TIMEOUT)
            target()
        except BaseException as e:  # reported in the main thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(t,), name=f"decoder-{i}") for i, t in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a thread did not finish (deadlock?)"
    if errors:
        raise errors[0]


@pytest.fixture(scope="module")
def serial_states() -> dict[str, dict[str, tuple]]:
    """Per backend, per input: the batch state of a serial decode, made before any thread runs."""
    states = {}
    for name in flytecodec.available_backends():
        with flytecodec.using_backend(name):
            states[name] = {item.name: decode_state(item) for item in INPUTS}
    return states


def test_serial_reference_is_meaningful(serial_states):
    """The reference itself: every input decoded to N records, the backends agree, and the list token is kept."""
    for states in serial_states.values():
        for item in INPUTS:
            count, token, records = states[item.name]
            assert count == len(records) == N
            assert token == (f"token-{item.name.split('/')[0]}" if item.framing == "list" else "")
    backends = list(serial_states)
    for other in backends[1:]:
        assert serial_states[other] == serial_states[backends[0]]


# -- 1. 8 threads decode different and identical inputs at once ----------------------------------------------


def test_threads_decode_and_read(backend, serial_states):
    """Each thread decodes every input (in a rotated order, so at any moment threads decode both the same and
    different inputs), reads every property and serializes every record, twice; all equal the serial run."""
    expected = serial_states[backend]
    seen: list[list[str]] = [[] for _ in range(THREADS)]

    def worker(i: int) -> Callable[[], None]:
        def run():
            order = INPUTS[i % len(INPUTS) :] + INPUTS[: i % len(INPUTS)]
            for _ in range(2):
                for item in order:
                    state = decode_state(item)
                    assert state == expected[item.name], f"thread {i}: {item.name} differs from the serial decode"
                    seen[i].append(item.name)

        return run

    run_threads([worker(i) for i in range(THREADS)])
    assert all(len(names) == 2 * len(INPUTS) for names in seen)


def test_threads_decode_identical_input(backend, serial_states):
    """All 8 threads decode the very same buffer object together, repeatedly, and iterate the batch."""
    item = INPUTS[0]  # executions/list
    expected = serial_states[backend][item.name]

    def run():
        for _ in range(3):
            assert decode_state(item) == expected

    run_threads([run] * THREADS)


# -- 2. many threads read the SAME models: first reads race ---------------------------------------------------


@pytest.mark.parametrize("item", INPUTS, ids=[i.name for i in INPUTS])
def test_threads_first_reads_on_shared_models(backend, serial_states, item):
    """Fresh models (made by indexing, so every thread holds the same objects, no property read yet) are read by
    8 threads at once: each property's first read — which converts the field and caches it in the model — races
    with the others. Every thread must see the serial values; afterwards the models still give them."""
    expected = serial_states[backend][item.name][2]
    for _ in range(2):
        batch = flytecodec.decode(item.model, item.data, framing=item.framing)
        models = [batch[i] for i in range(len(batch))]  # kept by the batch: batch[i] is batch[i]
        results: list[list | None] = [None] * THREADS

        def reader(i: int, models: list = models, results: list = results) -> Callable[[], None]:
            def run():
                # half the threads walk forwards, half backwards, so first reads meet in the middle too
                order = range(len(models)) if i % 2 == 0 else range(len(models) - 1, -1, -1)
                got = {j: record_state(models[j]) for j in order}
                results[i] = [got[j] for j in range(len(models))]

            return run

        run_threads([reader(i) for i in range(THREADS)])
        for i, got in enumerate(results):
            assert got == expected, f"thread {i} read values that differ from a serial read"
        assert [record_state(batch[j]) for j in range(len(batch))] == expected
        assert all(batch[j] is models[j] for j in range(len(batch)))


def test_threads_race_on_batch_indexing(backend, serial_states):
    """8 threads index a fresh batch (the first ``batch[i]`` makes and keeps the model) and read it at once."""
    item = INPUTS[3]  # node_executions/list
    expected = serial_states[backend][item.name][2]
    batch = flytecodec.decode(item.model, item.data, framing=item.framing)
    results: list[list | None] = [None] * THREADS

    def reader(i: int) -> Callable[[], None]:
        def run():
            results[i] = [record_state(batch[j]) for j in range(len(batch))]

        return run

    run_threads([reader(i) for i in range(THREADS)])
    assert all(got == expected for got in results)
    assert all(batch[j] is batch[j] for j in range(len(batch)))


# -- 3. one thread decodes while another reads an already-decoded batch ---------------------------------------


def test_decode_while_another_thread_reads(backend, serial_states):
    """A decoder thread decodes a large list page (native: the GIL released, Rust threads busy) over and over
    while reader threads read every property of batches decoded before it started; nothing interferes."""
    big = corpus.execution_list(3_000, seed=5, token="big").SerializeToString()
    big_count = 3_000
    rounds = 15 if backend == "native" else 8
    decoded = {item.name: flytecodec.decode(item.model, item.data, framing=item.framing) for item in INPUTS}
    stop = threading.Event()
    decodes: list[int] = []

    def decoder():
        try:
            for _ in range(rounds):
                batch = flytecodec.decode_executions(big, framing="list")
                assert len(batch) == big_count and batch.token == "big"
                assert batch[big_count - 1].id.name and batch[0].closure.phase is not None
                decodes.append(1)
        finally:
            stop.set()

    def reader(names: list[str]) -> Callable[[], None]:
        def run():
            passes = 0
            while not stop.is_set() or passes == 0:
                for name in names:
                    assert batch_state(decoded[name]) == serial_states[backend][name], name
                passes += 1

        return run

    names = [item.name for item in INPUTS]
    run_threads([decoder, reader(names[0::2]), reader(names[1::2])])
    assert len(decodes) == rounds
