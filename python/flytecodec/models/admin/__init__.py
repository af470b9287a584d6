"""Models of ``flyteidl.admin`` messages, mirroring ``flytekit.models.admin``."""
