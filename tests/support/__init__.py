"""Helpers shared by the tests: the oracles (flytekit, upb), counts of what they compared, malformed inputs."""
