"""``python -m flytecodec [N]``: decode a built-in sample of N executions and summarize it.

The sample is an ``ExecutionList`` response made by :mod:`flytecodec.testing.corpus`, written to a temporary
file and decoded from that path, as a pipeline would decode a saved admin page.
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import sys
import tempfile
import time

import flytecodec
from flytecodec.models.core.execution import WorkflowExecutionPhase


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flytecodec", description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=20_000, help="executions in the sample (20000)")
    args = parser.parse_args(argv)

    from flytecodec.testing import corpus

    data = corpus.execution_list(args.count, seed=0, token="sample").SerializeToString()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "executions.pb")
        with open(path, "wb") as f:
            f.write(data)
        start = time.perf_counter()
        batch = flytecodec.decode_executions(path, framing="list")
        phases = collections.Counter()
        seconds = []
        for execution in batch:
            closure = execution.closure
            phases[WorkflowExecutionPhase.enum_to_string(closure.phase)] += 1
            seconds.append(closure.duration.total_seconds())
        elapsed = time.perf_counter() - start

    print(f"decoded {len(batch)} executions ({len(data) / 1e6:.1f} MB) with the {flytecodec.backend()} backend")
    print(f"in {elapsed:.3f} s, reading phase and duration of each: {len(data) / 1e6 / elapsed:.1f} MB/s")
    print("executions by phase:")
    for phase, n in phases.most_common():
        print(f"  {phase:<12} {n:>8}")
    q = statistics.quantiles(seconds, n=100)
    print(f"duration p50 {q[49]:.1f} s, p90 {q[89]:.1f} s, p99 {q[98]:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
