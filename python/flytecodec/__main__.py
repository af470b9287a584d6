"""``python -m flytecodec``: the ``flytecodec`` command (needs the ``cli`` extra).

``python -m flytecodec decode ...`` (or any other subcommand: ``stats``, ``export``, ...) runs it; without
one (``python -m flytecodec``, ``python -m flytecodec --dir DIR -n N``) it runs the demo: write a sample
ExecutionList, decode it to Parquet and summarize it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from flytecodec.cli import COMMANDS, main

GROUP_FLAGS = ("-h", "--help", "--version")  # options of the command itself that stand alone


def arguments(argv: Sequence[str]) -> list[str]:
    """``argv`` with ``demo`` put after the command's own options when it names no subcommand."""
    argv = list(argv)
    position = 0
    while position < len(argv):  # the command's own options: --backend NAME, --backend=NAME
        word = argv[position]
        if word == "--backend":
            position += 2
        elif word.startswith("--backend="):
            position += 1
        else:
            break
    rest = argv[position:]
    if rest and (rest[0] in COMMANDS or rest[0] in GROUP_FLAGS):
        return argv
    return [*argv[:position], "demo", *rest]


if __name__ == "__main__":
    main(arguments(sys.argv[1:]), prog_name="python -m flytecodec")
