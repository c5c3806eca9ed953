"""Sampling the image generators: the receiver's sample sets (class-balanced for fairness
poisoning, unconditional for property inference) with a grid of them for people to look at."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from diffshare.data.images import ImageSet
from diffshare.errors import ConfigError
from diffshare.generators.schedulers import SAMPLERS
from diffshare.storage import atomic_path

if TYPE_CHECKING:
    from diffshare.generators.image_diffusion import ImageDiffusion
    from diffshare.generators.sngan import Sngan


def sample_images(
    model: ImageDiffusion | Sngan,
    n: int,
    *,
    conditional: bool,
    samplers: Mapping[str, Mapping[str, Any]],
    seed: int,
) -> tuple[ImageSet, dict[str, Any]]:
    """``n`` samples (uint8 ``(n, size, size, channels)``) and a record of how they were drawn:
    class-conditional with ``y`` balanced over the classes (the fairness receiver's query), or
    unconditional (property inference). A GAN samples unconditionally only.
    ``samplers[family]`` gives a diffusion family's sampler ``name`` and ``steps``."""
    start = time.perf_counter()
    if getattr(model, "plugin", None) is not None:  # a plugin family: sample(n[, labels], seed)
        if conditional:
            if not model.num_classes:
                raise ConfigError(
                    f"plugin family {model.family!r} was fitted without a class count; it "
                    "cannot draw labelled samples"
                )
            labels = np.arange(n, dtype=np.int64) % model.num_classes
            labels = np.random.default_rng(seed).permutation(labels)
            images = ImageSet(model.sample(n, labels, seed=seed), {"y": labels})
        else:
            images = ImageSet(model.sample(n, seed=seed))
        record: dict[str, Any] = {"family": model.family, "plugin": model.spec}
    elif model.family == "sngan":
        if conditional:
            raise ConfigError(
                "the SNGAN baseline is unconditional; it cannot draw labelled samples"
            )
        images = ImageSet(model.sample(n, seed=seed))
        record = {"family": "sngan"}
    else:
        family = model.family
        setting = samplers.get(family)
        if not setting or setting.get("name") not in SAMPLERS[family]:
            raise ConfigError(
                f"image.samplers.{family}.name must be one of {list(SAMPLERS[family])}, got "
                f"{(setting or {}).get('name')!r}"
            )
        name, steps = setting["name"], int(setting["steps"])
        if conditional:
            labels = np.arange(n, dtype=np.int64) % model.num_classes
            labels = np.random.default_rng(seed).permutation(labels)
            pixels = model.sample(n, labels, sampler=name, num_inference_steps=steps, seed=seed)
            images = ImageSet(pixels, {"y": labels})
        else:
            pixels = model.sample(
                n, sampler=name, num_inference_steps=steps, seed=seed, unconditional=True
            )
            images = ImageSet(pixels)
        record = {"family": family, "sampler": name, "steps": steps}
    seconds = time.perf_counter() - start
    record.update(n=int(n), conditional=conditional, seconds=seconds, images_per_second=n / seconds)
    return images, record


def sample_grid(images: ImageSet, path: str | os.PathLike, columns: int = 16) -> None:
    """The first ``columns`` x ``columns`` images as one PNG, for people to look at."""
    from PIL import Image

    shown = images.images[: columns * columns]
    rows = int(np.ceil(len(shown) / columns))
    size, channels = shown.shape[1], shown.shape[-1]
    canvas = np.zeros((rows * size, columns * size, channels), dtype=np.uint8)
    for i, image in enumerate(shown):
        r, c = divmod(i, columns)
        canvas[r * size : (r + 1) * size, c * size : (c + 1) * size] = image
    picture = Image.fromarray(canvas[..., 0] if channels == 1 else canvas)
    with atomic_path(path) as tmp:
        picture.save(tmp, format="PNG")
