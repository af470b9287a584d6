"""The ``kind`` fixture of the bulk tests: each test that takes it runs once per kind of record."""

import pytest

from support.kinds import KINDS, Kind


@pytest.fixture(params=sorted(KINDS))
def kind(request) -> Kind:
    return KINDS[request.param]
