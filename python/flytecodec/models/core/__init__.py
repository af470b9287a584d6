"""Models of ``flyteidl.core`` messages, mirroring ``flytekit.models.core``."""
