"""``TaskExecutionMetadata``, as in ``flytekit.models.event``."""

from __future__ import annotations

from flyteidl.event import event_pb2

from flytecodec.models._entity import Field, FlyteIdlEntity


class TaskExecutionMetadata(FlyteIdlEntity, proto=event_pb2.TaskExecutionMetadata):
    """``flyteidl.event.TaskExecutionMetadata``; ``external_resources`` are protobuf messages, as in flytekit."""

    _fields = (Field("external_resources", init=None, kind="raw"),)
