"""Every model and bulk test runs once per available backend (``python`` always; ``native`` when built)."""

import pytest

import flytecodec


@pytest.fixture(params=flytecodec.available_backends())
def backend(request):
    with flytecodec.using_backend(request.param):
        yield request.param
