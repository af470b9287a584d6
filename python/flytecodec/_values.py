"""Conversions between protobuf well-known values and Python values.

They follow protobuf's own ``Timestamp.ToDatetime`` / ``Duration.ToTimedelta`` exactly: nanoseconds are
rounded toward zero to microseconds, and timestamps outside 0001-01-01..9999-12-31 are refused with the
same ``ValueError``; but they skip the Python-level method dispatch of the well-known-type mixins.
"""

from __future__ import annotations

import datetime as _dt

UTC = _dt.timezone.utc
_EPOCH_AWARE = _dt.datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = _dt.datetime(1970, 1, 1)
_timedelta = _dt.timedelta
_MIN_SECONDS = -62135596800  # 0001-01-01T00:00:00Z
_MAX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z


def _check_timestamp(seconds: int, nanos: int) -> None:
    if not _MIN_SECONDS <= seconds <= _MAX_SECONDS:
        raise ValueError(f"Timestamp is not valid: Seconds {seconds} must be in range [-62135596800, 253402300799].")
    if not 0 <= nanos < 1_000_000_000:
        raise ValueError(f"Timestamp is not valid: Nanos {nanos} must be in a range [0, 999999999].")


def timestamp_aware(ts) -> _dt.datetime:
    """A ``google.protobuf.Timestamp`` as a timezone-aware UTC datetime."""
    seconds, nanos = ts.seconds, ts.nanos
    if not (_MIN_SECONDS <= seconds <= _MAX_SECONDS and 0 <= nanos < 1_000_000_000):
        _check_timestamp(seconds, nanos)
    return _EPOCH_AWARE + _timedelta(0, seconds, nanos // 1000)


def timestamp_naive(ts) -> _dt.datetime:
    """A ``google.protobuf.Timestamp`` as a naive datetime in UTC (what ``ToDatetime()`` returns)."""
    seconds, nanos = ts.seconds, ts.nanos
    if not (_MIN_SECONDS <= seconds <= _MAX_SECONDS and 0 <= nanos < 1_000_000_000):
        _check_timestamp(seconds, nanos)
    return _EPOCH_NAIVE + _timedelta(0, seconds, nanos // 1000)


def duration(d) -> _dt.timedelta:
    """A ``google.protobuf.Duration`` as a timedelta (what ``ToTimedelta()`` returns)."""
    nanos = d.nanos
    return _timedelta(0, d.seconds, nanos // 1000 if nanos >= 0 else -((-nanos) // 1000))


def set_timestamp(ts, value: _dt.datetime) -> None:
    """Store a datetime into a Timestamp; naive datetimes are taken as UTC, aware ones are converted."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    ts.FromDatetime(value)


def set_duration(d, value: _dt.timedelta) -> None:
    d.FromTimedelta(value)
