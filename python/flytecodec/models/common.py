"""Shared admin models, as in ``flytekit.models.common``."""

from __future__ import annotations

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


class NamedEntityIdentifier(FlyteIdlEntity, proto="flyteidl.admin.NamedEntityIdentifier"):
    """``flyteidl.admin.NamedEntityIdentifier``."""

    _fields = (Field("project", init=REQUIRED), Field("domain", init=REQUIRED), Field("name", init=None))


class EmailNotification(FlyteIdlEntity, proto="flyteidl.admin.EmailNotification"):
    """``flyteidl.admin.EmailNotification``."""

    _fields = (Field("recipients_email", init=REQUIRED),)


class SlackNotification(FlyteIdlEntity, proto="flyteidl.admin.SlackNotification"):
    """``flyteidl.admin.SlackNotification``."""

    _fields = (Field("recipients_email", init=REQUIRED),)


class PagerDutyNotification(FlyteIdlEntity, proto="flyteidl.admin.PagerDutyNotification"):
    """``flyteidl.admin.PagerDutyNotification``."""

    _fields = (Field("recipients_email", init=REQUIRED),)


class Notification(FlyteIdlEntity, proto="flyteidl.admin.Notification"):
    """``flyteidl.admin.Notification``: the phases to notify on and one of email, pager duty or slack."""

    _fields = (
        Field("phases", init=REQUIRED),
        Field("email", init=None),
        Field("pager_duty", init=None),
        Field("slack", init=None),
    )


class Labels(FlyteIdlEntity, proto="flyteidl.admin.Labels"):
    """``flyteidl.admin.Labels``: ``values`` is a dict of str to str."""

    _fields = (Field("values", init=REQUIRED),)


class Annotations(FlyteIdlEntity, proto="flyteidl.admin.Annotations"):
    """``flyteidl.admin.Annotations``: ``values`` is a dict of str to str."""

    _fields = (Field("values", init=REQUIRED),)


class UrlBlob(FlyteIdlEntity, proto="flyteidl.admin.UrlBlob"):
    """``flyteidl.admin.UrlBlob``."""

    _fields = (Field("url", init=REQUIRED), Field("bytes", init=REQUIRED))


class AuthRole(FlyteIdlEntity, proto="flyteidl.admin.AuthRole"):
    """``flyteidl.admin.AuthRole``."""

    _fields = (Field("assumable_iam_role", init=None), Field("kubernetes_service_account", init=None))


class RawOutputDataConfig(FlyteIdlEntity, proto="flyteidl.admin.RawOutputDataConfig"):
    """``flyteidl.admin.RawOutputDataConfig``."""

    _fields = (Field("output_location_prefix", init=REQUIRED),)


class Envs(FlyteIdlEntity, proto="flyteidl.admin.Envs"):
    """``flyteidl.admin.Envs``: ``envs`` is a dict of the ``values`` key/value pairs."""

    _fields = (Field("values", name="envs", init=REQUIRED, kind="kvdict"),)
