"""Decoding straight into the FlyteRemote classes (``model=FlyteWorkflowExecution`` and co.), and their guards.

Every test that decodes takes the ``backend`` fixture, so it runs once per available backend; the records come
from :mod:`flytecodec.testing.corpus` (``support/kinds.py``) or are built by hand where a test needs exact
control over the bytes.
"""

from __future__ import annotations

import pytest

from flytecodec import decode_executions
from flytecodec.remote.executions import FlyteWorkflowExecution
from flytecodec.testing import corpus
from support.kinds import assert_records, ser

# -- FlyteRemote classes ---------------------------------------------------------------------------------------------


def test_decode_with_a_remote_model(backend, kind):
    """``model=`` names a subclass, e.g. ``FlyteWorkflowExecution``, and every record is one of those."""
    listing = kind.make_list(30, seed=51, token="r")
    records = list(getattr(listing, kind.field))
    batch = kind.decoder(ser(listing), framing="list", model=kind.remote)
    assert batch.model is kind.remote
    assert batch.token == "r"
    assert all(type(m) is kind.remote for m in batch)
    assert all(isinstance(m, kind.model) for m in batch)
    assert_records(batch, records, kind)
    assert batch.to_flyte_idl() == listing
    for m in batch:
        assert isinstance(m.is_done, bool)
        assert m.inputs is None
    sequence = kind.decoder([ser(r) for r in records], model=kind.remote)
    assert all(type(m) is kind.remote for m in sequence)


def test_flyte_workflow_execution_guards(backend):
    from flytecodec.exceptions import FlyteAssertion

    executions = corpus.executions(200, seed=52)
    batch = decode_executions(corpus.delimited(executions), framing="delimited", model=FlyteWorkflowExecution)
    done = running = 0
    for model, source in zip(batch, executions):
        assert model.is_successful == (source.closure.phase == 4)  # SUCCEEDED
        if model.is_done:
            done += 1
            if source.closure.HasField("error"):
                assert model.error.to_flyte_idl() == source.closure.error
            else:
                assert model.error is None
        else:
            running += 1
            with pytest.raises(FlyteAssertion):
                _ = model.outputs
        assert model.node_executions == {}
    assert done and running
