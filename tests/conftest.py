"""Every model and bulk test runs once per available backend (``python`` always; ``native`` when built)."""

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
