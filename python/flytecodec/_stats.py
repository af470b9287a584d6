"""``flytecodec stats``: counts by phase, duration percentiles by group and error codes, gathered from Arrow
tables a batch at a time.

Percentiles are exact, so every duration is kept: 12 bytes a record (the duration and its group's number),
not the records themselves.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

TOP = 20  # rows of the group and error tables
NONE = "(none)"  # a null group key, phase or error code
QUANTILES = (0.5, 0.9, 0.99)


class Stats:
    """What ``stats`` reports, accumulated over the tables of one input.

    :param available: the columns the kind has (``flytecodec.columns.column_names``).
    :param group_key: the column to give duration percentiles by (``None``: overall only).
    """

    def __init__(self, available: Sequence[str], group_key: str | None):
        # counts by phase, or by mode for an ExecutionSpec, which has no phase
        self.count_by = next((c for c in ("phase", "mode") if c in available), None)
        self.has_duration = "duration" in available
        self.has_errors = "error_code" in available
        self.group_key = group_key if group_key in available and self.has_duration else None
        self.records = 0
        self.counts: collections.Counter = collections.Counter()
        self.errors: collections.Counter = collections.Counter()
        self._groups: dict = {}  # group key → its number
        self._durations: list[pa.Array] = []  # µs, int64
        self._codes: list[pa.Array] = []  # group numbers, int32, aligned with _durations

    @property
    def columns(self) -> list[str]:
        """The columns to ask ``to_arrow`` for."""
        wanted = [self.count_by, "duration" if self.has_duration else None, self.group_key]
        wanted.append("error_code" if self.has_errors else None)
        return [c for c in wanted if c]

    def add(self, table: pa.Table, records: int) -> None:
        """Count ``table``, the :attr:`columns` of ``records`` records."""
        self.records += records
        if self.count_by:
            self.counts.update(_value_counts(table[self.count_by]))
        if self.has_errors:
            errors = _value_counts(table["error_code"])
            errors.pop(NONE, None)
            self.errors.update(errors)
        if self.has_duration:
            durations = table["duration"].cast(pa.int64())
            keep = pc.is_valid(durations)
            self._durations.append(pc.filter(durations, keep).combine_chunks())
            if self.group_key:
                self._codes.append(self._group_numbers(pc.filter(table[self.group_key], keep)))

    def _group_numbers(self, keys: pa.ChunkedArray) -> pa.Array:
        """Each key as the number of its group, numbering new keys as they come."""
        if pa.types.is_dictionary(keys.type):
            keys = keys.cast(keys.type.value_type)
        encoded = pc.dictionary_encode(keys.combine_chunks(), null_encoding="encode")
        numbers = [self._groups.setdefault(key, len(self._groups)) for key in encoded.dictionary.to_pylist()]
        return pc.take(pa.array(numbers, pa.int32()), encoded.indices)

    def duration_rows(self) -> list[tuple[str, int, list[float], float]]:
        """``(group, count, [p50, p90, p99] seconds, max seconds)``: everything first (``"(all)"``), then
        the :data:`TOP` groups with the most durations."""
        if not self._durations:
            return []
        durations = pa.chunked_array(self._durations, pa.int64()).combine_chunks()
        rows = [] if len(durations) == 0 else [("(all)", *_summary(durations))]
        if self.group_key and len(durations):
            codes = pa.chunked_array(self._codes, pa.int32()).combine_chunks()
            names = {number: NONE if key is None else str(key) for key, number in self._groups.items()}
            counted = pc.value_counts(codes).to_pylist()
            counted.sort(key=lambda entry: (-entry["counts"], names[entry["values"]]))
            for entry in counted[:TOP]:
                rows.append((names[entry["values"]], *_summary(pc.filter(durations, pc.equal(codes, entry["values"])))))
        return rows

    @property
    def groups(self) -> int:
        return len(self._groups)


def _value_counts(column: pa.ChunkedArray) -> collections.Counter:
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    counts = collections.Counter()
    for entry in pc.value_counts(column).to_pylist():
        value = entry["values"]
        counts[NONE if value is None else str(value)] += entry["counts"]
    return counts


def _summary(durations: pa.Array) -> tuple[int, list[float], float]:
    quantiles = pc.quantile(durations, q=list(QUANTILES)).to_pylist()
    return len(durations), [q / 1e6 for q in quantiles], pc.max(durations).as_py() / 1e6


def human_seconds(seconds: float) -> str:
    """``0.39s``, ``41.7s``, ``21m 41s``, ``3h 05m``, ``2d 04h``."""
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def _heading(text: str, shown: int, total: int, unit: str) -> str:
    return f"{text} ({shown} most frequent of {total} {unit}):" if total > shown else f"{text}:"


def as_dict(stats: Stats, kind: str) -> dict:
    """``stats`` as JSON-ready values: counts, and durations in seconds."""
    out: dict = {"kind": kind, "records": stats.records}
    if stats.count_by:
        out["count_by"] = stats.count_by
        out["counts"] = dict(sorted(stats.counts.items(), key=lambda item: (-item[1], item[0])))
    if stats.has_duration:
        out["group_by"] = stats.group_key
        out["durations"] = [
            {"group": group, "count": count, **dict(zip(("p50", "p90", "p99"), quantiles)), "max": longest}
            for group, count, quantiles, longest in stats.duration_rows()
        ]
    if stats.has_errors:
        out["error_codes"] = dict(sorted(stats.errors.items(), key=lambda item: (-item[1], item[0])))
    return out


def render(stats: Stats, console, *, what: str) -> None:
    """Print ``stats`` as rich tables on ``console``; ``what`` names the records (``executions``). A table
    with nothing to show is replaced by a line saying why."""
    from rich.table import Table

    console.print(f"records: {stats.records} {what}")
    if not stats.records:
        console.print("(the input holds no records: nothing to count)")
        return
    if stats.count_by:
        console.print(f"\n{what} by {stats.count_by}:")
        table = Table()
        table.add_column(stats.count_by)
        table.add_column("count", justify="right")
        table.add_column("share", justify="right")
        for value, count in sorted(stats.counts.items(), key=lambda item: (-item[1], item[0])):
            table.add_row(value, str(count), f"{100 * count / stats.records:.1f}%")
        console.print(table)
    if stats.has_duration:
        key = stats.group_key
        if key:
            console.print("\n" + _heading(f"duration by {key}", min(TOP, stats.groups), stats.groups, "groups"))
        else:
            console.print("\nduration:")
        rows = stats.duration_rows()
        if rows:
            table = Table()
            table.add_column(key or "", overflow="fold")
            for name in ("count", "p50", "p90", "p99", "max"):
                table.add_column(name, justify="right")
            for group, count, quantiles, longest in rows:
                table.add_row(group, str(count), *(human_seconds(q) for q in quantiles), human_seconds(longest))
            console.print(table)
        else:
            console.print(f"(none of the {stats.records} {what} has a duration set)")
    if stats.has_errors and not stats.errors:
        console.print(f"\nerror codes: (none of the {stats.records} {what} has an error code)")
    elif stats.has_errors:
        console.print("\n" + _heading("error codes", min(TOP, len(stats.errors)), len(stats.errors), "codes"))
        table = Table()
        table.add_column("error_code", overflow="fold")
        table.add_column("count", justify="right")
        for code, count in sorted(stats.errors.items(), key=lambda item: (-item[1], item[0]))[:TOP]:
            table.add_row(code, str(count))
        console.print(table)
