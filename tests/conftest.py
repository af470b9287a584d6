"""Every model and bulk test runs once per available backend (``python`` always; ``native`` when built)."""

import sys

import pytest

import flytecodec


@pytest.fixture(params=flytecodec.available_backends())
def backend(request):
    with flytecodec.using_backend(request.param):
        yield request.param


def pytest_terminal_summary(terminalreporter):
    """Say how many distinct values each oracle compared, per backend and source of the models
    (tests/support/tally.py)."""
    from support.tally import table

    rows = table()
    if rows:
        terminalreporter.section("distinct values compared with an oracle")
        terminalreporter.write_line(f"{'oracle':<16} {'backend':<8} {'source':<12} {'values':>10}")
        for oracle, name, source, count in rows:
            terminalreporter.write_line(f"{oracle:<16} {name:<8} {source:<12} {count:>10}")
    fuzz = sys.modules.get("test_fuzz_python")
    if fuzz is not None and fuzz.TALLY["inputs"]:
        tally = fuzz.TALLY
        terminalreporter.write_line(
            f"python API fuzz: {tally['inputs']} inputs through both backends, {tally['refused']} refused, "
            f"{tally['checked with upb']} checked against upb"
        )
