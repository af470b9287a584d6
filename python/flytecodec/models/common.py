"""Shared admin models, as in ``flytekit.models.common``."""

from __future__ import annotations

from flyteidl.admin import common_pb2

from flytecodec.models._entity import REQUIRED, Field, FlyteIdlEntity

__all__ = [
    "Annotations",
    "AuthRole",
    "EmailNotification",
    "Envs",
    "FlyteIdlEntity",
    "Labels",
    "NamedEntityIdentifier",
    "Notification",
    "PagerDutyNotification",
    "RawOutputDataConfig",
    "SlackNotification",
    "UrlBlob",
]


class NamedEntityIdentifier(FlyteIdlEntity, proto=common_pb2.NamedEntityIdentifier):
    """``flyteidl.admin.NamedEntityIdentifier``."""

    _fields = (Field("project", init=REQUIRED), Field("domain", init=REQUIRED), Field("name", init=None))


class EmailNotification(FlyteIdlEntity, proto=common_pb2.EmailNotification):
    """``flyteidl.admin.EmailNotification``."""

    _fields = (Field("recipients_email", init=REQUIRED),)


class SlackNotification(FlyteIdlEntity, proto=common_pb2.SlackNotification):
    """``flyteidl.admin.SlackNotification``."""

    _fields = (Field("recipients_email", init=REQUIRED),)


class PagerDutyNotification(FlyteIdlEntity, proto=common_pb2.PagerDutyNotification):
    """``flyteidl.admin.PagerDutyNotification``."""

    _fields = (Field("recipients_email", init=REQUIRED),)


class Notification(FlyteIdlEntity, proto=common_pb2.Notification):
    """``flyteidl.admin.Notification``: the phases to notify on and one of email, pager duty or slack."""

    _fields = (
        Field("phases", init=REQUIRED),
        Field("email", init=None),
        Field("pager_duty", init=None),
        Field("slack", init=None),
    )


class Labels(FlyteIdlEntity, proto=common_pb2.Labels):
    """``flyteidl.admin.Labels``: ``values`` is a dict of str to str."""

    _fields = (Field("values", init=REQUIRED),)


class Annotations(FlyteIdlEntity, proto=common_pb2.Annotations):
    """``flyteidl.admin.Annotations``: ``values`` is a dict of str to str."""

    _fields = (Field("values", init=REQUIRED),)


class UrlBlob(FlyteIdlEntity, proto=common_pb2.UrlBlob):
    """``flyteidl.admin.UrlBlob``."""

    _fields = (Field("url", init=REQUIRED), Field("bytes", init=REQUIRED))


class AuthRole(FlyteIdlEntity, proto=common_pb2.AuthRole):
    """``flyteidl.admin.AuthRole``."""

    _fields = (Field("assumable_iam_role", init=None), Field("kubernetes_service_account", init=None))


class RawOutputDataConfig(FlyteIdlEntity, proto=common_pb2.RawOutputDataConfig):
    """``flyteidl.admin.RawOutputDataConfig``."""

    _fields = (Field("output_location_prefix", init=REQUIRED),)


class Envs(FlyteIdlEntity, proto=common_pb2.Envs):
    """``flyteidl.admin.Envs``: ``envs`` is a dict of the ``values`` key/value pairs."""

    _fields = (Field("values", name="envs", init=REQUIRED, kind="kvdict"),)
