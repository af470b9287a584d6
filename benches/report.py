"""Turn a pytest-benchmark JSON run of benches/ into the README's table: seconds per record and ratios.

    python benches/report.py .benchmarks/run.json

Each group's contenders ran in the same process on the same bytes; a ratio is the contender's median time
divided by flytecodec's (so "flytekit / ours = 8.0" means flytecodec is 8 times faster).
"""

from __future__ import annotations

import json
import platform
import sys


def main(path: str) -> None:
    with open(path) as f:
        run = json.load(f)
    machine = run["machine_info"]
    groups: dict = {}
    for bench in run["benchmarks"]:
        groups.setdefault(bench["group"], {})[bench["name"]] = bench["stats"]["median"]
    print(
        f"Machine: {machine.get('cpu', {}).get('brand_raw', platform.processor())}, "
        f"{machine.get('cpu', {}).get('count', '?')} cores, Python {machine['python_version']}; "
        f"{run['datetime'][:10]}"
    )
    print()
    print("| case | contender | median (s) | flytekit (protarrow) / it | upb parse / it |")
    print("|---|---|---|---|---|")
    for group, times in groups.items():
        # the baseline: flytekit, or protarrow in its own group
        flytekit = next((t for name, t in times.items() if name.endswith(("flytekit", "protarrow"))), None)
        upb = next((t for name, t in times.items() if "upb" in name), None)
        for name, t in sorted(times.items(), key=lambda kv: kv[1]):
            contender = name.split("[")[-1].rstrip("]") if "[" in name else name.rsplit("_", 1)[-1]
            contender = {"native": "flytecodec native", "python": "flytecodec python"}.get(contender, contender)
            if name.startswith("test_gil_"):
                contender = {
                    "test_gil_one_thread_twice": "one thread, two decodes",
                    "test_gil_two_threads": "two threads, one decode each",
                }[name]
                serial = times.get("test_gil_one_thread_twice")
                if serial:
                    print(f"| {group} | {contender} | {t:.4f} | serial / it: {serial / t:.2f}x | |")
                continue
            if "rust_threads" in name:
                threads = name.split("[")[-1].rstrip("]")
                contender = f"Rust split + validate, {threads} thread{'s' if threads != '1' else ''}"
            elif "upb" in name:
                contender = "raw upb (parse only)"
            elif name.endswith("_1thread"):
                contender = "flytecodec native, 1 thread"
            elif name.endswith(("flytekit", "protarrow")):
                contender = name.rsplit("_", 1)[-1]
            elif name.endswith("flytecodec"):
                contender = "flytecodec"
            ratio_fk = f"{flytekit / t:.1f}x" if flytekit else ""
            ratio_upb = f"{upb / t:.2f}x" if upb else ""
            print(f"| {group} | {contender} | {t:.4f} | {ratio_fk} | {ratio_upb} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".benchmarks/run.json")
