"""Rows a table generator draws, put back in the training table's shape.

Libraries that generate tables (the ``ctgan`` package, SDV, a user's own class) are fitted on
plain values and hand back plain values: categories as text, integers as floats. A prepared
table's later stages need its exact columns, dtypes and category sets.
:func:`row_layout` records them at ``fit``; :func:`conform_rows` restores them on the samples and
refuses what no training row could have been (an unknown category, a non-finite number, a
missing column). The layout is plain JSON, so a saved model carries it in its ``config.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from diffshare.data.schema import TableSchema
from diffshare.errors import DiffshareError

#: The keys of a layout.
LAYOUT_KEYS = ("columns", "numeric", "integer", "categories")


def row_layout(table: pd.DataFrame, schema: TableSchema) -> dict[str, Any]:
    """The training ``table``'s columns of ``schema`` in order, its numeric ones, those of them
    holding integers, and each categorical column's (and the label's) category set."""
    columns = [c for c in table.columns if c in schema.columns]
    discrete = [c for c in (*schema.categorical, schema.label) if c in columns]
    return {
        "columns": columns,
        "numeric": [c for c in schema.numeric if c in columns],
        "integer": [c for c in schema.numeric if pd.api.types.is_integer_dtype(table[c])],
        "categories": {
            c: [str(v) for v in table[c].cat.categories]
            if isinstance(table[c].dtype, pd.CategoricalDtype)
            else sorted(table[c].astype(str).unique())
            for c in discrete
        },
    }


def plain_rows(table: pd.DataFrame, layout: Mapping[str, Any]) -> pd.DataFrame:
    """The layout's columns of ``table`` with every categorical column as plain text (what
    libraries that know nothing of pandas categoricals, or of categories without rows, take)."""
    data = table[list(layout["columns"])].copy()
    for column in layout["categories"]:
        data[column] = data[column].astype(str).to_numpy(dtype=object)
    return data.reset_index(drop=True)


def conform_rows(raw: pd.DataFrame, layout: Mapping[str, Any], family: str) -> pd.DataFrame:
    """``raw`` samples as a table of the training layout: its columns in order, categories
    restored (text compared), integers rounded, index ``row_id`` 0..n-1. Raises
    :class:`DiffshareError` naming the ``family`` and the column for a missing column, a value
    outside the training categories, or a non-finite number."""
    if not isinstance(raw, pd.DataFrame):
        raise DiffshareError(
            f"generator {family!r} sampled a {type(raw).__name__}, not a pandas DataFrame"
        )
    missing = [c for c in layout["columns"] if c not in raw.columns]
    if missing:
        raise DiffshareError(
            f"generator {family!r} sampled rows without the columns {missing}; "
            f"it gave {list(raw.columns)}"
        )
    data: dict[str, Any] = {}
    for column in layout["columns"]:
        if column in layout["categories"]:
            categories = layout["categories"][column]
            values = raw[column].astype(str).to_numpy()
            unknown = sorted(set(values) - set(categories))
            if unknown:
                raise DiffshareError(f"{family} sampled unknown {column!r} values {unknown[:10]}")
            data[column] = pd.Categorical(values, categories=categories)
            continue
        try:
            values = raw[column].to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise DiffshareError(
                f"{family} sampled non-numeric values in the numeric column {column!r}: {error}"
            ) from error
        if not np.isfinite(values).all():
            raise DiffshareError(f"{family} sampled non-finite values in {column!r}")
        data[column] = np.round(values).astype(np.int64) if column in layout["integer"] else values
    table = pd.DataFrame(data)
    table.index = pd.RangeIndex(len(table), name="row_id")
    return table
