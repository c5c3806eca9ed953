"""Torch helpers shared by the generators and the receivers: device resolution, image tensors."""

from __future__ import annotations

import numpy as np
import torch

from diffshare.errors import DataError


def _device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 ``(n, h, w, c)`` -> float ``(n, c, h, w)`` in [-1, 1]."""
    if images.dtype != np.uint8 or images.ndim != 4:
        raise DataError(f"images must be uint8 (n, h, w, c), got {images.dtype} {images.shape}")
    return torch.as_tensor(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
