"""What both adapters share: the MINE row terms as a table (the ``row_terms.parquet`` the
workflow stores, columns ``t0``, ``t1`` indexed by ``row_id``) and back as the (n, 2) array the
attack cores read."""

from __future__ import annotations

import numpy as np
import pandas as pd

from diffshare.errors import DataError

TERM_COLUMNS = ["t0", "t1"]


def terms_table(terms: np.ndarray, index: pd.Index) -> pd.DataFrame:
    """MINE row terms (n, 2) (T(x, 0), T(x, 1)) as a table indexed by the pool's ``row_id``."""
    return pd.DataFrame(dict(zip(TERM_COLUMNS, np.asarray(terms).T, strict=True)), index=index)


def terms_array(table: pd.DataFrame, index: pd.Index) -> np.ndarray:
    """The (n, 2) terms of a row-terms table, after checking that it belongs to the pool whose
    row ids are ``index``."""
    if not table.index.equals(index):
        raise DataError(
            f"MINE row terms do not belong to this pool (row ids differ: {len(table)} terms "
            f"for {len(index)} pool rows)"
        )
    missing = [c for c in TERM_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"MINE row terms lack the columns {missing}; they have {list(table)}")
    return table[TERM_COLUMNS].to_numpy(dtype=np.float64)
