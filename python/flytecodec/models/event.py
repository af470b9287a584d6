"""``TaskExecutionMetadata``, as in ``flytekit.models.event``."""

from __future__ import annotations

from flytecodec.models._entity import Field, FlyteIdlEntity


class TaskExecutionMetadata(FlyteIdlEntity, proto="flyteidl.event.TaskExecutionMetadata"):
    """``flyteidl.event.TaskExecutionMetadata``; ``external_resources`` are protobuf messages, as in flytekit."""

    _fields = (Field("external_resources", init=None, kind="raw"),)
