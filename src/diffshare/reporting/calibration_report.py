"""What calibration buys, rendered from a recorded property inference table (never typed).

:func:`calibration_summary` reads a results/pia table at its largest query count and gives, per
generator family, the ``calibrated`` attack's coverage, interval width and error beside the best
raw attack's (the raw attack with the smallest error) and Hoeffding's coverage of every raw
attack; :func:`sensitivity_summary` reads results/pia/calibration/{dataset}.csv the same way
(every target family calibrated with every family's shadows, and with their span).
:func:`calibration_markdown` renders both as one page:

``python -m diffshare.reporting.calibration_report results/pia/adult.csv
results/pia/calibration/adult.csv > docs/recorded/adult-calibration/calibration.md``

A test re-renders each recorded page from the CSVs beside it, so the page cannot drift.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import pandas as pd

from diffshare.attacks.pia.calibration import CALIBRATED
from diffshare.errors import DataError


def _largest(table: pd.DataFrame, what: str) -> tuple[pd.DataFrame, int]:
    needed = {"generator", "n_queries", "coverage", "interval_width", "abs_error"}
    if not needed <= set(table.columns):
        raise DataError(f"{what} lacks the columns {sorted(needed - set(table.columns))}")
    n = int(table["n_queries"].max())
    return table[table["n_queries"] == n], n


def _pooled(rows: pd.DataFrame) -> dict[str, float]:
    """Coverage pooled over every repeat (weighted by ``repeats`` where the table has them),
    the per-seed range of coverage, the mean width and the mean absolute error."""
    weights = rows["repeats"] if "repeats" in rows else pd.Series(1.0, index=rows.index)
    per_seed = rows.assign(_w=weights, _c=rows["coverage"] * weights).groupby("seed")
    seeds = per_seed["_c"].sum() / per_seed["_w"].sum()
    return {
        "coverage": float((rows["coverage"] * weights).sum() / weights.sum()),
        "coverage_low": float(seeds.min()),
        "coverage_high": float(seeds.max()),
        "width": float(rows["interval_width"].mean()),
        "abs_error": float(rows["abs_error"].mean()),
        "seeds": int(rows["seed"].nunique()),
    }


def calibration_summary(pia: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """One row per generator of a results/pia table holding ``calibrated`` rows, at its largest
    query count ``n`` (returned beside): the calibrated attack's pooled coverage (and its range
    over seeds), mean interval width and mean absolute error; the best raw attack (smallest
    error) with its error; and every raw attack's Hoeffding coverage."""
    rows, n = _largest(pia, "the PIA table")
    if CALIBRATED not in set(rows["attack"]):
        raise DataError("the PIA table has no calibrated rows (pia.attacks lists no 'calibrated')")
    records = []
    for generator, group in rows.groupby("generator", sort=False):
        mine = group[group["attack"] == CALIBRATED]
        if mine.empty:
            continue
        record = {"generator": generator, **_pooled(mine)}
        raw = {a: _pooled(g) for a, g in group[group["attack"] != CALIBRATED].groupby("attack")}
        best = min(raw, key=lambda a: raw[a]["abs_error"])
        record.update(best_raw=best, best_raw_error=raw[best]["abs_error"])
        record.update({f"hoeffding_{a}": raw[a]["coverage"] for a in sorted(raw)})
        record["hoeffding_width"] = raw[best]["width"]
        records.append(record)
    return pd.DataFrame.from_records(records), n


