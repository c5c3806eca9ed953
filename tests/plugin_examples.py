"""Small but real generator families written as third-party plugins would be (the interface of
diffshare.generators.plugins), for the plugin tests. Nothing here imports diffshare internals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd


class IndependentColumns:
    """Draws every column on its own from its training values (a product of the marginals):
    the simplest generator that keeps each column's distribution and no dependence. Sample-only,
    as a library that can only pickle would be."""

    modality = "table"
    diffusion = False
    persistence = "sample_only"

    def __init__(self, *, seed: int = 0, smoothing: float = 0.0):
        self.seed, self.smoothing = seed, smoothing

    def fit(self, table: pd.DataFrame):
        self.columns_ = {c: table[c].tolist() for c in table.columns}
        return self

    def sample(self, n: int, *, seed: int = 0) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        return pd.DataFrame(
            {
                c: [values[i] for i in rng.integers(0, len(values), n)]
                for c, values in self.columns_.items()
            }
        )


class SavedColumns(IndependentColumns):
    """IndependentColumns saved safely (plain JSON), declared a diffusion model so that the
    claims compare it as one; its fit takes the schema too."""

    diffusion = True
    persistence = "safe"

    def fit(self, table: pd.DataFrame, schema):
        self.label_ = schema.label
        return super().fit(table)

    def save(self, folder):
        Path(folder, "columns.json").write_text(json.dumps(self.columns_))

    @classmethod
    def load(cls, folder):
        model = cls()
        model.columns_ = json.loads(Path(folder, "columns.json").read_text())
        return model


class NoSample:
    """Declares everything but cannot sample."""

    modality = "table"
    diffusion = False
    persistence = "sample_only"

    def fit(self, table):
        return self


class MeanImages:
    """An image family: each class's mean image plus noise (safe: saved as .npy)."""

    modality = "image"
    diffusion = False
    persistence = "safe"

    def __init__(self, *, seed: int = 0, num_classes: int = 1, noise: float = 10.0):
        self.seed, self.num_classes, self.noise = seed, num_classes, noise

    def fit(self, images: np.ndarray, labels: np.ndarray):
        self.means_ = np.stack(
            [images[labels == k].mean(axis=0) for k in range(self.num_classes)]
        ).astype(np.float32)
        return self

    def sample(self, n: int, labels: np.ndarray | None = None, *, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        labels = rng.integers(0, len(self.means_), n) if labels is None else labels
        pixels = self.means_[labels] + rng.normal(0, self.noise, (n, *self.means_.shape[1:]))
        return np.clip(np.round(pixels), 0, 255).astype(np.uint8)

    def save(self, folder):
        np.save(Path(folder, "means.npy"), self.means_, allow_pickle=False)

    @classmethod
    def load(cls, folder):
        model = cls()
        model.means_ = np.load(Path(folder, "means.npy"), allow_pickle=False)
        return model
