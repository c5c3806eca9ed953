"""Training and sampling speed of the tabular diffusion model with its categorical diffusion held
flat, against the padded layout it replaced, in one run.

    python benchmarks/multinomial_layout.py [--dataset adult] [--rows 6000] [--steps 300]
        [--samples 10000] [--threads 1] [--seeds 0 1 2]

The multinomial diffusion's log-space arithmetic was done on (batch, F, K_max) tensors, padded
to the feature with the most categories (Adult: 8 features padded to 41 categories, 328 entries
per row for 102 categories); :class:`~diffshare.generators.tabular_networks.MultinomialDiffusion`
now holds (batch, sum K) and normalises each feature by a segment log-sum-exp. ``Padded`` below is
the previous class, verbatim but for its name (and the one-hot lookups the flat class added
later, computed its way), kept as this benchmark's baseline. Both train a model on a sharer-sized
table and sample from it, the flat layout also at the further ``--seeds`` for the seed-to-seed
spread. The padded class draws categories by Gumbel-max over its padding, the flat class from
each feature's cumulative distribution, so their draws differ from the first step at the same
seed: compare them within the spread over seeds. Printed per model: steps per second,
sampling seconds, the mean losses of the trained model on 20 fixed batches and the samples' mean
total variation distance to the table over the categorical columns; then, at seed 0, the largest
difference of the mean losses and the share of equal categorical sample values (float rounding
compounds over many steps: at a few steps they agree to float tolerance, over a full run the
differences should fall within the spread over seeds); last line, the speedup of training and
sampling together at seed 0, ``<ratio>x``.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence
from pathlib import Path

import torch
import yaml
from torch import nn

from diffshare.data.tabular import DatasetSpec, prepare
from diffshare.generators import tabddpm
from diffshare.generators.tabddpm import TabularDiffusion, TabularDiffusionConfig
from diffshare.generators.tabular_networks import MultinomialDiffusion

ROOT = Path(__file__).resolve().parents[1]


class Padded(MultinomialDiffusion):
    """The padded layout: the methods of the class before the flat one, verbatim; its buffers are
    the flat class's, but ``log_k`` shaped (F, 1)."""

    def __init__(self, num_classes: Sequence[int], alphas_cumprod: torch.Tensor):
        super().__init__(num_classes, alphas_cumprod)
        self.log_k = torch.log(self.num_classes.double()).float()[:, None]

    def log_onehot(self, codes):
        onehot = nn.functional.one_hot(codes, self.mask.shape[1]).bool()
        zeros = torch.zeros(onehot.shape, device=codes.device)
        return zeros.masked_fill(~onehot, -math.inf)

    def log_softmax(self, flat_logits):
        padded = flat_logits.new_full((flat_logits.shape[0], *self.mask.shape), -math.inf)
        padded[:, self.mask] = flat_logits
        return padded.log_softmax(dim=-1)

    def _mix(self, log_x, log_keep, log_flip):
        mixed = torch.logaddexp(
            log_x + log_keep[:, None, None], log_flip[:, None, None] - self.log_k[None]
        )
        return mixed.masked_fill(~self.mask, -math.inf)

    def q_posterior(self, log_x0, log_xt, t):
        previous = self.q_marginal(log_x0, (t - 1).clamp(min=0))
        unnormalised = previous + self.q_step(log_xt, t)
        at_zero = (t == 0)[:, None, None]
        unnormalised = torch.where(at_zero, log_x0, unnormalised)
        return unnormalised - torch.logsumexp(unnormalised, dim=-1, keepdim=True)

    # the one-hot lookups the flat class added later, computed as the padded class did
    def at_codes(self, log_p, codes):
        return log_p.gather(2, codes[..., None])[..., 0]

    def q_marginal_codes(self, codes, t):
        return self.q_marginal(self.log_onehot(codes), t)

    def q_posterior_codes(self, log_x0, xt_codes, t, *, x0_codes=None):
        log_x0 = self.log_onehot(x0_codes) if x0_codes is not None else log_x0
        return self.q_posterior(log_x0, self.log_onehot(xt_codes), t)

    def sample(self, log_probs, generator):
        uniform = torch.rand(log_probs.shape, generator=generator, device=log_probs.device)
        gumbel = -torch.log(-torch.log(uniform.clamp(1e-30, 1.0 - 1e-7)))
        return (log_probs + gumbel).argmax(dim=-1)

    def kl(self, log_p, log_q):
        terms = torch.exp(log_p) * (log_p - log_q)
        return torch.where(self.mask & (log_p > -math.inf), terms, 0.0).sum(dim=(1, 2))


