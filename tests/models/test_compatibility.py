"""Each deviation from flytekit listed in docs/compatibility.md, shown side by side with flytekit."""

from __future__ import annotations

import datetime
import pickle

import pytest
from flyteidl.admin import execution_pb2, node_execution_pb2
from flyteidl.core import literals_pb2, security_pb2
from flytekit.exceptions.user import FlyteAssertion as FkFlyteAssertion
from flytekit.models import execution as fk_execution
from flytekit.models import literals as fk_literals
from flytekit.models import security as fk_security

import flytecodec
from flytecodec.models import execution, literals, node_execution, security
from flytecodec.models.admin import task_execution
from flytecodec.remote import executions as remote


def _closure_with_inline_outputs():
    pb = execution_pb2.ExecutionClosure(phase=4)
    pb.started_at.seconds = 1_700_000_000
    pb.outputs.values.literals["answer"].scalar.primitive.integer = 42
    return pb


def test_inline_literal_map_blob_values(backend):
    pb = _closure_with_inline_outputs()
    with pytest.raises(ValueError):
        fk_execution.ExecutionClosure.from_flyte_idl(pb)
    closure = flytecodec.decode(execution.ExecutionClosure, pb.SerializeToString(), framing="message")[0]
    assert isinstance(closure.outputs.values, literals.LiteralMap)
    assert closure.outputs.values.literals["answer"].scalar.primitive.integer == 42
    assert closure.outputs.uri is None
    assert closure.to_flyte_idl() == pb


def test_closure_keeps_workflow_id_and_state_change_details(backend):
    pb = execution_pb2.ExecutionClosure(phase=4)
    pb.workflow_id.name = "wf"
    pb.state_change_details.principal = "alice"
    theirs = fk_execution.ExecutionClosure.from_flyte_idl(pb).to_flyte_idl()
    assert not theirs.HasField("workflow_id") and not theirs.HasField("state_change_details")
    ours = flytecodec.decode(execution.ExecutionClosure, pb.SerializeToString(), framing="message")[0]
    assert ours.to_flyte_idl() == pb
    assert ours.workflow_id.name == "wf" and ours.state_change_details.principal == "alice"


def test_every_proto_field_is_a_property_and_a_keyword_argument():
    closure = execution.ExecutionClosure(
        phase=4,
        started_at=datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc),
        duration=datetime.timedelta(seconds=3),
        workflow_id=execution._identifier.Identifier(2, "p", "d", "wf", "v1"),
    )
    assert closure.to_flyte_idl().workflow_id.name == "wf"
    assert closure.state_change_details is None


def test_empty_security_context_answers_is_empty():
    theirs = fk_security.SecurityContext()
    with pytest.raises(AttributeError):
        theirs.is_empty
    ours = security.SecurityContext()
    assert ours.to_flyte_idl() is None  # as flytekit's
    assert ours.is_empty and ours.serialize_to_string() == b""


def test_scalar_holding_an_error_serializes():
    pb = literals_pb2.Scalar()
    pb.error.message = "boom"
    theirs = fk_literals.Scalar.from_flyte_idl(pb)
    with pytest.raises(AttributeError):
        theirs.to_flyte_idl()
    ours = literals.Scalar(error=theirs.error)
    assert ours.to_flyte_idl() == pb


def test_oauth2_token_request_default_type_serializes():
    client = security.OAuth2Client("id", security_pb2.Secret(group="g"))
    theirs_client = fk_security.OAuth2Client("id", security_pb2.Secret(group="g"))
    with pytest.raises(TypeError):
        fk_security.OAuth2TokenRequest("t", theirs_client).to_flyte_idl()
    assert security.OAuth2TokenRequest("t", client).to_flyte_idl().type == 0


def test_from_flyte_idl_checks_the_message_type():
    with pytest.raises(TypeError, match=r"flyteidl\.admin\.Execution"):
        execution.Execution.from_flyte_idl(execution_pb2.ExecutionClosure())


def test_from_flyte_idl_takes_a_snapshot():
    pb = node_execution_pb2.NodeExecution(input_uri="s3://a")
    pb.metadata.spec_node_id = "n0"
    ours = node_execution.NodeExecution.from_flyte_idl(pb)
    pb.input_uri = "s3://b"
    pb.metadata.spec_node_id = "changed"
    assert ours.input_uri == "s3://a" and ours.metadata.spec_node_id == "n0"


def test_naive_datetimes_are_utc_in_every_constructor():
    naive = datetime.datetime(2025, 6, 1, 12, 0)
    closure = execution.ExecutionClosure(4, naive, datetime.timedelta(0))
    assert closure.to_flyte_idl().started_at.ToDatetime() == naive


def test_invalid_secret_env_var_in_a_message_decodes():
    pb = security_pb2.Secret(group="g", env_var="not valid")
    with pytest.raises(ValueError, match="Invalid environment variable name"):
        fk_security.Secret.from_flyte_idl(pb)
    assert security.Secret.from_flyte_idl(pb).env_var == "not valid"
    with pytest.raises(ValueError, match="Invalid environment variable name"):
        security.Secret(group="g", env_var="not valid")


def test_security_models_are_hashable():
    secret = security.Secret(group="g", key="k")
    assert hash(secret) == hash(security.Secret(group="g", key="k"))
    with pytest.raises(TypeError):
        hash(fk_security.Secret(group="g", key="k"))


def test_equality_with_flytekit_models():
    pb = execution_pb2.AbortMetadata(cause="c", principal="p")
    ours, theirs = execution.AbortMetadata.from_flyte_idl(pb), fk_execution.AbortMetadata.from_flyte_idl(pb)
    assert ours == theirs and hash(ours) == hash(theirs)
    assert theirs != ours  # flytekit's __eq__ only knows its own base class


def test_flyte_assertion_is_flytekits_when_flytekit_is_loaded():
    pb = task_execution.TaskExecution._pb_class()
    pb.closure.phase = 1  # RUNNING
    running = remote.FlyteTaskExecution.from_flyte_idl(pb)
    with pytest.raises(FkFlyteAssertion):
        running.error
    with pytest.raises(flytecodec.FlyteAssertion):
        running.outputs


def test_remote_outputs_come_from_a_get_data_response():
    pb = task_execution.TaskExecution._pb_class()
    pb.closure.phase = 3  # SUCCEEDED
    done = remote.FlyteTaskExecution.from_flyte_idl(pb)
    assert done.inputs is None and done.outputs is None
    data = execution.TaskExecutionGetDataResponse.from_flyte_idl(
        execution.TaskExecutionGetDataResponse._pb_class(
            full_outputs=literals_pb2.LiteralMap(literals={"o": literals_pb2.Literal(hash="h")})
        )
    )
    done.set_data(data)
    assert done.outputs.literals["o"].hash == "h"
    again = pickle.loads(pickle.dumps(done))
    assert again.outputs.literals["o"].hash == "h" and again == done


def test_literal_hash_and_metadata_can_be_set_on_decoded_models():
    pb = literals_pb2.Literal(hash="a")
    lit = literals.Literal.from_flyte_idl(pb)
    lit.hash = "b"
    lit.set_metadata({"k": "v"})
    assert lit.to_flyte_idl() == literals_pb2.Literal(hash="b", metadata={"k": "v"})
    with pytest.raises(AttributeError):
        lit.scalar = None
