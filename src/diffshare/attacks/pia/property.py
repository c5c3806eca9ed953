"""A private property of the sharer's rows (``column == value``), and the sharer's rows at an
exact property ratio (:func:`ratio_rows` on 0/1 indicators, :func:`sharer_rows` on a table)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from diffshare.errors import ConfigError, DataError


@dataclass(frozen=True)
class Property:
    """A row property: ``column == value`` (compared as text, as prepared tables store it)."""

    column: str
    value: str

    @classmethod
    def from_config(cls, entry: Mapping[str, Any]) -> Property:
        return cls(column=str(entry["column"]), value=str(entry["value"]))

    def __str__(self) -> str:
        return f"{self.column} == {self.value!r}"

    def indicator(self, table: pd.DataFrame, what: str = "table") -> np.ndarray:
        """1 where a row has the property, else 0; int8, shape (n_rows,)."""
        if self.column not in table.columns:
            raise DataError(
                f"{what} has no column {self.column!r} (property {self}); "
                f"it has {list(table.columns)}"
            )
        return (table[self.column].astype(str).to_numpy() == self.value).astype(np.int8)


def ratio_rows(
    has: np.ndarray, ratio: float, size: int, seed: int, *, what: str = "the property"
) -> np.ndarray:
    """Positions of ``size`` pool rows of which exactly ``round(ratio * size)`` have the property
    (``has``: 0/1 per pool row, shape (n,)), drawn without replacement and shuffled; shape
    (size,). ``what`` names the property in errors."""
    if not 0.0 <= ratio <= 1.0:
        raise ConfigError(f"property ratio must be in [0, 1], got {ratio}")
    if size < 1:
        raise ConfigError(f"subset size must be at least 1, got {size}")
    has = np.asarray(has).astype(bool)
    k = int(round(ratio * size))
    available = {"with": int(has.sum()), "without": int((~has).sum())}
    needed = {"with": k, "without": size - k}
    for side in ("with", "without"):
        if needed[side] > available[side]:
            raise DataError(
                f"the pool has {available[side]} rows {side} {what}, but a subset of "
                f"{size} rows at ratio {ratio} needs {needed[side]}; lower the subset size or "
                "choose ratios the pool can supply"
            )
    rng = np.random.default_rng(seed)
    chosen = np.concatenate(
        [
            rng.choice(np.flatnonzero(has), size=k, replace=False),
            rng.choice(np.flatnonzero(~has), size=size - k, replace=False),
        ]
    )
    return rng.permutation(chosen)


def sharer_rows(
    pool: pd.DataFrame, prop: Property, *, ratio: float, size: int, seed: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """The sharer's rows of ``pool`` (a table with the property's column: a tabular pool, or the
    attribute table of an image pool) at an exact property ``ratio``: their positions, shape
    (size,) (:func:`ratio_rows`), and a record with the realised ratio and the pool's."""
    has = prop.indicator(pool, "the pool")
    rows = ratio_rows(has, ratio, size, seed, what=f"property {prop}")
    record = {
        "property": {"column": prop.column, "value": prop.value},
        "ratio": float(ratio),
        "true_ratio": float(has[rows].mean()),
        "size": int(len(rows)),
        "seed": int(seed),
        "n_pool": int(len(pool)),
        "pool_ratio": float(has.mean()),
    }
    return rows, record
