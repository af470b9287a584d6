"""flyteadmin as a source: its PostgreSQL database (:mod:`flytecodec.sources.postgres`, needs the ``postgres``
extra) and its API (:mod:`flytecodec.sources.grpc`, needs the ``grpc`` extra).

Records are rebuilt from flyteadmin's rows exactly as its API rebuilds them, or taken from its list calls as
the bytes of each page, and decoded into lazy models. Importing this package imports no database driver and
no gRPC; the source modules import theirs when first used.
"""

from __future__ import annotations


class SourceError(RuntimeError):
    """A source could not be read: the server cannot be reached, a query failed, or the connection was lost
    midway. The message says which and what the server said."""


__all__ = ["SourceError"]
