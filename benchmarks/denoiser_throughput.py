"""Training throughput of the tabular diffusion model against what this CPU's matrix
multiplications reach.

    python benchmarks/denoiser_throughput.py [--dataset adult] [--rows 6000] [--steps 200]
        [--threads 1 2] [--hidden 512 512 512]

For each thread count: rows per second of real training steps (the model's own ``fit``, a
sharer-sized table), then of the denoiser's matrix multiplications alone (the same GEMM shapes,
forward and backward: three per linear layer, timed as bare ``torch.mm`` calls), and the share
of the second that training reaches. What training does beyond the GEMMs (the multinomial
diffusion's log-space arithmetic, the optimiser, the EMA) is the difference. Last line: the
ratio of training throughput to GEMM throughput at the highest thread count, ``<ratio>x``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import yaml

from diffshare.data.tabular import DatasetSpec, prepare
from diffshare.generators.tabddpm import TabularDiffusion, TabularDiffusionConfig

ROOT = Path(__file__).resolve().parents[1]


def gemm_shapes(model: TabularDiffusion, batch: int) -> list[tuple[int, int, int]]:
    """(m, k, n) of every GEMM of one forward and backward pass of the denoiser's linear layers:
    y = x W^T (batch, in, out), dX = dY W (batch, out, in), dW = dY^T X (out, batch, in)."""
    shapes = []
    for module in model.denoiser_.modules():
        if isinstance(module, torch.nn.Linear):
            d_in, d_out = module.in_features, module.out_features
            shapes += [(batch, d_in, d_out), (batch, d_out, d_in), (d_out, batch, d_in)]
    return shapes


def time_gemms(shapes: list[tuple[int, int, int]], repeats: int) -> float:
    """Seconds per pass over ``shapes`` (median of ``repeats`` passes after a warm-up)."""
    operands = [(torch.randn(m, k), torch.randn(k, n)) for m, k, n in shapes]
    for a, b in operands:
        torch.mm(a, b)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for a, b in operands:
            torch.mm(a, b)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="adult")
    parser.add_argument("--rows", type=int, default=6000, help="rows of the training table")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--hidden", type=int, nargs="+", default=None, help="hidden widths")
    args = parser.parse_args()

    catalogue = yaml.safe_load((ROOT / "config/datasets.yaml").read_text())["datasets"]
    settings = yaml.safe_load((ROOT / "config/config.yaml").read_text())["generator"]["tabular"]
    settings["steps"] = args.steps
    if args.hidden:
        settings["hidden_dims"] = args.hidden
    pool, _, schema = prepare(DatasetSpec.from_config(args.dataset, catalogue[args.dataset], ROOT))
    table = pool.sample(min(args.rows, len(pool)), random_state=0)
    batch = min(settings["batch_size"], len(table))
    ratio = None
    for threads in args.threads:
        torch.set_num_threads(threads)
        model = TabularDiffusion(
            TabularDiffusionConfig(**settings), seed=0, device="cpu", log_every=10**9
        )
        start = time.perf_counter()
        model.fit(table, schema)
        train_rows = args.steps * batch / (time.perf_counter() - start)
        shapes = gemm_shapes(model, batch)
        seconds = time_gemms(shapes, repeats=max(20, args.steps // 5))
        flops = sum(2 * m * k * n for m, k, n in shapes)
        gemm_rows = batch / seconds
        ratio = train_rows / gemm_rows
        print(
            f"{threads} thread(s), hidden {settings['hidden_dims']}, batch {batch}: training "
            f"{train_rows:,.0f} rows/s; GEMMs alone {gemm_rows:,.0f} rows/s "
            f"({flops / seconds / 1e9:.0f} GFLOP/s); training reaches {ratio:.0%} of the GEMMs"
        )
    print(f"training throughput / GEMM throughput: {ratio:.2f}x")


if __name__ == "__main__":
    main()
