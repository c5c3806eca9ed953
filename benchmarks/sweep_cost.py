"""Cost of training the shared models of the sweeps: the previous default settings against today's.

    python benchmarks/sweep_cost.py [--dataset adult] [--ratios 0.1 0.5 0.9] [--seed 0]
        [--cores 2] [--families tabddpm ctgan tvae] [--set tabddpm.steps=1500 ...]

The shared models' training is nearly all of the sweeps' job time. For each family and property
ratio this trains the shared model on the same sharer table (property inference's table:
``pia.subset_size`` rows at that ratio, as the workflow draws it) twice, with the previous defaults
(``BASELINE``: a 512-wide denoiser for 3,000 steps, CTGAN and TVAE for 300 epochs, every job
with all cores, one job at a time, float32 matrix products) and with those of
``config/config.yaml`` (overridable with ``--set``), each set scheduled as the workflow
schedules its jobs on ``--cores`` cores: the new settings run
``cores // generator.table_threads`` jobs side by side. Each model draws ``generator.n_synthetic``
rows. Then, outside the timings, per model: the accuracy of logreg and
hgb trained on the samples and tested on the real test split, and the property inference error
|estimate - true ratio| of the ``column`` and ``aux_corrected`` attacks at 1,000 queries (mean
over the repeats). Last line: the speedup of the whole set, ``<ratio>x``.
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ("tabddpm", "ctgan", "tvae")

# The previous default training settings (before the speed work), as the sweeps used them.
BASELINE: dict[str, Any] = {
    "tabddpm": {"hidden_dims": [512, 512, 512], "steps": 3000},
    "ctgan": {"epochs": 300, "batch_size": 500},
    "tvae": {"epochs": 300, "batch_size": 500},
    "threads": None,  # all cores: generator.threads (8) capped at --cores
    "precision": "highest",  # float32 matrix products (before generator.table_matmul_precision)
}


def settings_of(config: dict[str, Any], family: str, overrides: dict[str, Any]) -> dict[str, Any]:
    generator = config["generator"]
    if family == "tabddpm":
        settings = {**generator["tabular"], "steps": config["pia"]["generator_steps"]}
    else:
        settings = dict(generator[family])
    settings.update(overrides.get(family, {}))
    return settings


def _parse_override(text: str) -> tuple[str, str, Any]:
    key, _, value = text.partition("=")
    family, _, field = key.partition(".")
    if family not in FAMILIES or not field or not value:
        raise SystemExit(f"--set takes FAMILY.FIELD=VALUE with FAMILY in {FAMILIES}, got {text!r}")
    return family, field, yaml.safe_load(value)


def _train(job: dict[str, Any]) -> dict[str, Any]:
    """Train one shared model and sample from it (in a worker process with ``threads``)."""
    import torch

    from diffshare.generators import make_generator
    from diffshare.tensors import set_matmul_precision

    torch.set_num_threads(job["threads"])
    set_matmul_precision(job["precision"])
    start = time.perf_counter()
    model = make_generator(job["family"], job["settings"], seed=job["seed"], device="cpu")
    model.fit(job["table"], job["schema"])
    trained = time.perf_counter()
    samples = model.sample(job["n_synthetic"], seed=job["seed"])
    done = time.perf_counter()
    return {"train_s": trained - start, "sample_s": done - trained, "samples": samples}


def receiver_scores(samples, test, schema, prop, config, true_ratio: float, seed: int):
    """The accuracy of logreg and hgb trained on ``samples`` and tested on ``test``, and the
    mean |estimate - true_ratio| of the column and aux_corrected attacks at 1,000 queries."""
    from diffshare.evaluation.fairness import evaluate
    from diffshare.receivers.tabular import train_and_predict
    from diffshare.tracks.tabular import estimate_property

    accuracy = {
        classifier: evaluate(train_and_predict(classifier, samples, test, schema))["accuracy"]
        for classifier in ("logreg", "hgb")
    }
    estimates, _ = estimate_property(
        samples,
        test,
        prop,
        schema=schema,
        attacks=["column", "aux_corrected"],
        queries=[1000],
        repeats=10,
        discriminator=config["pia"]["discriminator"],
        seed=seed,
    )
    errors = {
        attack: float(np.abs(group["estimate"] - true_ratio).mean())
        for attack, group in estimates.groupby("attack")
    }
    return accuracy, errors


def run_jobs(jobs: list[dict[str, Any]], workers: int) -> tuple[list[dict[str, Any]], float]:
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(_train, jobs))
    return results, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="adult")
    parser.add_argument("--ratios", type=float, nargs="+", default=[0.1, 0.5, 0.9])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--families", nargs="+", choices=FAMILIES, default=list(FAMILIES))
    parser.add_argument("--set", action="append", default=[], metavar="FAMILY.FIELD=VALUE")
    parser.add_argument("--skip-baseline", action="store_true", help="time the new set only")
    args = parser.parse_args()

    from diffshare.attacks.pia.property import Property
    from diffshare.data.tabular import DatasetSpec, prepare
    from diffshare.tracks.tabular import sharer_set

    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    catalogue = yaml.safe_load((ROOT / "config/datasets.yaml").read_text())["datasets"]
    pool, test, schema = prepare(
        DatasetSpec.from_config(args.dataset, catalogue[args.dataset], ROOT)
    )
    prop = Property(**config["pia"]["properties"][args.dataset])
    overrides: dict[str, dict[str, Any]] = {}
    for text in args.set:
        family, field, value = _parse_override(text)
        overrides.setdefault(family, {})[field] = value
    baseline_config = copy.deepcopy(config)
    for family in FAMILIES:
        target = baseline_config["generator"]["tabular" if family == "tabddpm" else family]
        target.update(BASELINE[family])
    baseline_config["pia"]["generator_steps"] = BASELINE["tabddpm"]["steps"]
    new_threads = min(int(config["generator"]["table_threads"]), args.cores)
    old_threads = min(int(config["generator"]["threads"]), args.cores)
    new_precision = config["generator"]["table_matmul_precision"]
    sets = {"new": (config, overrides, new_threads, new_precision)}
    if not args.skip_baseline:
        sets = {"baseline": (baseline_config, {}, old_threads, BASELINE["precision"]), **sets}

    tables = {
        ratio: sharer_set(
            pool,
            prop,
            schema=schema,
            ratio=ratio,
            size=config["pia"]["subset_size"],
            seed=args.seed,
        )[0]
        for ratio in args.ratios
    }
    n_synthetic = int(config["generator"]["n_synthetic"])
    walls: dict[str, float] = {}
    for name, (settings_config, settings_overrides, threads, precision) in sets.items():
        jobs = [
            {
                "family": family,
                "settings": settings_of(settings_config, family, settings_overrides),
                "table": tables[ratio],
                "schema": schema,
                "seed": args.seed,
                "threads": threads,
                "precision": precision,
                "n_synthetic": n_synthetic,
                "ratio": ratio,
            }
            for family in args.families
            for ratio in args.ratios
        ]
        workers = max(1, args.cores // threads)
        results, walls[name] = run_jobs(jobs, workers)
        print(
            f"{name}: {len(jobs)} models, {threads} thread(s) per job, {workers} job(s) side by "
            f"side, matmul precision {precision}: wall {walls[name]:.1f} s"
        )
        for job, result in zip(jobs, results, strict=True):
            true_ratio = float(prop.indicator(job["table"], "the table").mean())
            accuracy, errors = receiver_scores(
                result["samples"], test, schema, prop, config, true_ratio, args.seed
            )
            changed = {
                k: job["settings"][k]
                for k in ("steps", "hidden_dims", "epochs")
                if k in job["settings"]
            }
            print(
                f"  {name} {job['family']:<7} ratio {job['ratio']:.1f} {changed}: train "
                f"{result['train_s']:6.1f} s, sample {result['sample_s']:5.1f} s; accuracy "
                f"logreg {accuracy['logreg']:.4f} hgb {accuracy['hgb']:.4f}; PIA error column "
                f"{errors['column']:.4f} aux_corrected {errors['aux_corrected']:.4f}",
                flush=True,
            )
    if "baseline" in walls:
        print(
            f"sweep training wall time, previous defaults / today's: "
            f"{walls['baseline']:.1f} s / {walls['new']:.1f} s = "
            f"{walls['baseline'] / walls['new']:.2f}x"
        )


if __name__ == "__main__":
    main()
