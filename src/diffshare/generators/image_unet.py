"""The image diffusion families' network: diffusers' ``UNet2DModel`` built from
:class:`~diffshare.generators.image_diffusion.ImageDiffusionConfig`, read back from
``save_pretrained``'s folder, and the change of resolution between the images a model is given
(and must return) and the grid it works on (``ImageDiffusionConfig.resolution``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from diffshare.errors import ConfigError
from diffshare.generators.base import check_weights, reading
from diffshare.storage import read_json_object

if TYPE_CHECKING:
    import diffusers


def working_size(config: Any, image_size: int) -> int:
    """The side of the grid the UNet works on: ``config.resolution``, or the images' own side
    when it is null. It must not exceed the images' side, and must halve cleanly at each of
    the UNet's downsampling steps (ConfigError naming it otherwise)."""
    size = int(config.resolution or image_size)
    levels = len(config.channel_mults)
    if not 1 <= size <= image_size or size % 2 ** (levels - 1):
        raise ConfigError(
            f"image.diffusion.resolution must be at most the images' side {image_size} and a "
            f"multiple of {2 ** (levels - 1)} (the UNet halves it {levels - 1} times), got "
            f"{config.resolution}"
        )
    return size


def to_working(x: torch.Tensor, size: int) -> torch.Tensor:
    """Images ``(n, c, h, w)`` averaged down to ``size`` x ``size`` (area weights: every pixel
    counts, as in a box filter), or returned as they are at that size."""
    return x if x.shape[-1] == size else F.interpolate(x, size=(size, size), mode="area")


def to_output(x: torch.Tensor, size: int) -> torch.Tensor:
    """Samples on the working grid brought back to the images' side ``size`` (bicubic)."""
    if x.shape[-1] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False)


def build_unet(config: Any, *, size: int, channels: int, num_classes: int) -> diffusers.UNet2DModel:
    """A class-conditional UNet (``num_classes`` + 1 class embeddings: the last is the null
    class of classifier-free guidance) on ``size`` x ``size`` x ``channels`` grids."""
    import diffusers  # imported when needed: it takes seconds

    levels = range(len(config.channel_mults))
    return diffusers.UNet2DModel(
        sample_size=size,
        in_channels=channels,
        out_channels=channels,
        block_out_channels=[config.base_channels * m for m in config.channel_mults],
        down_block_types=[
            "AttnDownBlock2D" if i in config.attention_levels else "DownBlock2D" for i in levels
        ],
        up_block_types=[
            "AttnUpBlock2D" if i in config.attention_levels else "UpBlock2D"
            for i in reversed(levels)
        ],
        layers_per_block=config.layers_per_block,
        norm_num_groups=config.norm_num_groups,
        dropout=config.dropout,
        num_class_embeds=num_classes + 1,
    )


def load_unet(folder: Path) -> diffusers.UNet2DModel:
    """The UNet ``save_pretrained`` wrote in ``folder`` (safetensors only), or DataError."""
    import diffusers  # imported when needed: it takes seconds

    config, weights = folder / "config.json", folder / "diffusion_pytorch_model.safetensors"
    read_json_object(config)
    check_weights(weights)
    with reading(weights, f"holds weights that do not fit the UNet {config} describes"):
        return diffusers.UNet2DModel.from_pretrained(folder, use_safetensors=True)