def sensitivity_summary(sensitivity: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Coverage and mean absolute error of every target family (rows) calibrated with every
    family (columns ``<family>_coverage``, ``<family>_error``), pooled over seeds, at the
    largest query count ``n``."""
    rows, n = _largest(sensitivity, "the calibration sensitivity table")
    weights = rows["estimates"]
    frame = rows.assign(_c=rows["coverage"] * weights, _e=rows["abs_error"] * weights, _w=weights)
    pooled = frame.groupby(["generator", "calibrated_with"], sort=False)[["_c", "_e", "_w"]].sum()
    pooled["coverage"] = pooled["_c"] / pooled["_w"]
    pooled["abs_error"] = pooled["_e"] / pooled["_w"]
    return pooled[["coverage", "abs_error"]].reset_index(), n


def _cell(value: float) -> str:
    return f"{value:.3f}"


def calibration_tables(
    pia: pd.DataFrame, sensitivity: pd.DataFrame | None, level: int = 2
) -> list[str]:
    """The markdown lines of :func:`calibration_summary` and, when given,
    :func:`sensitivity_summary`, the second under a heading of ``level``."""
    summary, n = calibration_summary(pia)
    raw_attacks = [c.removeprefix("hoeffding_") for c in summary if c.startswith("hoeffding_")]
    raw_attacks = [a for a in raw_attacks if a != "width"]
    lines = [
        f"At {n} queries, pooled over every repeat, true share and seed. `coverage`: the share of",
        "calibrated intervals (nominal 1 - delta) holding the true share, with its range over",
        "seeds; `width`: their mean width; `error`: mean absolute error of the estimates. The",
        "best raw attack is the one with the smallest error; `Hoeffding` is the share of each raw",
        "attack's estimates within Hoeffding's eps (of width 2 eps).",
        "",
        "| generator | seeds | coverage (seed range) | width | error | best raw attack: error "
        "| 2 eps | " + " | ".join(f"Hoeffding {a}" for a in raw_attacks) + " |",
        "| --- " * (7 + len(raw_attacks)) + "|",
    ]
    for r in summary.to_dict("records"):
        cells = [
            str(r["generator"]),
            str(r["seeds"]),
            f"{_cell(r['coverage'])} ({_cell(r['coverage_low'])}-{_cell(r['coverage_high'])})",
            _cell(r["width"]),
            _cell(r["abs_error"]),
            f"{r['best_raw']}: {_cell(r['best_raw_error'])}",
            _cell(r["hoeffding_width"]),
            *[_cell(r[f"hoeffding_{a}"]) for a in raw_attacks],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if sensitivity is not None:
        table, n = sensitivity_summary(sensitivity)
        families = list(dict.fromkeys(table["calibrated_with"]))
        lines += [
            "",
            "#" * level + " Calibrated with another family's shadows",
            "",
            "Each target family (rows) calibrated with each family's shadow models (columns) at",
            f"{n} queries: coverage / error. `any family` spans every family's interval, the",
            "interval a receiver who does not know the family can state.",
            "",
            "| target | " + " | ".join(families) + " |",
            "| --- " * (1 + len(families)) + "|",
        ]
        for generator, group in table.groupby("generator", sort=False):
            by = group.set_index("calibrated_with")
            cells = [
                f"{_cell(by.loc[f, 'coverage'])} / {_cell(by.loc[f, 'abs_error'])}"
                if f in by.index
                else ""
                for f in families
            ]
            lines.append(f"| {generator} | " + " | ".join(cells) + " |")
    return lines


def calibration_markdown(
    pia: pd.DataFrame, sensitivity: pd.DataFrame | None, sources: Sequence[str]
) -> str:
    """The page: :func:`calibration_tables`, headed by the command that renders it from
    ``sources``."""
    lines = [
        "# Calibrated property inference: coverage, width and error",
        "",
        "Rendered from the recorded tables beside this page (a test re-renders it) by:",
        "",
        "```bash",
        "python -m diffshare.reporting.calibration_report " + " ".join(sources),
        "```",
        "",
        *calibration_tables(pia, sensitivity),
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m diffshare.reporting.calibration_report",
        description="Render the calibration page from a results/pia table (and its "
        "results/pia/calibration table) to stdout.",
    )
    parser.add_argument("pia", help="results/pia/{dataset}.csv with calibrated rows")
    parser.add_argument("sensitivity", nargs="?", help="results/pia/calibration/{dataset}.csv")
    args = parser.parse_args(argv)
    sensitivity = pd.read_csv(args.sensitivity) if args.sensitivity else None
    sources = [args.pia, *([args.sensitivity] if args.sensitivity else [])]
    sys.stdout.write(calibration_markdown(pd.read_csv(args.pia), sensitivity, sources))
    return 0


if __name__ == "__main__":
    sys.exit(main())
