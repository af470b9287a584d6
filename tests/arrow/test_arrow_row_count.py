"""A table of no columns keeps a row per record, on both backends (a record count, as ``columns=[]`` asks)."""

from __future__ import annotations

import flytecodec
from flytecodec.testing import corpus


def test_a_table_of_no_columns_has_a_row_per_record(backend):
    for n in (0, 1, 5, 3000):
        batch = flytecodec.decode_executions(corpus.execution_list(n, seed=1).SerializeToString(), framing="list")
        table = batch.to_arrow([])
        assert (table.num_rows, table.num_columns) == (n, 0)
        assert batch.to_pandas([]).shape == (n, 0)
