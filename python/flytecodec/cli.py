"""The ``flytecodec`` command: ``decode``, ``stats``, ``sample``, ``bench``, ``export``, ``restore`` and ``demo``.

The commands need the ``cli`` extra (click, rich, pyarrow); without it :func:`main` says how to install it
instead of failing with a traceback. This module imports none of them itself, so that it can.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence

NEEDED = ("click", "rich", "pyarrow")
COMMANDS = ("decode", "stats", "sample", "bench", "export", "restore", "demo")
"""The subcommands (``tests/cli/test_cli_traps.py`` checks them against the command group)."""


def main(argv: Sequence[str] | None = None, prog_name: str | None = None) -> None:
    """Run the command line (``argv``: the arguments, ``sys.argv[1:]`` by default); exits with its status."""
    command().main(args=None if argv is None else list(argv), prog_name=prog_name or "flytecodec")


def command():
    """The ``flytecodec`` command group, every subcommand added; says how to install the ``cli`` extra (and
    exits) when it is missing."""
    missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
    if missing:
        print(
            f"flytecodec: the command line needs {', '.join(missing)}: pip install 'flytecodec[cli]'",
            file=sys.stderr,
        )
        sys.exit(1)
    from flytecodec._commands import cli
    from flytecodec._export import export
    from flytecodec._restore import restore

    cli.add_command(export)
    cli.add_command(restore)
    return cli


if __name__ == "__main__":
    main()
