"""What an image diffusion setting buys: training and sampling speed, quality, receiver accuracy.

    python benchmarks/image_samples.py [--config config/images-gpu.yaml] [--dataset cmnist]
        [--family edm] [--set resolution=16 --set steps=3000 ...] [--samplers dpmsolver++:20]
        [--n 1000] [--subset 1500] [--unconditional] [--seed 0] [--device auto] [--threads 2]
        [--out DIR]

Trains one shared model of ``--family`` (``ddpm`` or ``edm``) with the image settings of
``config/config.yaml`` (``image.diffusion``, ``image.samplers``, ``image.receiver``), overlaid by
those of ``--config`` and then by ``--set FIELD=VALUE`` (fields of ``image.diffusion``), on a
random ``--subset`` of the bundled dataset's training split (the unpoisoned shared model of the
fairness sweep: ``image.fpa.subset_size`` images). Then, for each ``--samplers`` entry
(``name:steps``; default the config's sampler of the family), it draws ``--n`` class-balanced
samples and prints, as one JSON line each:

- ``train_images_per_second`` and ``sample_images_per_second`` (guided: two network calls per
  image and step), the time of each;
- ``confident_share``: the share of samples that a CNN trained on the real training digits (the
  judge, :mod:`diffshare.evaluation.image_quality`) gives one digit with probability >= 0.9,
  beside ``real_confident_share`` on the real test images and their ratio ``relative``;
- ``receiver_accuracy``: the receiver's CNN (``image.receiver``) trained on the samples' y and
  scored on the real test images (the fairness track's utility), beside ``real_receiver_accuracy``,
  the same CNN trained on the real subset itself;
- ``roundtrip_confident_share`` (with a coarser ``resolution``): the judge's confident share on
  the real test images averaged down to the working grid and brought back, the most a sample
  drawn on that grid can score.

``--unconditional`` also rates ``--n`` unconditional samples (what property inference draws).
``--out`` saves a grid of each sampler's first 256 samples as PNG and the records as JSON.
Everything runs on ``--device`` (``auto``: CUDA when present); the config's bf16 autocast
applies on a GPU, and to sampling on a CPU with native bf16, unless ``--set mixed_precision=false``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from diffshare.data.image_catalogue import prepare_images
from diffshare.data.images import ImageSet
from diffshare.evaluation.image_quality import confident_share, sample_quality, train_judge
from diffshare.generators import make_generator
from diffshare.generators.image_sampling import sample_grid, sample_images
from diffshare.generators.image_unet import to_output, to_working
from diffshare.receivers.cnn import CnnClassifier
from diffshare.tensors import to_tensor

ROOT = Path(__file__).resolve().parents[1]


def settings(config_path: str | None, overrides: list[str]) -> dict[str, Any]:
    """``image`` of config/config.yaml, its diffusion/samplers/receiver overlaid by
    ``config_path``'s, then ``overrides`` (``FIELD=VALUE``, YAML values) on the diffusion."""
    image = yaml.safe_load((ROOT / "config/config.yaml").read_text())["image"]
    if config_path:
        extra = (yaml.safe_load(Path(config_path).read_text()) or {}).get("image", {})
        for key in ("diffusion", "samplers", "receiver"):
            image[key] = {**image[key], **extra.get(key, {})}
    for item in overrides:
        field, _, value = item.partition("=")
        if field not in image["diffusion"]:
            raise SystemExit(f"--set {item}: {field!r} is no field of image.diffusion")
        image["diffusion"][field] = yaml.safe_load(value)
    return image


def receiver_accuracy(
    receiver: dict[str, Any], train: ImageSet, test: ImageSet, seed: int, device: str
) -> float:
    model = CnnClassifier(**receiver, seed=seed, device=device)
    model.fit(train.images, train.attributes["y"])
    return float(np.mean(model.predict(test.images) == test.attributes["y"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="a config whose image section overlays the defaults")
    parser.add_argument("--dataset", default="cmnist", choices=["cmnist", "mnist"])
    parser.add_argument("--family", default="edm", choices=["ddpm", "edm"])
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--samplers", nargs="*", default=None, metavar="NAME:STEPS")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--subset", type=int, default=None)
    parser.add_argument("--unconditional", action="store_true")
    parser.add_argument("--judge-epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    image = settings(args.config, args.set)
    catalogue = yaml.safe_load((ROOT / "config/datasets.yaml").read_text())["image_datasets"]
    train, test, summary = prepare_images(args.dataset, catalogue[args.dataset], ROOT)
    rng = np.random.default_rng(args.seed)
    size = args.subset or image["fpa"]["subset_size"]
    rows = rng.choice(len(train), size=min(size, len(train)), replace=False)
    subset = ImageSet(train.images[rows], {k: v[rows] for k, v in train.attributes.items()})
    samplers = args.samplers or [
        f"{image['samplers'][args.family]['name']}:{image['samplers'][args.family]['steps']}"
    ]
    base = {
        "dataset": args.dataset,
        "family": args.family,
        "subset": len(subset),
        "diffusion": image["diffusion"],
        "device": args.device,
        "threads": torch.get_num_threads(),
    }

    model = make_generator(
        args.family,
        image["diffusion"],
        seed=args.seed,
        device=args.device,
        num_classes=summary["num_classes"],
        channels=summary["channels"],
        image_size=summary["image_size"],
    )
    start = time.perf_counter()
    model.fit(subset.images, subset.attributes["y"])
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    train_seconds = time.perf_counter() - start
    steps, batch = image["diffusion"]["steps"], image["diffusion"]["batch_size"]
    base.update(
        train_seconds=round(train_seconds, 2),
        train_images_per_second=round(steps * batch / train_seconds, 1),
    )
    device = str(model.device)
    judge = train_judge(
        train.images, train.attributes["digit"], epochs=args.judge_epochs, device=device
    )
    if model.size_ != summary["image_size"]:  # what the coarser grid alone costs real images
        grid = to_output(to_working(to_tensor(test.images), model.size_), summary["image_size"])
        pixels = grid.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
        base["roundtrip_confident_share"] = confident_share(
            judge, pixels.permute(0, 2, 3, 1).numpy()
        )
    base["real_receiver_accuracy"] = receiver_accuracy(
        image["receiver"], subset, test, args.seed, device
    )
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    records = []
    for spec in samplers:
        name, _, steps_text = spec.partition(":")
        for conditional in (True, False) if args.unconditional else (True,):
            samples, record = sample_images(
                model,
                args.n,
                conditional=conditional,
                samplers={args.family: {"name": name, "steps": int(steps_text)}},
                seed=args.seed,
            )
            row = {
                **base,
                "sampler": name,
                "sampler_steps": int(steps_text),
                "conditional": conditional,
                "sample_seconds": round(record["seconds"], 2),
                "sample_images_per_second": round(record["images_per_second"], 2),
                **sample_quality(judge, samples.images, test.images),
            }
            if conditional:
                row["receiver_accuracy"] = receiver_accuracy(
                    image["receiver"], samples, test, args.seed, device
                )
            print(json.dumps(row), flush=True)
            records.append(row)
            if args.out:
                kind = "conditional" if conditional else "unconditional"
                sample_grid(samples, args.out / f"{args.family}_{name}_{kind}.png")
    if args.out:
        (args.out / f"{args.family}.json").write_text(json.dumps(records, indent=1))


if __name__ == "__main__":
    main()
