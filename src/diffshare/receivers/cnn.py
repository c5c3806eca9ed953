"""The receiver's image classifier.

:class:`CnnClassifier` is the paper's downstream image classifier, two convolution layers and
  three linear layers with dropout 0.5, trained with Adam; its penultimate layer
  (:meth:`CnnClassifier.features`) doubles as the feature map for MINE and property
  discriminators when no CLIP weights are given.

It takes uint8 images ``(n, 32, 32, channels)`` like :mod:`diffshare.data.images` produces.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch
from torch import nn

from diffshare.errors import DataError, DiffshareError
from diffshare.tensors import resolve_device, to_tensor

log = logging.getLogger(__name__)


class _Cnn(nn.Module):
    def __init__(self, channels: int, n_classes: int, size: int):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(channels, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        )  # fmt: skip
        flat = 64 * (size // 4) ** 2
        self.body = nn.Sequential(
            nn.Flatten(), nn.Linear(flat, 256), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(256, 128), nn.ReLU(), nn.Dropout(0.5),
        )  # fmt: skip
        self.head = nn.Linear(128, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.conv(x)))


class CnnClassifier:
    """Fit on uint8 images and integer labels (optionally weighted per image); ``predict_proba``,
    ``predict``, ``features``. ``balanced`` weighs the loss so that every class counts as much
    (for rare properties)."""

    def __init__(
        self,
        *,
        epochs: int = 20,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        balanced: bool = False,
        seed: int = 0,
        device: str = "auto",
    ):
        self.epochs, self.batch_size, self.learning_rate = epochs, batch_size, learning_rate
        self.balanced = balanced
        self.seed, self.device = int(seed), resolve_device(device)

    def fit(
        self, images: np.ndarray, labels: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> CnnClassifier:
        """Train on uint8 ``images`` (n, h, w, c) and integer ``labels`` (n,). ``sample_weight``
        (n,), non-negative: each image's cross-entropy is weighted by it (scaled to mean 1 over
        the set, so the learning rate keeps its meaning); ``None`` weighs every image alike."""
        labels = np.asarray(labels, dtype=np.int64)
        if len(labels) != len(images):
            raise DataError(f"{len(images)} images but {len(labels)} labels")
        weights = None if sample_weight is None else _checked_weights(sample_weight, len(labels))
        self.classes_ = np.unique(labels)
        if len(self.classes_) < 2:
            raise DataError("the classifier needs at least two classes in its training labels")
        torch.manual_seed(self.seed)
        x, y = to_tensor(images), torch.as_tensor(np.searchsorted(self.classes_, labels))
        self.model_ = _Cnn(x.shape[1], len(self.classes_), x.shape[-1]).to(self.device)
        optimizer = torch.optim.Adam(self.model_.parameters(), lr=self.learning_rate)
        weight = None
        if self.balanced:  # each class weighs as much in the loss, however rare
            counts = torch.bincount(y, minlength=len(self.classes_)).float()
            weight = (counts.sum() / (len(counts) * counts)).to(self.device)
        if weights is not None:
            weights = torch.as_tensor(weights / weights.mean(), dtype=torch.float32)
        generator = torch.Generator().manual_seed(self.seed)
        start = time.perf_counter()
        self.model_.train()
        for _ in range(self.epochs):
            order = torch.randperm(len(x), generator=generator)
            for begin in range(0, len(x), self.batch_size):
                rows = order[begin : begin + self.batch_size]
                logits = self.model_(x[rows].to(self.device))
                target = y[rows].to(self.device)
                if weights is None:
                    loss = nn.functional.cross_entropy(logits, target, weight=weight)
                else:  # the weighted empirical risk: mean of weight x loss over the batch
                    losses = nn.functional.cross_entropy(
                        logits, target, weight=weight, reduction="none"
                    )
                    loss = (losses * weights[rows].to(self.device)).mean()
                if not torch.isfinite(loss):
                    raise DiffshareError("CNN training loss is not finite")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        self.model_.eval()
        log.info("trained the CNN on %d images in %.1f s", len(x), time.perf_counter() - start)
        return self

    @torch.no_grad()
    def _batches(self, images: np.ndarray, function) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise DiffshareError("the classifier is not fitted")
        x = to_tensor(images)
        parts = [function(x[i : i + 1024].to(self.device)).cpu() for i in range(0, len(x), 1024)]
        return torch.cat(parts).numpy()

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        return self._batches(images, lambda x: torch.softmax(self.model_(x), dim=1))

    def predict(self, images: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(images).argmax(axis=1)]

    def features(self, images: np.ndarray) -> np.ndarray:
        """The penultimate layer (128 values per image)."""
        return self._batches(images, lambda x: self.model_.body(self.model_.conv(x)))


def _checked_weights(sample_weight: np.ndarray, n: int) -> np.ndarray:
    """``sample_weight`` as float64 (n,); :class:`DataError` naming the fault unless it has n
    finite, non-negative values, not all zero."""
    weights = np.asarray(sample_weight, dtype=np.float64)
    if weights.shape != (n,):
        raise DataError(f"sample_weight must have shape ({n},), got {weights.shape}")
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise DataError("sample_weight must be finite and non-negative")
    if weights.sum() <= 0:
        raise DataError("sample_weight is zero for every image")
    return weights
