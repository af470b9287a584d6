"""Docstrings of the model properties: the type a decoded model gives and flytekit's description of it.

Both come from ``_docs_table.tsv``, generated with the type stubs by ``scripts/gen_stubs.py`` (the types are the
stubs' own; the descriptions are flytekit's property docstrings, or its constructor's ``:param:`` text).
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterable

with open(os.path.join(os.path.dirname(__file__), "_docs_table.tsv"), encoding="utf-8") as _table:
    # "<message>.<field>", the type and flytekit's description, tab-separated, one property a line
    DOCS: dict[str, tuple[str, str]] = {
        key: (type_, doc) for key, type_, doc in (r.rstrip("\n").split("\t") for r in _table)
    }

PROPERTIES_HEADING = "Properties (as a decoded model gives them):"


def property_doc(message: str, field: str) -> str | None:
    """The docstring of the property of field ``field`` (its proto name) of ``message`` (a proto full name):
    ``"<type>: <flytekit's description>"`` and the proto field; None for a field the table does not have."""
    entry = DOCS.get(f"{message}.{field}")
    if entry is None:
        return None
    type_, description = entry
    return f"{type_}: {description}\n\n``{message}.{field}``" if description else f"{type_}\n\n``{message}.{field}``"


def class_doc(doc: str | None, message: str, fields: Iterable[tuple[str, str]]) -> str | None:
    """``doc`` followed by a list of the properties of ``fields`` (``(property name, proto name)`` pairs of
    ``message``), each with its type and flytekit's description, as ``help()`` shows a class docstring."""
    lines = []
    for name, proto in fields:
        entry = DOCS.get(f"{message}.{proto}")
        if entry is not None:
            lines.append(f"    {name}: {entry[0]}")
            if entry[1]:
                lines.append(f"        {entry[1]}")
    if not lines:
        return doc
    head = ""
    if doc:  # dedented as help() would, so that the list below keeps its own indentation
        first, _, rest = doc.strip("\n").partition("\n")
        head = (first.strip() + "\n" + textwrap.dedent(rest)).rstrip() + "\n\n"
    return head + PROPERTIES_HEADING + "\n" + "\n".join(lines)
