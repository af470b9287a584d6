"""Every model and bulk test runs once per available backend (``python`` always; ``native`` when built)."""

import sys

import pytest

import flytecodec


@pytest.fixture(params=flytecodec.available_backends())
def backend(request):
    with flytecodec.using_backend(request.param):
        yield request.param


def pytest_terminal_summary(terminalreporter):
    """Say how many property values were compared with flytekit's (the oracle) in this run."""
    from _oracle import COUNT

    if COUNT["properties"]:
        terminalreporter.write_line(f"flytekit oracle: {COUNT['properties']} property values compared")
    fuzz = sys.modules.get("test_fuzz_python")
    if fuzz is not None and fuzz.TALLY["inputs"]:
        tally = fuzz.TALLY
        terminalreporter.write_line(
            f"python API fuzz: {tally['inputs']} inputs through both backends, {tally['refused']} refused, "
            f"{tally['checked with upb']} checked against upb"
        )
