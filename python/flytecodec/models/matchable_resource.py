"""``ExecutionClusterLabel``, as in ``flytekit.models.matchable_resource``."""

from __future__ import annotations

from flyteidl.admin import matchable_resource_pb2

from flytecodec.models._entity import REQUIRED, Field, FlyteIdlEntity


class ExecutionClusterLabel(FlyteIdlEntity, proto=matchable_resource_pb2.ExecutionClusterLabel):
    """``flyteidl.admin.ExecutionClusterLabel``."""

    _fields = (Field("value", init=REQUIRED),)
