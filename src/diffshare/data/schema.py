"""The roles of a prepared table's columns: :class:`ColumnRoles` (what a dataset description
names) and :class:`TableSchema` (the roles plus every categorical column's categories), saved as
JSON beside the tables so that later stages know each column's role."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from diffshare.errors import ConfigError, DataError


@dataclass(frozen=True)
class ColumnRoles:
    """Numeric and categorical feature columns, the binary label with its positive value and the
    sensitive attribute with its privileged value."""

    numeric: list[str]
    categorical: list[str]
    label: str
    positive: str
    sensitive: str
    privileged: str


@dataclass(frozen=True)
class TableSchema(ColumnRoles):
    """The role of every column of a prepared table, and the category set of each categorical
    column (and the label). Saved as JSON beside the tables."""

    categories: dict[str, list[str]] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        """All columns of a prepared table, in order: numeric, categorical, label."""
        return [*self.numeric, *self.categorical, self.label]

    def feature_columns(self, use_sensitive: bool = True) -> list[str]:
        """Input columns of a downstream classifier; the sensitive column only if asked."""
        return [
            c for c in [*self.numeric, *self.categorical] if use_sensitive or c != self.sensitive
        ]

    def labels(self, table: pd.DataFrame) -> np.ndarray:
        """Binary label y (int8, 1 = positive value), shape (n_rows,)."""
        self._require(table, self.label)
        return (table[self.label].astype(str).to_numpy() == self.positive).astype(np.int8)

    def groups(self, table: pd.DataFrame) -> np.ndarray:
        """Binary sensitive attribute s (int8, 1 = privileged group), shape (n_rows,)."""
        self._require(table, self.sensitive)
        return (table[self.sensitive].astype(str).to_numpy() == self.privileged).astype(np.int8)

    def check_table(self, table: pd.DataFrame, what: str = "table") -> None:
        """Raise :class:`DataError` if ``table`` lacks a column of this schema or holds NaN."""
        missing = [c for c in self.columns if c not in table.columns]
        if missing:
            raise DataError(f"{what} lacks the columns {missing}; it has {list(table.columns)}")
        nulls = table[self.columns].isna().sum()
        nulls = nulls[nulls > 0]
        if len(nulls):
            raise DataError(f"{what} has missing values in columns {nulls.to_dict()}")

    def check_property(self, column: str, value: str, *, hide: bool = False) -> None:
        """Raise :class:`ConfigError` unless the private property ``column == value`` names a
        categorical column or the label, with ``value`` among its categories when those are
        known; ``hide``: the sharer leaves the column out, which the label cannot be."""
        if column not in [*self.categorical, self.label]:
            raise ConfigError(
                f"property column {column!r} must be a categorical column or the label "
                f"(categorical: {self.categorical}, label: {self.label!r})"
            )
        if hide and column == self.label:
            raise ConfigError(
                f"pia.hide_property cannot hide the label column {column!r}: the shared "
                "model is conditioned on it"
            )
        known = self.categories.get(column)
        if known and value not in known:
            raise ConfigError(
                f"property value {value!r} never occurs in column {column!r} (values: {known})"
            )

    def without(self, column: str) -> TableSchema:
        """This schema with feature ``column`` left out (a column the sharer hides)."""
        if column not in [*self.numeric, *self.categorical]:
            raise ConfigError(
                f"cannot leave out {column!r}: it is not a feature column of the table "
                f"(numeric: {self.numeric}, categorical: {self.categorical})"
            )
        return replace(
            self,
            numeric=[c for c in self.numeric if c != column],
            categorical=[c for c in self.categorical if c != column],
            categories={k: v for k, v in self.categories.items() if k != column},
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableSchema:
        return cls(**data)

    def _require(self, table: pd.DataFrame, column: str) -> None:
        if column not in table.columns:
            raise DataError(f"table has no column {column!r}; it has {list(table.columns)}")
