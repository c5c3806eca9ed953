"""False alarms and detections of the receiver's audit over many trusted references, after a sweep.

    python benchmarks/audit_false_alarms.py [--results results] [--dataset adult]
        [--sizes 500 2000 8000] [--draws 10] [--attacks none mi_greedy]
        [--configfile config/paper.yaml ...] [--train-rows N] [--bootstrap N]
        [--tests association distribution] [--threads 1] [--out FILE.csv] [--records FILE.csv]

The workflow audits each shared model once, against one reference drawn per seed; whether
``flagged`` holds its false-alarm rate on unpoisoned models needs many references. This reads
what an FPA sweep left on disk (``snakemake results/fpa/adult.csv``):

- the shared models' samples, ``{results}/samples/{dataset}/{generator}/attack~{attack}/
  alpha~{alpha}/seed~{seed}/samples.parquet`` (every generator and seed found; ``--attacks``
  picks the attacks, ``none`` being the unpoisoned models at alpha 0, ``all`` every attack);
- the trusted test split ``{results}/data/{dataset}/test.parquet`` and its ``schema.json``;

and for each reference size and seed draws ``--draws`` references of that many test rows
(seeded by size, seed and draw; the same references for every generator and attack, so their
rates compare paired), then audits every model of that seed against each, with
:func:`diffshare.defenses.audit.audit_table` exactly as ``workflow/scripts/audit_samples.py``
calls it: the config's ``defense.audit`` settings (config/config.yaml and the schema's defaults,
then each ``--configfile`` on top, as snakemake merges them) and the training rows
``fpa.subset_size`` (the workflow's ``params.train_rows``; ``--train-rows`` overrides).
``--bootstrap`` lowers the bootstrap draws to save time: they only make the intervals, never
``flagged``.

Prints, and writes to ``--out``, one row per generator, attack, alpha and size: ``audits``,
``seeds``, ``flagged``, ``rate`` (flagged / audits: the false-alarm rate on ``none``, the
detection rate elsewhere), ``rate_upper`` (exact Clopper-Pearson one-sided 95% upper bound of
the rate; at most ``level`` is the target on ``none``), ``level``, ``distribution_shift_rate``
(the two-sample test's rejection rate, never a verdict; empty without ``distribution`` in the
tests) and the means of ``dp_gap``, ``dp_gap_reference``, ``association_excess`` and
``c2st_accuracy``. ``--records`` writes every audit. The bound treats the audits as independent;
those of one seed share its samples (one trained model), so with few seeds read ``seeds`` beside
it. A reference size larger than the test split is skipped with a note. Cost: one audit is a
fraction of a second with ``--tests association``; the two-sample test adds about a second at
thousands of rows.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from scipy import stats
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = re.compile(
    r"(?P<generator>[^/]+)/attack~(?P<attack>[^/]+)/alpha~(?P<alpha>[^/]+)/seed~(?P<seed>\d+)/"
    r"samples\.parquet$"
)
#: The summary's columns, in order.
COLUMNS = [
    "generator",
    "attack",
    "alpha",
    "size",
    "audits",
    "seeds",
    "flagged",
    "rate",
    "rate_upper",
    "level",
    "distribution_shift_rate",
    "dp_gap_mean",
    "dp_gap_reference_mean",
    "association_excess_mean",
    "c2st_accuracy_mean",
]


def merged(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``, mappings merged key by key (as snakemake merges config files)."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def load_config(configfiles: Sequence[str]) -> dict[str, Any]:
    """The schema's defaults, config/datasets.yaml and config/config.yaml (the Snakefile's
    config files), then each of ``configfiles``."""
    from diffshare.config import schema_defaults

    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    config = schema_defaults(schema)
    defaults = [ROOT / "config/datasets.yaml", ROOT / "config/config.yaml"]
    for path in [*defaults, *map(Path, configfiles)]:
        if not path.is_file():
            raise SystemExit(f"audit_false_alarms: no config file {path}")
        config = merged(config, yaml.safe_load(path.read_text()) or {})
    return config


def audit_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """defense.audit as the workflow passes it (defense_fpa_inputs.smk's audit_settings)."""
    audit = dict(config["defense"]["audit"])
    audit.pop("reference_size", None)
    audit.pop("image_sensitive", None)
    return audit


def find_samples(folder: Path, attacks: Sequence[str]) -> pd.DataFrame:
    """One row per samples file under ``folder`` (results/samples/{dataset}): generator, attack,
    alpha (float), seed (int), path; ``attacks`` filters (``all``: none)."""
    rows = []
    for path in sorted(folder.glob("*/attack~*/alpha~*/seed~*/samples.parquet")):
        match = SAMPLES.search(path.relative_to(folder).as_posix())
        if match and ("all" in attacks or match["attack"] in attacks):
            rows.append({**match.groupdict(), "path": path})
    if not rows:
        raise SystemExit(
            f"audit_false_alarms: no samples of attacks {list(attacks)} under {folder} "
            "(run the FPA sweep first: snakemake results/fpa/<dataset>.csv)"
        )
    table = pd.DataFrame(rows)
    table["alpha"] = table["alpha"].astype(float)
    table["seed"] = table["seed"].astype(int)
    return table.sort_values(["generator", "attack", "alpha", "seed"]).reset_index(drop=True)


def reference_seed(size: int, seed: int, draw: int) -> int:
    """The seed of one reference draw: distinct for each size, sweep seed and draw."""
    return int(np.random.SeedSequence([size, seed, draw]).generate_state(1)[0])


def audit_all(
    models: pd.DataFrame,
    test: pd.DataFrame,
    schema: Any,
    *,
    sizes: Sequence[int],
    draws: int,
    train_rows: int,
    settings: Mapping[str, Any],
    progress: bool = True,
) -> pd.DataFrame:
    """Every model (a row of :func:`find_samples`) audited against ``draws`` references of
    each size, drawn per seed: one record per audit."""
    from diffshare.defenses.audit import audit_table, reference_rows
    from diffshare.storage import read_parquet

    schema.check_table(test, "the test split")
    sizes = [size for size in sizes if size <= len(test) or print_skip(size, len(test))]
    total = len(models) * len(sizes) * draws
    records, start = [], time.perf_counter()
    for _, model in models.iterrows():
        samples = read_parquet(model["path"])
        schema.check_table(samples, f"samples {model['path']}")
        for size in sizes:
            for draw in range(draws):
                seed = reference_seed(size, model["seed"], draw)
                reference = test.iloc[reference_rows(len(test), size, seed=seed)]
                record = audit_table(
                    samples,
                    reference,
                    schema,
                    train_rows=train_rows,
                    **settings,
                    seed=seed % 2**31,
                )
                identity = {k: model[k] for k in ("generator", "attack", "alpha", "seed")}
                records.append({**identity, "size": size, "draw": draw, **record})
                if progress and len(records) % 50 == 0:
                    elapsed = time.perf_counter() - start
                    print(
                        f"audit_false_alarms: {len(records)} of {total} audits, {elapsed:.0f} s",
                        file=sys.stderr,
                    )
    return pd.DataFrame.from_records(records)


def print_skip(size: int, n_test: int) -> bool:
    print(
        f"audit_false_alarms: skipping reference size {size}: the test split has {n_test} rows",
        file=sys.stderr,
    )
    return False


def rate_upper(flagged: int, audits: int, confidence: float = 0.95) -> float:
    """Exact (Clopper-Pearson) one-sided upper confidence bound of a binomial rate."""
    if flagged >= audits:
        return 1.0
    return float(stats.beta.ppf(confidence, flagged + 1, audits - flagged))


def summarize(records: pd.DataFrame, level: float) -> pd.DataFrame:
    """One row per generator, attack, alpha and size (:data:`COLUMNS`)."""
    frame = records.copy()
    frame["distribution_shift"] = pd.to_numeric(
        frame["distribution_shift"].astype("boolean")
    ).astype(float)
    rows = []
    for keys, group in frame.groupby(["generator", "attack", "alpha", "size"], sort=True):
        flagged, audits = int(group["flagged"].sum()), len(group)
        rows.append(
            {
                **dict(zip(["generator", "attack", "alpha", "size"], keys, strict=True)),
                "audits": audits,
                "seeds": group["seed"].nunique(),
                "flagged": flagged,
                "rate": flagged / audits,
                "rate_upper": rate_upper(flagged, audits),
                "level": level,
                "distribution_shift_rate": group["distribution_shift"].mean(),
                "dp_gap_mean": group["dp_gap"].mean(),
                "dp_gap_reference_mean": group["dp_gap_reference"].mean(),
                "association_excess_mean": group["association_excess"].mean(),
                "c2st_accuracy_mean": group["c2st_accuracy"].mean(),
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default="results", help="the results folder (results)")
    parser.add_argument("--dataset", default="adult", help="a tabular dataset (adult)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 2000, 8000])
    parser.add_argument("--draws", type=int, default=10, help="references per seed and size")
    parser.add_argument(
        "--attacks", nargs="+", default=["none", "mi_greedy"], help="attacks to read (or all)"
    )
    parser.add_argument("--configfile", nargs="*", default=[], help="the sweep's config files")
    parser.add_argument("--train-rows", type=int, help="override fpa.subset_size")
    parser.add_argument("--bootstrap", type=int, help="override defense.audit.n_bootstrap")
    parser.add_argument("--tests", nargs="+", help="override defense.audit.tests")
    parser.add_argument("--threads", type=int, default=1, help="OpenMP threads (1)")
    parser.add_argument("--out", help="write the summary here (.csv)")
    parser.add_argument("--records", help="write every audit here (.csv)")
    args = parser.parse_args(argv)
    if args.draws < 1 or any(size < 10 for size in args.sizes):
        parser.error(f"--draws must be >= 1 and --sizes >= 10, got {args.draws}, {args.sizes}")

    from diffshare.config import dataset_kind, track_section
    from diffshare.data.schema import TableSchema
    from diffshare.defenses.audit import check_train_rows
    from diffshare.errors import DiffshareError
    from diffshare.storage import read_json, read_parquet, write_csv

    config = load_config(args.configfile)
    settings = audit_settings(config)
    if args.bootstrap is not None:
        settings["n_bootstrap"] = args.bootstrap
    if args.tests is not None:
        settings["tests"] = args.tests
    try:
        if dataset_kind(config, args.dataset) == "image":
            parser.error(f"--dataset {args.dataset!r}: this benchmark reads tables only")
        train_rows = check_train_rows(
            args.train_rows
            if args.train_rows is not None
            else track_section(config, args.dataset, "fpa")["subset_size"],
            "--train-rows",
        )
    except DiffshareError as error:
        raise SystemExit(f"audit_false_alarms: {error}") from error
    results = Path(args.results)
    data = results / "data" / args.dataset
    schema = TableSchema.from_dict(read_json(data / "schema.json"))
    test = read_parquet(data / "test.parquet")
    models = find_samples(results / "samples" / args.dataset, args.attacks)
    print(
        f"audit_false_alarms: {len(models)} shared models, sizes {args.sizes}, {args.draws} "
        f"references per seed and size, {train_rows} training rows, settings {settings}",
        file=sys.stderr,
    )
    with threadpool_limits(args.threads):
        records = audit_all(
            models,
            test,
            schema,
            sizes=args.sizes,
            draws=args.draws,
            train_rows=train_rows,
            settings=settings,
        )
    if records.empty:
        raise SystemExit("audit_false_alarms: no audits (every size exceeds the test split)")
    summary = summarize(records, settings["level"])
    if args.records:
        write_csv(records, args.records)
    if args.out:
        write_csv(summary, args.out)
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
