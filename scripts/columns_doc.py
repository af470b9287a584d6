"""Write docs/columns.md, the columns of ``Batch.to_arrow()`` for each record kind, from flytecodec.columns."""

import pathlib

from flytecodec.columns import docs_markdown

target = pathlib.Path(__file__).parents[1] / "docs" / "columns.md"
target.write_text(docs_markdown())
print(f"wrote {target}")
