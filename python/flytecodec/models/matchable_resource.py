"""``ExecutionClusterLabel``, as in ``flytekit.models.matchable_resource``."""

from __future__ import annotations

from flytecodec.models._entity import REQUIRED, Field, FlyteIdlEntity


class ExecutionClusterLabel(FlyteIdlEntity, proto="flyteidl.admin.ExecutionClusterLabel"):
    """``flyteidl.admin.ExecutionClusterLabel``."""

    _fields = (Field("value", init=REQUIRED),)
