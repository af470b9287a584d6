"""Tables for people (issue 10, item 17): a time outside Arrow's range as null on request, and pandas cells of
map and list columns as dicts and lists."""

from __future__ import annotations

import datetime

import pytest
from google.protobuf import timestamp_pb2

import flytecodec
from flytecodec.models.execution import Execution, ExecutionClosure
from flytecodec.testing import corpus


def _closure(seconds: int) -> bytes:
    return ExecutionClosure._pb_class(started_at=timestamp_pb2.Timestamp(seconds=seconds)).SerializeToString()


def test_a_time_outside_arrows_range_is_null_with_errors_null(backend):
    batch = flytecodec.decode(ExecutionClosure, [_closure(1_700_000_000), _closure(2**62), b""])
    with pytest.raises(ValueError, match="record 1: column started_at"):
        batch.to_arrow(["started_at", "duration"])
    table = batch.to_arrow(["started_at", "duration"], errors="null")
    started = table["started_at"].to_pylist()
    assert started[0] == datetime.datetime.fromtimestamp(1_700_000_000, datetime.timezone.utc)
    assert started[1:] == [None, None]
    assert batch.to_pandas(["started_at"], errors="null")["started_at"].isna().tolist() == [False, True, True]
    with pytest.raises(ValueError, match="errors must be 'raise' or 'null'"):
        batch.to_arrow(errors="ignore")


def test_errors_null_gives_the_same_table_on_both_backends():
    records = [_closure(2**62), _closure(-(2**62)), _closure(12)]
    tables = []
    for name in flytecodec.available_backends():
        with flytecodec.using_backend(name):
            tables.append(flytecodec.decode(ExecutionClosure, records).to_arrow(errors="null"))
    assert all(table.equals(tables[0]) for table in tables)


def test_pandas_gives_maps_as_dicts_and_empty_lists(backend):
    page = corpus.execution_list(40, seed=9)
    batch = flytecodec.decode(Execution, page.SerializeToString(), framing="list")
    frame = batch.to_pandas(["labels", "annotations", "tags"])
    cells = zip(page.executions, frame["labels"], frame["annotations"], frame["tags"])
    for message, labels, notes, tags in cells:
        assert labels == dict(message.spec.labels.values)
        assert notes == dict(message.spec.annotations.values)
        assert tags == list(message.spec.tags)
        assert type(labels) is dict and type(tags) is list
    assert {} in frame["labels"].tolist() and [] in frame["tags"].tolist()
