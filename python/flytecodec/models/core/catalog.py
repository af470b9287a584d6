"""Cache (catalog) metadata, as in ``flytekit.models.core.catalog``."""

from __future__ import annotations

from flytecodec.models._entity import REQUIRED, Field, FlyteIdlEntity


class CatalogArtifactTag(FlyteIdlEntity, proto="flyteidl.core.CatalogArtifactTag"):
    """``flyteidl.core.CatalogArtifactTag``."""

    _fields = (Field("artifact_id", init=REQUIRED), Field("name", init=REQUIRED))


class CatalogMetadata(FlyteIdlEntity, proto="flyteidl.core.CatalogMetadata"):
    """``flyteidl.core.CatalogMetadata``."""

    _fields = (
        Field("dataset_id", init=REQUIRED, absent="never"),
        Field("artifact_tag", init=REQUIRED, absent="never"),
        Field("source_task_execution", init=REQUIRED, absent="never"),
    )

    @property
    def source_execution(self):
        """The oneof ``source_execution``; its only member is ``source_task_execution``."""
        return self.source_task_execution
