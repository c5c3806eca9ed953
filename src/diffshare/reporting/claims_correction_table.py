"""How the multiplicity correction changes the claims' verdicts, and what it asks of the seeds.

Two generated markdown tables (docs/claims.md explains them; tests re-render both, so the pages
cannot drift from the files or the formulas):

- :func:`correction_markdown`: each recorded claims CSV (raw ``p_value``, ``p_value_against``
  and ``n_seeds`` per row) re-tested under every ``claims.correction`` (``none``, ``holm``,
  ``bh``): per claim id, how many rows hold, fail or are inconclusive under each, and how many
  change verdict against ``none``.
  ``python -m diffshare.reporting.claims_correction_table docs/recorded/*/claims_*.csv >
  docs/recorded/claims-correction.md``
- :func:`seeds_markdown`: by formula, not measured, what the strongest row of a family of ``m``
  needs under Holm (``p <= level / m``): the t statistic at a few seed counts, the seeds a
  standardised effect ``mean / sd`` needs, and the seeds an exact sign test needs when every
  seed agrees. ``python -m diffshare.reporting.claims_correction_table --seeds`` (the table in
  docs/claims.md).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping, Sequence

import pandas as pd
from scipy import stats

from diffshare.errors import DataError
from diffshare.reporting.claims import correct

#: The settings compared, the uncorrected first (the others are counted against it).
SETTINGS = ("none", "holm", "bh")
VERDICTS = ("holds", "fails", "inconclusive")
#: Family sizes of the seeds table: one row alone, the claims' usual scopes (5 alphas, 10 alphas
#: by classifier, 20 by attack too), and a whole 60-row table as one family.
FAMILY_SIZES = (1, 5, 10, 20, 60)
#: Seed counts at which the seeds table gives the t statistic needed.
SEED_COUNTS = (3, 5, 10)
#: Standardised effects (mean over seeds / their standard deviation) of the seeds table.
EFFECTS = (1.0, 2.0, 3.0)


def verdict_changes(table: pd.DataFrame, level: float = 0.05) -> pd.DataFrame:
    """Per claim id of a claims table (in the table's order) and a last row ``all``: ``rows``,
    for each setting of :data:`SETTINGS` the counts ``<setting>_<verdict>``, and for each
    correction ``changed_<setting>``, the rows whose verdict differs from the uncorrected one."""
    verdicts = {s: correct(table, level, s)["verdict"].to_numpy() for s in SETTINGS}
    frame = pd.DataFrame({"claim": table["claim"].to_numpy(), **verdicts})
    records = []
    groups = list(frame.groupby("claim", sort=False)) + [("all", frame)]
    for claim, group in groups:
        record: dict[str, object] = {"claim": claim, "rows": len(group)}
        for setting in SETTINGS:
            for name in VERDICTS:
                record[f"{setting}_{name}"] = int((group[setting] == name).sum())
        for setting in SETTINGS[1:]:
            record[f"changed_{setting}"] = int((group[setting] != group["none"]).sum())
        records.append(record)
    return pd.DataFrame.from_records(records)


def correction_markdown(tables: Mapping[str, pd.DataFrame], level: float = 0.05) -> str:
    """docs/recorded/claims-correction.md: for each claims table (keyed by its path), the
    verdict counts of :func:`verdict_changes` as a markdown table."""
    lines = [
        "# Claims under the multiplicity correction",
        "",
        "Each recorded claims table's raw `p_value`, `p_value_against` and `n_seeds`, re-tested",
        f"at level {level:g} under each `claims.correction` (`none`, `holm`, `bh`; each family",
        "the rows of one claim id, each direction apart: [How sure a finding is](../claims.md)).",
        "Cells: holds / fails / inconclusive; the last two columns count the rows whose verdict",
        "differs from the uncorrected one. Generated (a test re-renders it) by:",
        "",
        "```bash",
        "python -m diffshare.reporting.claims_correction_table \\",
        *[f"  {path} \\" for path in tables],
        "  > docs/recorded/claims-correction.md",
        "```",
    ]
    for path, table in tables.items():
        counts = verdict_changes(table, level)
        lines += ["", f"## `{path}`", ""]
        if "verdict" in table:
            same = [
                f"`{s}`"
                for s in SETTINGS
                if (correct(table, level, s)["verdict"].to_numpy() == table["verdict"]).all()
            ]
            agrees = ", ".join(same) if same else "none of these settings"
            lines += [f"Its own `verdict` column agrees at every row with: {agrees}.", ""]
        lines += [
            "| claim | rows | none | holm | bh | changed by holm | changed by bh |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for record in counts.to_dict("records"):
            name = "all" if record["claim"] == "all" else f"`{record['claim']}`"
            cells = [name, str(record["rows"])]
            for setting in SETTINGS:
                cells.append(" / ".join(str(record[f"{setting}_{v}"]) for v in VERDICTS))
            cells += [str(record[f"changed_{s}"]) for s in SETTINGS[1:]]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def critical_t(n_seeds: int, family_size: int, level: float = 0.05) -> float:
    """The one-sided t statistic over ``n_seeds`` seeds whose p-value is ``level / family_size``:
    what the strongest row of a family needs under Holm (every row, when the family's rows are
    alike)."""
    if n_seeds < 2 or family_size < 1:
        raise ValueError(f"need two or more seeds and a family, got {n_seeds}, {family_size}")
    return float(stats.t.ppf(1 - level / family_size, n_seeds - 1))


def seeds_needed(effect: float, family_size: int, level: float = 0.05, most: int = 10_000) -> int:
    """The fewest seeds at which a standardised effect (mean over seeds / their standard
    deviation) gives the t statistic ``effect * sqrt(n)`` of :func:`critical_t`."""
    if effect <= 0:
        raise ValueError(f"the effect must be positive, got {effect}")
    for n in range(2, most + 1):
        if effect * math.sqrt(n) >= critical_t(n, family_size, level):
            return n
    raise ValueError(f"an effect of {effect} needs more than {most} seeds")


def sign_test_seeds(family_size: int, level: float = 0.05) -> int:
    """The fewest seeds at which an exact one-sided sign test with every seed in favour
    (``p = 2^-n``) reaches ``level / family_size``: ``ceil(log2(family_size / level))``."""
    return max(1, math.ceil(math.log2(family_size / level) - 1e-12))


def seeds_markdown(
    family_sizes: Sequence[int] = FAMILY_SIZES,
    level: float = 0.05,
    seed_counts: Sequence[int] = SEED_COUNTS,
    effects: Sequence[float] = EFFECTS,
) -> str:
    """The seeds table of docs/claims.md: per family size ``m``, Holm's threshold ``level / m``
    for the strongest row, the t statistic it needs at each of ``seed_counts``, the seeds each
    standardised effect needs, and the seeds of a sign test with every seed in favour."""
    header = ["family size m", "p needed (level / m)"]
    header += [f"t needed, {n} seeds" for n in seed_counts]
    header += [f"seeds for mean = {e:g} sd" for e in effects]
    header += ["seeds for a sign test, all in favour"]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    for m in family_sizes:
        cells = [str(m), f"{level / m:.2g}"]
        cells += [f"{critical_t(n, m, level):.2f}" for n in seed_counts]
        cells += [str(seeds_needed(e, m, level)) for e in effects]
        cells.append(str(sign_test_seeds(m, level)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def read_claims(path: str) -> pd.DataFrame:
    """A claims CSV, checked for the columns the correction needs (:class:`DataError` naming
    the file and the missing columns)."""
    table = pd.read_csv(path)
    missing = [c for c in ("claim", "p_value", "p_value_against", "n_seeds") if c not in table]
    if missing:
        raise DataError(f"{path} is not a claims table: it lacks the columns {missing}")
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m diffshare.reporting.claims_correction_table",
        description="Markdown: how many claims change verdict under claims.correction "
        "(or, with --seeds, what Holm's correction asks of the seeds).",
    )
    parser.add_argument("claims", nargs="*", help="claims CSVs (results/claims/{dataset}.csv)")
    parser.add_argument("--level", type=float, default=0.05, help="claims.level (0.05)")
    parser.add_argument("--seeds", action="store_true", help="the seeds table of docs/claims.md")
    args = parser.parse_args(argv)
    if args.seeds:
        sys.stdout.write(seeds_markdown(level=args.level))
        return 0
    if not args.claims:
        parser.error("name at least one claims CSV (or --seeds)")
    tables = {path: read_claims(path) for path in args.claims}
    sys.stdout.write(correction_markdown(tables, args.level))
    return 0


if __name__ == "__main__":
    sys.exit(main())
