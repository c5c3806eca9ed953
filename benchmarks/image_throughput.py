"""Image diffusion throughput: the paper's setup against diffshare's, at the paper's model size.

    python benchmarks/image_throughput.py [--device auto] [--train-steps 20] [--sample-images 256]

Model: UNet2DModel, base width 64, multipliers 1, 2, 4, 8, attention at the second level,
10 classes, 32 x 32 x 3 (the paper's CIFAR-size DDPM). Measured in one run:

- training images/s: the paper's setup (batch 64, fp32, default memory layout) against ours
  (batch 256, bf16 autocast and channels-last on CUDA; on a CPU the batch differs, and where
  its instructions have bf16, sampling runs in bf16);
- sampling images/s: DDPM with 1000 steps (the paper's) against DPM-Solver++ with 20 steps,
  both with classifier-free guidance; measured over a few steps and scaled to the full count.

Prints each figure and the ratio ours / paper for training, sampling and both together (the time
to train one image-epoch and draw one image). The issue's goal, on a GPU: at least 5x.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from diffshare.generators.image_diffusion import ImageDiffusion, ImageDiffusionConfig

PAPER = {
    "resolution": None,
    "beta_schedule": "linear",
    "prediction_type": "epsilon",
    "base_channels": 64,
    "channel_mults": [1, 2, 4, 8],
    "attention_levels": [1],
}


def model(device: str, fast: bool, batch: int, steps: int) -> ImageDiffusion:
    config = ImageDiffusionConfig(
        **PAPER, steps=steps, batch_size=batch, mixed_precision=fast, channels_last=fast
    )
    return ImageDiffusion(config, num_classes=10, channels=3, device=device)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_rate(device: str, fast: bool, batch: int, steps: int) -> float:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(4 * batch, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, size=len(images))
    warm = model(device, fast, batch, 2)
    warm.fit(images, labels)  # compile kernels, allocate memory
    timed = model(device, fast, batch, steps)
    synchronize(timed.device)
    start = time.perf_counter()
    timed.fit(images, labels)
    synchronize(timed.device)
    return batch * steps / (time.perf_counter() - start)


def sample_rate(device: str, fast: bool, sampler: str, total_steps: int, images: int) -> float:
    net = model(device, fast, 64, 1)
    measured = min(total_steps, 5)
    net.sample(images, sampler=sampler, num_inference_steps=measured, batch_size=images)  # warm
    synchronize(net.device)
    start = time.perf_counter()
    net.sample(images, sampler=sampler, num_inference_steps=measured, batch_size=images)
    synchronize(net.device)
    seconds = (time.perf_counter() - start) * total_steps / measured
    return images / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--train-steps", type=int, default=20)
    parser.add_argument("--sample-images", type=int, default=256)
    args = parser.parse_args()
    device = (
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    print(
        f"device: {device} ({torch.cuda.get_device_name() if device.startswith('cuda') else 'CPU'})"
    )
    paper_train = train_rate(device, False, 64, args.train_steps)
    ours_train = train_rate(device, True, 256, args.train_steps)
    print(
        f"training images/s: paper setup {paper_train:.1f}, ours {ours_train:.1f} "
        f"(ratio {ours_train / paper_train:.2f})"
    )
    paper_sample = sample_rate(device, False, "ddpm", 1000, args.sample_images)
    ours_sample = sample_rate(device, True, "dpmsolver++", 20, args.sample_images)
    print(
        f"sampling images/s: paper setup (DDPM 1000) {paper_sample:.2f}, ours (DPM-Solver++ 20) "
        f"{ours_sample:.2f} (ratio {ours_sample / paper_sample:.1f})"
    )
    paper_both = 1 / (1 / paper_train + 1 / paper_sample)
    ours_both = 1 / (1 / ours_train + 1 / ours_sample)
    print(
        f"train one image + sample one image, images/s: paper {paper_both:.2f}, "
        f"ours {ours_both:.2f} (ratio {ours_both / paper_both:.1f})"
    )


if __name__ == "__main__":
    main()
