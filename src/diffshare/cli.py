"""The ``diffshare`` command, for receivers and auditors outside the workflow.

``diffshare audit SAMPLES --reference REF --label income --sensitive sex`` audits a shared
model's samples (Parquet or CSV) against a trusted reference table of real rows
(:func:`diffshare.defenses.audit.audit_samples`) and prints one line per statistic; ``--output``
writes the record as JSON or CSV.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from diffshare.defenses.audit import DEFAULT_C2ST, TESTS, audit_samples
from diffshare.errors import DataError, DiffshareError


def read_table(path: str | Path) -> pd.DataFrame:
    """A table from a ``.parquet`` or ``.csv`` file; :class:`DataError` naming the file
    otherwise."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if suffix in (".csv", ".gz") or path.name.lower().endswith(".csv.gz"):
        return pd.read_csv(path, skipinitialspace=True)
    raise DataError(f"{path}: read .parquet or .csv files, not {suffix or 'no suffix'!r}")


def binary_columns(
    tables: dict[str, pd.DataFrame], column: str, value: str | None, role: str
) -> dict[str, np.ndarray]:
    """Column ``column`` of each table as 0/1, 1 where it holds ``value``. The column must have at
    most two distinct values over all tables; without ``value`` the larger of the two (sorted as
    text) counts as 1. Raises :class:`DataError` naming the column, the table and the values."""
    for name, table in tables.items():
        if column not in table.columns:
            raise DataError(
                f"{name} has no {role} column {column!r}; its columns are {list(table.columns)}"
            )
        if table[column].isna().any():
            raise DataError(f"{name}: the {role} column {column!r} has missing values")
    texts = {name: table[column].astype(str).str.strip() for name, table in tables.items()}
    values = sorted(set().union(*(set(text.unique()) for text in texts.values())))
    if len(values) > 2:
        shown = values[:10] + (["..."] if len(values) > 10 else [])
        raise DataError(
            f"the {role} column {column!r} must be binary; it holds {len(values)} values: {shown}"
        )
    if value is None:
        value = values[-1]
    elif value not in values:
        raise DataError(f"the {role} column {column!r} never holds {value!r}; values: {values}")
    return {name: (text == value).to_numpy().astype(np.int8) for name, text in texts.items()}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diffshare",
        description="Privacy and fairness risks of sharing diffusion models (diffshare).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    audit = commands.add_parser(
        "audit",
        help="audit a shared model's samples against trusted real rows",
        description=(
            "Audit a shared model's samples against a trusted reference of real rows: I(S;Y) and "
            "the label's demographic-parity gap with bootstrap intervals, a Wald z test that the "
            "samples' S-Y gap equals the reference's, and a classifier two-sample test of the "
            "whole table. FLAGGED when a test's p-value is at most LEVEL / number of tests."
        ),
    )
    audit.add_argument("samples", help="the samples (.parquet or .csv)")
    audit.add_argument("--reference", required=True, help="trusted real rows (.parquet or .csv)")
    audit.add_argument("--label", required=True, help="the binary label column")
    audit.add_argument("--sensitive", required=True, help="the binary sensitive column")
    audit.add_argument(
        "--positive", help="the label's positive value (default: the larger, sorted as text)"
    )
    audit.add_argument(
        "--privileged",
        help="the sensitive column's privileged value (default: the larger, sorted as text)",
    )
    audit.add_argument("--level", type=float, default=0.05, help="false-alarm rate (0.05)")
    audit.add_argument(
        "--tests",
        nargs="+",
        choices=TESTS,
        default=list(TESTS),
        help="tests to run (both by default)",
    )
    audit.add_argument("--bootstrap", type=int, default=1000, help="bootstrap draws (1000)")
    audit.add_argument("--seed", type=int, default=0, help="seed of every random draw (0)")
    audit.add_argument("--output", help="write the record to this .json or .csv file")
    return parser


def run_audit(args: argparse.Namespace) -> dict:
    samples, reference = read_table(args.samples), read_table(args.reference)
    tables = {f"samples {args.samples}": samples, f"reference {args.reference}": reference}
    y = binary_columns(tables, args.label, args.positive, "label")
    s = binary_columns(tables, args.sensitive, args.privileged, "sensitive")
    (y_samples, y_reference), (s_samples, s_reference) = y.values(), s.values()
    return audit_samples(
        samples,
        reference,
        s_samples=s_samples,
        y_samples=y_samples,
        s_reference=s_reference,
        y_reference=y_reference,
        level=args.level,
        tests=args.tests,
        n_bootstrap=args.bootstrap,
        classifier=DEFAULT_C2ST,
        seed=args.seed,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        record = run_audit(args)
        if args.output:
            from diffshare.storage import write_csv, write_json

            if args.output.lower().endswith(".csv"):
                write_csv(pd.DataFrame([record]), args.output)
            else:
                write_json({k: _plain(v) for k, v in record.items()}, args.output)
    except DiffshareError as error:
        print(f"diffshare audit: error: {error}", file=sys.stderr)
        return 2
    width = max(map(len, record))
    for key, value in record.items():
        shown = f"{value:.4g}" if isinstance(value, float) else json.dumps(_plain(value))
        print(f"{key:<{width}}  {shown}")
    return 0


def _plain(value):
    """JSON-ready: numpy scalars as Python ones, NaN as null."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


if __name__ == "__main__":
    sys.exit(main())
