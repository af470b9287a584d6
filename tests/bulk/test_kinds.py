"""The one table of record kinds: every entry agrees with the model, the protobuf message, the columns, the sources
and the test corpus that name the kind."""

from __future__ import annotations

import pytest

from flytecodec import columns, kinds
from flytecodec.sources import grpc, postgres
from flytecodec.testing import corpus


@pytest.mark.parametrize("name", list(kinds.KINDS))
def test_a_kind_names_its_model_message_columns_and_pages(name):
    kind = kinds.get(name)
    model = kind.load()
    assert kind.name == name and model.__name__ == kind.model
    assert model._pb_class.DESCRIPTOR.full_name == kind.message
    assert kinds.BY_MESSAGE[kind.message] is kind
    assert columns.select(model, None)  # every kind has its table of columns
    pages = kind.list_message()
    if name in kinds.LIST_KINDS:
        list_class, field = pages
        assert list_class.DESCRIPTOR.fields_by_name[field].message_type.full_name == kind.message
    else:
        assert pages is None
    if kind.group_key is not None:
        assert kind.group_key in [c.name for c in columns.select(model, None)]


def test_the_sources_and_the_corpus_use_the_kinds_names():
    assert set(grpc.KINDS) == set(kinds.LIST_KINDS) == set(corpus.KINDS)
    assert set(postgres.KINDS) <= set(kinds.KINDS)
    assert set(columns.COLUMNS) == set(kinds.BY_MESSAGE)


def test_an_unknown_kind_names_the_kinds():
    with pytest.raises(ValueError, match="unknown kind 'executions'; choose one of execution, node-execution"):
        kinds.get("executions")
