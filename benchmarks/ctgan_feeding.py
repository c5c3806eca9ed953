"""CTGAN's and TVAE's training batches fed by the ``ctgan`` package row by row against
diffshare's ``batched_rows``: time, and whether the models are the same.

    python benchmarks/ctgan_feeding.py [--dataset adult] [--ratio 0.5] [--seed 0]
        [--families ctgan tvae] [--epochs N] [--repeats 2]

Each family is trained on the sharer table of property inference at ``--ratio`` (as the workflow
draws it) with the settings of ``config/config.yaml`` (``--epochs`` overrides their epochs, for
a quicker figure), in this process, on one thread, at ``generator.table_matmul_precision``: in
turn with the package's own feeding (``DataSampler.sample_data`` drawing each row with
``np.random.choice``, TVAE's ``DataLoader`` stacking rows one by one) and with
:func:`diffshare.generators.ctgan.batched_rows`, ``--repeats`` times each, alternating. Printed
per family: each fit's seconds, and whether the two trained the same network (bit for bit, as
the feeding draws the same rows from the same random numbers). Last line: the package's total
seconds over the batched total, ``<ratio>x``.

Run it alone: two cores shared with anything else give no figure.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]


def network(model) -> dict[str, torch.Tensor]:
    """The trained network's weights: CTGAN's generator, TVAE's decoder."""
    synthesizer = model.model_
    part = synthesizer._generator if model.kind == "ctgan" else synthesizer.decoder
    return {name: value.detach().clone() for name, value in part.state_dict().items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="adult")
    parser.add_argument("--ratio", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--families", nargs="+", choices=["ctgan", "tvae"], default=["ctgan", "tvae"]
    )
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    import diffshare.generators.ctgan as ctgan_generators
    from diffshare.attacks.pia.property import Property
    from diffshare.data.tabular import DatasetSpec, prepare
    from diffshare.tensors import reuse_freed_memory, set_matmul_precision
    from diffshare.tracks.tabular import sharer_set

    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    catalogue = yaml.safe_load((ROOT / "config/datasets.yaml").read_text())["datasets"]
    pool, _, schema = prepare(DatasetSpec.from_config(args.dataset, catalogue[args.dataset], ROOT))
    prop = Property(**config["pia"]["properties"][args.dataset])
    table = sharer_set(
        pool, prop, schema=schema, ratio=args.ratio, size=config["pia"]["subset_size"], seed=0
    )[0]
    torch.set_num_threads(1)
    reuse_freed_memory()
    set_matmul_precision(config["generator"]["table_matmul_precision"])
    batched_rows = ctgan_generators.batched_rows
    feedings = {"package": contextlib.nullcontext, "batched": batched_rows}
    totals = dict.fromkeys(feedings, 0.0)
    for family in args.families:
        settings = dict(config["generator"][family])
        if args.epochs is not None:
            settings["epochs"] = args.epochs
        seconds = {name: [] for name in feedings}
        weights = {}
        for _ in range(args.repeats):
            for name, feeding in feedings.items():
                ctgan_generators.batched_rows = feeding
                try:
                    model = ctgan_generators.CtganGenerator(
                        family, settings, seed=args.seed, device="cpu"
                    )
                    start = time.perf_counter()
                    model.fit(table, schema)
                    seconds[name].append(time.perf_counter() - start)
                finally:
                    ctgan_generators.batched_rows = batched_rows
                weights[name] = network(model)
        same = weights["package"].keys() == weights["batched"].keys() and all(
            torch.equal(weights["package"][k], weights["batched"][k]) for k in weights["package"]
        )
        for name in feedings:
            totals[name] += sum(seconds[name])
            runs = ", ".join(f"{s:.1f}" for s in seconds[name])
            print(f"{family} {settings}: {name} feeding: {runs} s", flush=True)
        print(f"{family}: the same trained network: {'yes' if same else 'NO'}", flush=True)
    print(f"package / batched: {totals['package']:.1f} s / {totals['batched']:.1f} s")
    print(f"{totals['package'] / totals['batched']:.2f}x")


if __name__ == "__main__":
    main()
