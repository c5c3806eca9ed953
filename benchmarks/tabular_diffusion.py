"""Time and quality of the shared tabular diffusion model on Adult, with the default settings.

    python benchmarks/tabular_diffusion.py [--steps N] [--dataset adult]

Trains on the full training split, samples 10,000 rows, and trains logreg and hgb on real and
on synthetic rows (both tested on the real test split). Prints the wall times, the ratio of
train-plus-sample time to the 5-minute goal and to fitting the real-data hgb in the same run,
the accuracy gaps, the sensitive-group shares and the marginal distance.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import yaml

from diffshare.data.tabular import DatasetSpec, prepare
from diffshare.evaluation.fairness import evaluate
from diffshare.evaluation.fidelity import fidelity_record
from diffshare.generators.tabddpm import TabularDiffusion, TabularDiffusionConfig
from diffshare.receivers.tabular import train_and_predict

ROOT = Path(__file__).resolve().parents[1]
GOAL_SECONDS = 300.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="adult")
    parser.add_argument("--steps", type=int, default=None, help="override training steps")
    parser.add_argument("--n-synthetic", type=int, default=10000)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    catalogue = yaml.safe_load((ROOT / "config/datasets.yaml").read_text())["datasets"]
    settings = yaml.safe_load((ROOT / "config/config.yaml").read_text())["generator"]["tabular"]
    if args.steps:
        settings["steps"] = args.steps
    train, test, schema = prepare(
        DatasetSpec.from_config(args.dataset, catalogue[args.dataset], ROOT)
    )

    start = time.perf_counter()
    real_hgb = evaluate(train_and_predict("hgb", train, test, schema))
    baseline_seconds = time.perf_counter() - start

    model = TabularDiffusion(TabularDiffusionConfig(**settings), seed=0, device=args.device)
    start = time.perf_counter()
    model.fit(train, schema)
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    samples = model.sample(args.n_synthetic, seed=0)
    sample_seconds = time.perf_counter() - start
    total = train_seconds + sample_seconds

    print(f"dataset {args.dataset}: {len(train)} training rows, settings {settings}")
    print(f"train {train_seconds:.1f} s, sample {args.n_synthetic} rows {sample_seconds:.1f} s")
    print(f"train+sample / 5-minute goal: {total / GOAL_SECONDS:.2f}")
    ratio = total / baseline_seconds
    print(f"train+sample / real-data hgb fit ({baseline_seconds:.2f} s): {ratio:.0f}x")
    for name in ("logreg", "hgb"):
        real = real_hgb if name == "hgb" else evaluate(train_and_predict(name, train, test, schema))
        synthetic = evaluate(train_and_predict(name, samples, test, schema))
        print(
            f"{name}: accuracy real {real['accuracy']:.4f} synthetic {synthetic['accuracy']:.4f} "
            f"gap {real['accuracy'] - synthetic['accuracy']:+.4f}; dp_difference real "
            f"{real['dp_difference']:.4f} synthetic {synthetic['dp_difference']:.4f}"
        )
    record = fidelity_record(train, samples, schema)
    print(
        f"sensitive share real {record['sensitive_share_real']:.4f} synthetic "
        f"{record['sensitive_share_synthetic']:.4f}; marginal distance "
        f"{record['marginal_distance']:.4f}"
    )
    print("column distances:", {k: round(v, 3) for k, v in record["column_distances"].items()})


if __name__ == "__main__":
    main()
