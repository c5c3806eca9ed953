"""Torch helpers shared by the generators and the receivers: device resolution, image tensors."""

from __future__ import annotations

import ctypes
import functools
import platform
import re
import sys

import numpy as np
import torch

from diffshare.errors import ConfigError, DataError

_DEVICE = re.compile(r"cpu|cuda(:\d+)?")


def resolve_device(device: str | torch.device) -> torch.device:
    """The torch device that ``device`` names: ``"auto"`` (CUDA when available, else the CPU),
    ``"cpu"``, ``"cuda"`` or ``"cuda:N"``. Raises :class:`ConfigError` naming any other value.
    A CUDA device is returned as asked even where CUDA is missing: the caller decides whether
    that is an error or a fallback."""
    if isinstance(device, torch.device):
        device = str(device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, str) or not _DEVICE.fullmatch(device):
        raise ConfigError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    return torch.device(device)


#: torch's float32 matmul precisions (:func:`torch.set_float32_matmul_precision`).
MATMUL_PRECISIONS = ("highest", "high", "medium")


def set_matmul_precision(precision: str) -> None:
    """Set the precision of this process's float32 matrix products (torch's own setting):
    ``"highest"`` computes them in float32; ``"high"`` allows TF32 on CUDA; ``"medium"`` allows
    bfloat16 inside them where the hardware has fast bfloat16 products (CUDA; a CPU with AMX),
    and is float32 elsewhere. Raises :class:`ConfigError` naming any other value."""
    if precision not in MATMUL_PRECISIONS:
        raise ConfigError(
            f"matmul precision must be one of {list(MATMUL_PRECISIONS)}, got {precision!r}"
        )
    torch.set_float32_matmul_precision(precision)


# glibc's mallopt parameters (malloc.h) and the values a model job sets: allocations up to
# 256 MiB come from the heap, and up to 1 GiB of freed heap stays with the process.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 256 << 20
TRIM_THRESHOLD = 1 << 30


@functools.cache
def reuse_freed_memory() -> bool:
    """Keep the memory this process frees for its next allocations (glibc's ``mallopt``).

    glibc serves each allocation above its mmap threshold (128 KiB at first, raised by itself
    to at most 32 MiB) with fresh pages from the kernel, which zeroes every page on first touch,
    and hands them back on free. A training or sampling step of a model allocates and frees
    tensors of that size many times over (a batch of 10,000 rows through a 256-wide layer is
    10 MB), so every step paid those page faults again. With both thresholds raised, they are
    served from the heap, and freed memory is reused by the next step. The arithmetic is the
    same; the process may hold up to :data:`TRIM_THRESHOLD` more memory than it uses. Call it
    once at the start of a job. Returns whether it applied: ``False`` where the C library is
    not glibc (macOS, Windows, musl), where it does nothing."""
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )


@functools.cache
def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes in bf16 natively: CUDA, or a CPU whose oneDNN kernels have
    bf16 instructions (AVX-512 BF16 or AMX). Elsewhere bf16 is emulated, slower than fp32.
    Asked once per device (every training and sampling step asks)."""
    if device.type == "cuda":
        return True
    if device.type != "cpu" or not torch.backends.mkldnn.is_available():
        return False
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without the query: assume emulation
        return False


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 ``(n, h, w, c)`` -> float ``(n, c, h, w)`` in [-1, 1]."""
    if images.dtype != np.uint8 or images.ndim != 4:
        raise DataError(f"images must be uint8 (n, h, w, c), got {images.dtype} {images.shape}")
    return torch.as_tensor(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
