"""Running the ``flytecodec`` command in a subprocess, as a user does."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

COMMAND = [sys.executable, "-m", "flytecodec.cli"]
MODULE = [sys.executable, "-m", "flytecodec"]


def run(line: str, *, command=COMMAND, backend: str | None = None, cwd=None) -> subprocess.CompletedProcess:
    """Run the command with the arguments in ``line`` (split as a shell would), on ``backend`` or the default."""
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("FLYTECODEC_BACKEND", None)
    if backend:
        env["FLYTECODEC_BACKEND"] = backend
    return subprocess.run(
        [*command, *shlex.split(line)], capture_output=True, text=True, env=env, cwd=cwd, timeout=300, check=False
    )


def ok(line: str, **kwargs) -> subprocess.CompletedProcess:
    """:func:`run`, which must succeed."""
    done = run(line, **kwargs)
    assert done.returncode == 0, done.stderr
    return done
