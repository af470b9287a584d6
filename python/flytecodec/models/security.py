"""Security context models, as in ``flytekit.models.security`` (flytekit's are dataclasses: fields are settable)."""

from __future__ import annotations

import re
from enum import Enum

from flytecodec.models._entity import REQUIRED, Field, FlyteIdlEntity

_ENV_VAR_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def _falsy_none(proto: str, **kwargs) -> Field:
    """A field flytekit reads as ``value if value else None`` and lets users assign."""
    return Field(proto, absent="falsy", settable=True, **kwargs)


def _check_env_var(name: str) -> str:
    if not _ENV_VAR_NAME.match(name):
        raise ValueError(f"Invalid environment variable name: {name}")
    return name


class Secret(FlyteIdlEntity, proto="flyteidl.core.Secret"):
    """``flyteidl.core.Secret``."""

    class MountType(Enum):
        # flyteidl.core.Secret.MountType's numbers (written out: the models import without protobuf)
        ANY = 0
        ENV_VAR = 1
        FILE = 2

    _fields = (
        Field("group", init=None, settable=True),
        _falsy_none("key", init=None),
        _falsy_none("group_version", init=None),
        Field("mount_requirement", init=MountType.ANY, settable=True, convert=lambda v: Secret.MountType(v)),
        _falsy_none("env_var", init=None, accept=_check_env_var),
    )


class OAuth2Client(FlyteIdlEntity, proto="flyteidl.core.OAuth2Client"):
    """``flyteidl.core.OAuth2Client``; ``client_secret`` is the protobuf ``Secret``, as in flytekit."""

    _fields = (
        Field("client_id", init=REQUIRED, settable=True),
        Field("client_secret", init=REQUIRED, settable=True, kind="raw", absent="never"),
    )


class Identity(FlyteIdlEntity, proto="flyteidl.core.Identity"):
    """``flyteidl.core.Identity``."""

    _fields = (
        _falsy_none("iam_role", init=None),
        _falsy_none("k8s_service_account", init=None),
        Field("oauth2_client", init=None, absent="empty", settable=True),
        _falsy_none("execution_identity", init=None),
    )


class OAuth2TokenRequest(FlyteIdlEntity, proto="flyteidl.core.OAuth2TokenRequest"):
    """``flyteidl.core.OAuth2TokenRequest``; ``type_`` is read as an int, as flytekit reads it."""

    class Type(Enum):
        # flyteidl.core.OAuth2TokenRequest.Type's numbers (written out: the models import without protobuf)
        CLIENT_CREDENTIALS = 0

    _fields = (
        Field("name", init=REQUIRED, settable=True),
        Field("client", init=REQUIRED, settable=True),
        Field("idp_discovery_endpoint", init=None, settable=True),
        Field("token_endpoint", init=None, settable=True),
        Field("type", name="type_", init=Type.CLIENT_CREDENTIALS, settable=True),
    )


def _as_list(v):
    return v if isinstance(v, list) or not v else [v]


class SecurityContext(FlyteIdlEntity, proto="flyteidl.core.SecurityContext"):
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
