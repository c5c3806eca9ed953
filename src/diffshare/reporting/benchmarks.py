"""Snakemake's per-job benchmark files gathered into one table (results/benchmarks.csv).

Every expensive rule writes ``results/benchmarks/<rule>/<wildcards...>.tsv`` (Snakemake's
``benchmark:`` directive): wall seconds, peak memory and CPU time of the job.
:func:`collect_benchmarks` reads them all into one row per job (per repeat when a rule was
benchmarked several times).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from diffshare.errors import DataError

#: Columns of results/benchmarks.csv, in order.
BENCHMARK_COLUMNS = ["rule", "wildcards", "repeat", "seconds", "max_rss_mb", "cpu_seconds"]


def collect_benchmarks(folder: str | os.PathLike) -> pd.DataFrame:
    """One row per benchmark file under ``folder`` (and per repeat inside it): the rule (first
    path segment), the wildcards (the rest of the path, without ``.tsv``), wall seconds, peak
    resident memory in MB and CPU seconds; sorted by rule and wildcards."""
    folder = Path(folder)
    rows: list[dict] = []
    for path in sorted(folder.rglob("*.tsv")):
        relative = path.relative_to(folder)
        if len(relative.parts) < 2:
            raise DataError(f"benchmark file {path} is not under a rule's folder")
        try:
            table = pd.read_csv(path, sep="\t", na_values=["-", "NA"])
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
            message = f"benchmark file {path} is not a Snakemake benchmark: {error}"
            raise DataError(message) from None
        if "s" not in table.columns:
            raise DataError(f"benchmark file {path} has no column 's' (wall seconds)")
        for repeat, record in enumerate(table.to_dict("records")):
            rows.append(
                {
                    "rule": relative.parts[0],
                    "wildcards": relative.with_suffix("").as_posix().split("/", 1)[1],
                    "repeat": repeat,
                    "seconds": float(record["s"]),
                    "max_rss_mb": record.get("max_rss"),
                    "cpu_seconds": record.get("cpu_time"),
                }
            )
    return pd.DataFrame(rows, columns=BENCHMARK_COLUMNS)
