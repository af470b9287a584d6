"""Dask and Ray for real (``engines_suite.py``), in a pytest process of their own.

A local Ray instance and a dask cluster leave threads and signal handlers in the process that started them;
after them, this suite's thread tests crashed the interpreter. So the rest of the suite never shares a process
with them: this test runs ``engines_suite.py`` in a child pytest and fails with its output when it fails.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def test_dask_and_ray_in_their_own_process():
    pytest.importorskip("dask.distributed")
    pytest.importorskip("ray")
    here = os.path.dirname(__file__)
    sys.path.insert(0, os.path.join(here, os.pardir, "sources"))
    import _pgfixtures

    # Without PostgreSQL (or psycopg) the database tests are left out, not skipped: a skip here is a failure.
    only = [] if _pgfixtures.available() else ["-k", "not postgres"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *only, os.path.join(here, "engines_suite.py")],
        capture_output=True,
        text=True,
        cwd=here,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout, done.stdout[-3000:]
