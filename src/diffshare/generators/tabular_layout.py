"""The column layout of the tabular diffusion model (:mod:`diffshare.generators.tabddpm`):
which columns it generates, how a prepared table is encoded into its arrays, and how sampled
arrays are decoded back into a table with the training table's columns, dtypes and categories.

A categorical column is diffused over the categories its training rows hold, as in TabDDPM and
CTGAN, not over every category the schema declares: a declared category without a training row
(all-male rows for a property ratio of 0) would otherwise be a state the multinomial noise visits
and the model must learn never to predict, which a briefly trained model does not (it drew half
the rows female). Samples still carry the declared category set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from diffshare.data.schema import TableSchema
from diffshare.errors import DataError, DiffshareError
from diffshare.generators.transforms import QuantileNormal


@dataclass
class ColumnLayout:
    """Which columns the model generates, and how each is encoded."""

    numeric: list[str]
    integer: list[bool]  # per numeric column: round samples and store as int64
    categorical: list[str]
    categories: dict[str, list[str]]
    label: str
    label_categories: list[str]
    label_counts: list[int]
    columns: list[str] = field(default_factory=list)  # the training table's column order
    # Per categorical column, the training rows of each declared category (saved models without
    # it hold every category).
    category_counts: dict[str, list[int]] = field(default_factory=dict)

    def present(self, column: str) -> np.ndarray:
        """Indices (into ``categories[column]``) of the categories the model generates: those
        with a training row."""
        counts = self.category_counts.get(column)
        if counts is None:
            return np.arange(len(self.categories[column]))
        return np.flatnonzero(np.asarray(counts) > 0)

    @property
    def num_classes(self) -> list[int]:
        """The number of categories the model generates, per categorical column."""
        return [len(self.present(c)) for c in self.categorical]

    @classmethod
    def from_table(cls, table: pd.DataFrame, schema: TableSchema) -> ColumnLayout:
        """The layout of a prepared training ``table`` (categorical columns as ``category``)."""
        schema.check_table(table, "training table")
        categories = {}
        for column in [*schema.categorical, schema.label]:
            if not isinstance(table[column].dtype, pd.CategoricalDtype):
                raise DataError(
                    f"training column {column!r} must be categorical (a prepared table)"
                )
            categories[column] = [str(c) for c in table[column].cat.categories]
        counts = {
            column: np.bincount(table[column].cat.codes, minlength=len(categories[column]))
            for column in categories
        }
        return cls(
            numeric=list(schema.numeric),
            integer=[pd.api.types.is_integer_dtype(table[c].dtype) for c in schema.numeric],
            categorical=list(schema.categorical),
            categories={c: categories[c] for c in schema.categorical},
            label=schema.label,
            label_categories=categories[schema.label],
            label_counts=[int(n) for n in counts[schema.label]],
            columns=[c for c in table.columns if c in schema.columns],
            category_counts={c: [int(n) for n in counts[c]] for c in schema.categorical},
        )

    def encode(
        self, table: pd.DataFrame, quantiles: QuantileNormal | None, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``table`` as the model's tensors on ``device``: numeric columns through ``quantiles``
        (float32 ``(n, d_numeric)``), category codes (long ``(n, n_categorical)``) and label
        codes (long ``(n,)``)."""
        numeric = table[self.numeric].to_numpy(dtype=np.float64)
        x_num = quantiles.transform(numeric) if self.numeric else numeric
        codes = np.zeros((len(table), len(self.categorical)), dtype=np.int64)
        for j, column in enumerate(self.categorical):
            # Declared codes -> positions among the generated categories.
            position = np.full(len(self.categories[column]), -1)
            present = self.present(column)
            position[present] = np.arange(len(present))
            codes[:, j] = position[table[column].cat.codes.to_numpy()]
            if (codes[:, j] < 0).any():
                raise DataError(
                    f"column {column!r} holds categories without a training row: "
                    f"{sorted(set(table[column][codes[:, j] < 0].astype(str)))}"
                )
        y = table[self.label].cat.codes.to_numpy()
        return (
            torch.as_tensor(x_num, dtype=torch.float32, device=device),
            torch.as_tensor(codes, dtype=torch.long, device=device),
            torch.tensor(y, dtype=torch.long, device=device),
        )

    def decode(
        self,
        x_num: np.ndarray,
        codes: np.ndarray,
        y: np.ndarray,
        quantiles: QuantileNormal | None,
    ) -> pd.DataFrame:
        """The table of sampled arrays (as :meth:`encode` gives them), indexed ``row_id``."""
        if not np.isfinite(x_num).all():
            raise DiffshareError("sampling produced non-finite numeric values")
        values = quantiles.inverse_transform(x_num) if self.numeric else x_num
        data: dict[str, Any] = {}
        for j, column in enumerate(self.numeric):
            column_values = values[:, j]
            data[column] = (
                np.round(column_values).astype(np.int64) if self.integer[j] else column_values
            )
        for j, column in enumerate(self.categorical):
            data[column] = pd.Categorical.from_codes(
                self.present(column)[codes[:, j]], categories=self.categories[column]
            )
        data[self.label] = pd.Categorical.from_codes(y, categories=self.label_categories)
        table = pd.DataFrame(data)[self.columns]
        table.index = pd.RangeIndex(len(table), name="row_id")
        return table
