"""The table models at torch's float32 matmul precisions: time and what the receivers get.

    python benchmarks/matmul_precision.py [--dataset adult] [--ratio 0.5] [--seed 0]
        [--families tabddpm ctgan tvae] [--cores 2] [--precisions highest medium]

``generator.table_matmul_precision`` sets :func:`torch.set_float32_matmul_precision` in the
workflow's table-model jobs. For each precision in turn this trains every family on the same
sharer table (property inference's table at ``--ratio``, as the workflow draws it) with the
settings of ``config/config.yaml``, the jobs scheduled as the workflow schedules them (one thread
each, ``--cores`` side by side), and draws ``generator.n_synthetic`` rows from each. Then, outside
the timings, per model: the accuracy of logreg and hgb trained on the samples and tested on the
real test split, and the property inference error of ``column`` and ``aux_corrected`` at 1,000
queries (as ``sweep_cost.py``). ``medium`` differs from ``highest`` only where the hardware has
fast bfloat16 products (a CPU with AMX, CUDA); elsewhere both lines time the same arithmetic.
Last line: the first precision's wall time over the last's, ``<ratio>x``.

Run it alone: two cores shared with anything else give no figure.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import yaml
from sweep_cost import FAMILIES, receiver_scores, run_jobs, settings_of  # beside this script

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="adult")
    parser.add_argument("--ratio", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--families", nargs="+", choices=FAMILIES, default=list(FAMILIES))
    parser.add_argument("--precisions", nargs="+", default=["highest", "medium"])
    args = parser.parse_args()

    from diffshare.attacks.pia.property import Property
    from diffshare.data.tabular import DatasetSpec, prepare
    from diffshare.tensors import MATMUL_PRECISIONS
    from diffshare.tracks.tabular import sharer_set

    unknown = [p for p in args.precisions if p not in MATMUL_PRECISIONS]
    if unknown:
        raise SystemExit(f"--precisions takes {list(MATMUL_PRECISIONS)}, got {unknown}")
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    catalogue = yaml.safe_load((ROOT / "config/datasets.yaml").read_text())["datasets"]
    pool, test, schema = prepare(
        DatasetSpec.from_config(args.dataset, catalogue[args.dataset], ROOT)
    )
    prop = Property(**config["pia"]["properties"][args.dataset])
    table = sharer_set(
        pool, prop, schema=schema, ratio=args.ratio, size=config["pia"]["subset_size"], seed=0
    )[0]
    true_ratio = float(prop.indicator(table, "the table").mean())
    threads = min(int(config["generator"]["table_threads"]), args.cores)
    walls = {}
    for precision in args.precisions:
        jobs = [
            {
                "family": family,
                "settings": settings_of(config, family, {}),
                "table": table,
                "schema": schema,
                "seed": args.seed,
                "threads": threads,
                "precision": precision,
                "n_synthetic": int(config["generator"]["n_synthetic"]),
            }
            for family in args.families
        ]
        results, walls[precision] = run_jobs(jobs, max(1, args.cores // threads))
        print(f"{precision}: {len(jobs)} models: wall {walls[precision]:.1f} s", flush=True)
        for job, result in zip(jobs, results, strict=True):
            accuracy, errors = receiver_scores(
                result["samples"], test, schema, prop, config, true_ratio, args.seed
            )
            print(
                f"  {precision} {job['family']:<7}: train {result['train_s']:6.1f} s, sample "
                f"{result['sample_s']:5.1f} s; accuracy logreg {accuracy['logreg']:.4f} hgb "
                f"{accuracy['hgb']:.4f}; PIA error column {errors['column']:.4f} "
                f"aux_corrected {errors['aux_corrected']:.4f}",
                flush=True,
            )
    first, last = args.precisions[0], args.precisions[-1]
    print(f"wall time, {first} / {last}: {walls[first]:.1f} s / {walls[last]:.1f} s")
    print(f"{walls[first] / walls[last]:.2f}x")


if __name__ == "__main__":
    main()
