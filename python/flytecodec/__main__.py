"""``python -m flytecodec [--dir DIR] [-n N]``: the demo — write a sample ExecutionList of N executions,
decode it to Parquet and summarize it (``flytecodec demo``; needs the ``cli`` extra)."""

import sys

from flytecodec.cli import main

if __name__ == "__main__":
    main(["demo", *sys.argv[1:]], prog_name="python -m flytecodec")