def run(layout, table, schema, settings, samples: int, seed: int) -> dict:
    """Train and sample with ``layout`` as the model's multinomial diffusion class; the mean
    losses of the trained model on 20 fixed batches of ``table``; the samples' mean total
    variation distance to ``table`` over the categorical columns."""
    original = tabddpm.MultinomialDiffusion
    tabddpm.MultinomialDiffusion = layout
    try:
        model = TabularDiffusion(TabularDiffusionConfig(**settings), seed=seed, log_every=10**9)
        start = time.perf_counter()
        model.fit(table, schema)
        trained = time.perf_counter()
        rows = model.sample(samples, seed=seed)
        done = time.perf_counter()
        x_num, codes, y = model.layout_.encode(table, model.quantiles_, model.device)
        generator = torch.Generator().manual_seed(12345)
        losses = []
        with torch.no_grad():
            for _ in range(20):
                index = torch.randint(0, len(table), (1024,), generator=generator)
                losses.append(
                    [float(v) for v in model._loss(x_num[index], codes[index], y[index], generator)]
                )
    finally:
        tabddpm.MultinomialDiffusion = original
    distance = sum(
        0.5
        * (
            rows[c]
            .value_counts(normalize=True)
            .sub(table[c].value_counts(normalize=True), fill_value=0.0)
            .abs()
            .sum()
        )
        for c in schema.categorical
    ) / len(schema.categorical)
    return {
        "train_s": trained - start,
        "sample_s": done - trained,
        "loss": [sum(v[i] for v in losses) / len(losses) for i in (0, 1)],
        "distance": float(distance),
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="adult")
    parser.add_argument("--rows", type=int, default=6000, help="rows of the training table")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--samples", type=int, default=10000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0], help="seeds of the flat layout (the spread)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    catalogue = yaml.safe_load((ROOT / "config/datasets.yaml").read_text())["datasets"]
    settings = yaml.safe_load((ROOT / "config/config.yaml").read_text())["generator"]["tabular"]
    settings["steps"] = args.steps
    pool, _, schema = prepare(DatasetSpec.from_config(args.dataset, catalogue[args.dataset], ROOT))
    table = pool.sample(min(args.rows, len(pool)), random_state=0)
    results = {}
    layouts = [("padded (before)", Padded, 0)]
    layouts += [(f"flat (now), seed {seed}", MultinomialDiffusion, seed) for seed in args.seeds]
    for name, layout, seed in layouts:
        result = run(layout, table, schema, settings, args.samples, seed)
        results[name] = result
        print(
            f"{name}: {args.steps / result['train_s']:.1f} steps/s ({result['train_s']:.1f} s), "
            f"{args.samples:,} samples in {result['sample_s']:.1f} s; mean loss numeric "
            f"{result['loss'][0]:.5f} categorical {result['loss'][1]:.5f}; categorical TV "
            f"distance to the table {result['distance']:.4f}"
        )
    before, now = results["padded (before)"], results["flat (now), seed 0"]
    difference = max(abs(a - b) for a, b in zip(before["loss"], now["loss"], strict=True))
    same = sum((before["rows"][c] == now["rows"][c]).mean() for c in schema.categorical)
    print(
        f"seed 0, padded against flat: largest difference of the mean losses {difference:.2e}; "
        f"categorical sample values equal: {same / len(schema.categorical):.1%}"
    )
    total = (before["train_s"] + before["sample_s"]) / (now["train_s"] + now["sample_s"])
    print(f"{total:.2f}x")


if __name__ == "__main__":
    main()
