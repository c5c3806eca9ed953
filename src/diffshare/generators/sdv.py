"""SDV's single-table synthesizers as a plugin family (``pip install 'diffshare[sdv]'``).

:class:`GaussianCopula` wraps SDV's ``GaussianCopulaSynthesizer`` (a Gaussian copula over the
columns' fitted marginals; Patki et al., "The Synthetic Data Vault", IEEE DSAA 2016). It follows
the plugin interface of :mod:`diffshare.generators.plugins`, as a third-party family would, and
is ``sample_only``: SDV saves a synthesizer with cloudpickle, which diffshare never loads, so the
workflow trains it and draws its samples in one job and keeps only the samples.

What SDV needs (found with SDV 2.0): a table is passed as ``{name: frame}`` to ``fit`` and
returned as such by ``sample``; the metadata is written here, never left to SDV's detection
(which may read a column of countries as personal data to anonymise, or a numeric column of
distinct values as a primary key); categories are plain text (pandas categoricals that declare
categories without rows raise inside rdt); sampling is seeded through the synthesizer's random
state after fit.
"""

from __future__ import annotations

import logging
import time
import warnings
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from diffshare.errors import ConfigError, DiffshareError

log = logging.getLogger(__name__)

#: The table's name in SDV's metadata.
TABLE = "sharer"


class GaussianCopula:
    """SDV's ``GaussianCopulaSynthesizer`` with keyword ``params`` (``default_distribution``,
    ``numerical_distributions``, ``enforce_min_max_values``, ``enforce_rounding``). Numeric
    columns of the training table are ``numerical``, every other column ``categorical``."""

    modality: ClassVar[str] = "table"
    diffusion: ClassVar[bool] = False
    persistence: ClassVar[str] = "sample_only"
    synthesizer: ClassVar[str] = "GaussianCopulaSynthesizer"

    def __init__(self, *, seed: int = 0, **params: Any) -> None:
        self.seed = int(seed)
        self.params = dict(params)

    def fit(self, table: pd.DataFrame) -> GaussianCopula:
        """Fit on ``table`` (plain values: numbers and text), no missing values."""
        import sdv.single_table
        from sdv.metadata import Metadata

        if table.isna().any().any():
            columns = table.columns[table.isna().any()].tolist()
            raise DiffshareError(f"{self.synthesizer}: the table has missing values in {columns}")
        frame = table.reset_index(drop=True)
        # Written, not detected: detection may make a column of distinct numbers a primary
        # key, or a column of countries personal data to anonymise.
        columns = {
            column: {
                "sdtype": "numerical"
                if pd.api.types.is_numeric_dtype(frame[column])
                else "categorical"
            }
            for column in frame.columns
        }
        metadata = Metadata.load_from_dict({"tables": {TABLE: {"columns": columns}}})
        synthesizer_class = getattr(sdv.single_table, self.synthesizer)
        with warnings.catch_warnings():
            # SDV advises saving the detected metadata; it is rebuilt from the table each fit.
            warnings.filterwarnings("ignore", message=".*save_to_json.*")
            try:
                self.model_ = synthesizer_class(metadata, **self.params)
            except (TypeError, ValueError) as error:
                raise ConfigError(
                    f"generator.plugin_settings: {self.synthesizer} refused {self.params}: {error}"
                ) from error
            start = time.perf_counter()
            np.random.seed(self.seed % 2**32)  # copulas draws from numpy's global state
            self.model_.fit({TABLE: frame})
        log.info(
            "fitted %s on %d rows in %.1f s",
            self.synthesizer,
            len(frame),
            time.perf_counter() - start,
        )
        return self

    def sample(self, n: int, *, seed: int = 0) -> pd.DataFrame:
        """``n`` rows with the training table's columns; the same fit, ``n`` and ``seed`` give
        the same rows."""
        self.model_._set_random_state(int(seed))
        rows = self.model_.sample(int(n))
        return rows[TABLE] if isinstance(rows, dict) else rows
