"""Security context models, as in ``flytekit.models.security`` (flytekit's are dataclasses: fields are settable)."""

from __future__ import annotations

import re
from enum import Enum

from flyteidl.core import security_pb2

from flytecodec.models._entity import REQUIRED, Field, FlyteIdlEntity

_ENV_VAR_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def _falsy_none(proto: str, **kwargs) -> Field:
    """A field flytekit reads as ``value if value else None`` and lets users assign."""
    return Field(proto, absent="falsy", settable=True, **kwargs)


def _check_env_var(name: str) -> str:
    if not _ENV_VAR_NAME.match(name):
        raise ValueError(f"Invalid environment variable name: {name}")
    return name


class Secret(FlyteIdlEntity, proto=security_pb2.Secret):
    """``flyteidl.core.Secret``."""

    class MountType(Enum):
        ANY = security_pb2.Secret.MountType.ANY
        ENV_VAR = security_pb2.Secret.MountType.ENV_VAR
        FILE = security_pb2.Secret.MountType.FILE

    _fields = (
        Field("group", init=None, settable=True),
        _falsy_none("key", init=None),
        _falsy_none("group_version", init=None),
        Field("mount_requirement", init=MountType.ANY, settable=True, convert=lambda v: Secret.MountType(v)),
        _falsy_none("env_var", init=None, accept=_check_env_var),
    )


class OAuth2Client(FlyteIdlEntity, proto=security_pb2.OAuth2Client):
    """``flyteidl.core.OAuth2Client``; ``client_secret`` is the protobuf ``Secret``, as in flytekit."""

    _fields = (
        Field("client_id", init=REQUIRED, settable=True),
        Field("client_secret", init=REQUIRED, settable=True, kind="raw", absent="never"),
    )


class Identity(FlyteIdlEntity, proto=security_pb2.Identity):
    """``flyteidl.core.Identity``."""

    _fields = (
        _falsy_none("iam_role", init=None),
        _falsy_none("k8s_service_account", init=None),
        Field("oauth2_client", init=None, absent="empty", settable=True),
        _falsy_none("execution_identity", init=None),
    )


class OAuth2TokenRequest(FlyteIdlEntity, proto=security_pb2.OAuth2TokenRequest):
    """``flyteidl.core.OAuth2TokenRequest``; ``type_`` is read as an int, as flytekit reads it."""

    class Type(Enum):
        CLIENT_CREDENTIALS = security_pb2.OAuth2TokenRequest.Type.CLIENT_CREDENTIALS

    _fields = (
        Field("name", init=REQUIRED, settable=True),
        Field("client", init=REQUIRED, settable=True),
        Field("idp_discovery_endpoint", init=None, settable=True),
        Field("token_endpoint", init=None, settable=True),
        Field("type", name="type_", init=Type.CLIENT_CREDENTIALS, settable=True),
    )


def _as_list(v):
    return v if isinstance(v, list) or not v else [v]


class SecurityContext(FlyteIdlEntity, proto=security_pb2.SecurityContext):
    """``flyteidl.core.SecurityContext``. A constructed one with nothing set serializes to ``None``, as in flytekit."""

    _fields = (
        Field("run_as", init=None, absent="empty", settable=True),
        _falsy_none("secrets", init=None, accept=_as_list),
        _falsy_none("tokens", init=None, accept=_as_list),
    )

    def to_flyte_idl(self):
        if not self._decoded and self.run_as is None and self.secrets is None and self.tokens is None:
            return None
        return super().to_flyte_idl()
