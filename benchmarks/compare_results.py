"""Compare the result tables of two runs of the workflow: equal to a tolerance, or say where not.

Used to show that a refactoring leaves results unchanged: run the same targets with the same
config in two checkouts (for example `git worktree add ../before <commit>`), then

    python benchmarks/compare_results.py ../before/results results \
        fpa/adult.csv pia/adult.csv fpa/cmnist.csv pia/mnist.csv

Exits 1 naming the first table, column and row that differ by more than --tolerance (1e-9);
text columns must match exactly and both tables must have the same rows and columns.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def differences(before: pd.DataFrame, after: pd.DataFrame, tolerance: float) -> list[str]:
    """Human-readable differences between two tables (empty when they agree)."""
    if list(before.columns) != list(after.columns):
        return [f"columns differ: {list(before.columns)} != {list(after.columns)}"]
    if len(before) != len(after):
        return [f"{len(before)} rows before, {len(after)} after"]
    found = []
    for column in before.columns:
        a, b = before[column], after[column]
        if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
            x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
            same = (np.abs(x - y) <= tolerance) | (np.isnan(x) & np.isnan(y))
        else:
            same = (a.astype(str) == b.astype(str)).to_numpy()
        if not same.all():
            row = int(np.flatnonzero(~same)[0])
            found.append(
                f"column {column!r}: {int((~same).sum())} rows differ, first row {row}: "
                f"{a.iloc[row]!r} before, {b.iloc[row]!r} after"
            )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path, help="results folder of the reference run")
    parser.add_argument("after", type=Path, help="results folder of the run to check")
    parser.add_argument("tables", nargs="+", help="CSV paths relative to both folders")
    parser.add_argument("--tolerance", type=float, default=1e-9)
    args = parser.parse_args(argv)
    failed = False
    for name in args.tables:
        before, after = pd.read_csv(args.before / name), pd.read_csv(args.after / name)
        found = differences(before, after, args.tolerance)
        print(f"{name}: {len(before)} rows, {'equal' if not found else 'DIFFERENT'}")
        for line in found:
            print(f"  {line}")
        failed |= bool(found)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
