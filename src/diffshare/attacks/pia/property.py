"""A private property of the sharer's rows (``column == value``), and the sharer's table at an
exact property ratio."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from diffshare.data.tabular import TableSchema
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

    def check_schema(self, schema: TableSchema, *, hide: bool = False) -> None:
        """Raise :class:`ConfigError` unless the property is a categorical column or the label
        of ``schema``, with ``value`` among its categories when those are known."""
        if self.column not in [*schema.categorical, schema.label]:
            raise ConfigError(
                f"property column {self.column!r} must be a categorical column or the label "
                f"(categorical: {schema.categorical}, label: {schema.label!r})"
            )
        if hide and self.column == schema.label:
            raise ConfigError(
                f"pia.hide_property cannot hide the label column {self.column!r}: the shared "
                "model is conditioned on it"
            )
        known = schema.categories.get(self.column)
        if known and self.value not in known:
            raise ConfigError(
                f"property value {self.value!r} never occurs in column {self.column!r} "
                f"(values: {known})"
            )


def ratio_subset(
    pool: pd.DataFrame, prop: Property, ratio: float, size: int, seed: int
) -> pd.DataFrame:
    """``size`` rows of ``pool`` of which exactly ``round(ratio * size)`` have the property,
    drawn without replacement and shuffled; the index (``row_id``) is kept."""
    if not 0.0 <= ratio <= 1.0:
        raise ConfigError(f"property ratio must be in [0, 1], got {ratio}")
    if size < 1:
        raise ConfigError(f"subset size must be at least 1, got {size}")
    has = prop.indicator(pool, "the pool").astype(bool)
    k = int(round(ratio * size))
    available = {"with": int(has.sum()), "without": int((~has).sum())}
    needed = {"with": k, "without": size - k}
    for side in ("with", "without"):
        if needed[side] > available[side]:
            raise DataError(
                f"the pool has {available[side]} rows {side} property {prop}, but a subset of "
                f"{size} rows at ratio {ratio} needs {needed[side]}; lower pia.subset_size or "
                "choose ratios the pool can supply"
            )
    rng = np.random.default_rng(seed)
    chosen = np.concatenate(
        [
            rng.choice(np.flatnonzero(has), size=k, replace=False),
            rng.choice(np.flatnonzero(~has), size=size - k, replace=False),
        ]
    )
    return pool.iloc[rng.permutation(chosen)]
