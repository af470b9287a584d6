"""Peak memory of decoding (case 8): ``python benches/memory.py [N] [backend]``.

Decodes an ExecutionList of N generated executions (default 100 000) in a fresh process and prints the peak
resident set size above what the process held with the input loaded (Linux ``VmHWM`` after resetting it
through ``/proc/self/clear_refs``), as a multiple of the input size. Rust allocations count here.
"""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import gc, sys
import flytecodec

def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key))

data = open(sys.argv[1], "rb").read()
gc.collect()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak (VmHWM) to the current resident size
before = status("VmRSS:")
with flytecodec.using_backend(sys.argv[2]):
    batch = flytecodec.decode_executions(data, framing="list")
print(len(batch), before, status("VmHWM:"))
"""


def main() -> None:
    import tempfile

    from flytecodec.testing import corpus

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    backends = sys.argv[2:] or ["native", "python"]
    data = corpus.execution_list(n, seed=1).SerializeToString()
    with tempfile.NamedTemporaryFile(suffix=".pb") as f:
        f.write(data)
        f.flush()
        for backend in backends:
            out = subprocess.run([sys.executable, "-c", CHILD, f.name, backend], capture_output=True, text=True)
            if out.returncode:
                print(f"{backend}: failed: {out.stderr.strip().splitlines()[-1]}")
                continue
            records, before, after = map(int, out.stdout.split())
            extra = (after - before) * 1024
            print(
                f"{backend}: {records} executions, input {len(data) / 1e6:.1f} MB, peak RSS above the loaded input "
                f"{extra / 1e6:.1f} MB = {extra / len(data):.2f}x the input"
            )


if __name__ == "__main__":
    main()
