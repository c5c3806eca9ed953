"""The non-diffusion image baseline: a small spectrally normalised GAN (Miyato et al. 2018),
the generator of the property inference comparison that is not a diffusion model: DCGAN-style
generator, discriminator with spectral normalisation on every layer, hinge loss. Takes uint8
images ``(n, 32, 32, channels)`` like :mod:`diffshare.data.images` produces. Training
checkpoints (both networks, both optimizers, the random states) let a killed run resume
exactly, unless its data or settings were edited since."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from diffshare.errors import DataError
from diffshare.generators.base import BaseGenerator, load_weights, save_weights
from diffshare.generators.formats import SNGAN_FORMAT
from diffshare.generators.training import TrainingCheckpoint, TrainingError, resolve_device
from diffshare.tensors import to_tensor

log = logging.getLogger(__name__)


class _Generator(nn.Module):
    def __init__(self, latent: int, channels: int, width: int):
        super().__init__()
        self.width = width
        self.project = nn.Linear(latent, 4 * 4 * 4 * width)
        self.net = nn.Sequential(
            nn.BatchNorm2d(4 * width), nn.ReLU(),
            nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, channels, 3, padding=1), nn.Tanh(),
        )  # fmt: skip

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.project(z).view(len(z), 4 * self.width, 4, 4))


class _Discriminator(nn.Module):
    def __init__(self, channels: int, width: int):
        super().__init__()

        def conv(a, b, k, s, p):
            return spectral_norm(nn.Conv2d(a, b, k, s, p))

        self.net = nn.Sequential(
            conv(channels, width, 3, 1, 1), nn.LeakyReLU(0.1),
            conv(width, width, 4, 2, 1), nn.LeakyReLU(0.1),
            conv(width, 2 * width, 3, 1, 1), nn.LeakyReLU(0.1),
            conv(2 * width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.1),
            conv(2 * width, 4 * width, 3, 1, 1), nn.LeakyReLU(0.1),
            conv(4 * width, 4 * width, 4, 2, 1), nn.LeakyReLU(0.1),
            nn.Flatten(), spectral_norm(nn.Linear(4 * 4 * 4 * width, 1)),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


class Sngan(BaseGenerator):
    """Unconditional SNGAN for 32x32 images: ``fit(images)`` then ``sample(n, seed=...)``."""

    format = SNGAN_FORMAT
    saved_files = ("generator.safetensors",)
    what = "an SNGAN model"
    family = "sngan"

    def __init__(
        self,
        *,
        steps: int = 1000,
        batch_size: int = 32,
        latent: int = 64,
        width: int = 16,
        learning_rate: float = 2e-4,
        seed: int = 0,
        device: str = "auto",
        checkpoint_dir: str | os.PathLike | None = None,
        checkpoint_every: int = 500,
    ):
        self.steps, self.batch_size, self.latent, self.width = steps, batch_size, latent, width
        self.learning_rate, self.seed = learning_rate, int(seed)
        self.device = resolve_device(device)
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.checkpoint_every = int(checkpoint_every)

    @classmethod
    def from_settings(
        cls,
        family: str,
        settings: Mapping[str, Any],
        *,
        num_classes: int | None = None,
        channels: int | None = None,
        image_size: int | None = None,
        **options: Any,
    ) -> Sngan:
        """``settings``: ``steps``, ``batch_size``, ``latent``, ``width``, ``learning_rate``.
        ``num_classes``, ``channels`` and ``image_size`` are taken as the diffusion families
        take them, and not used: the GAN is unconditional, 32x32, and learns its channels from
        the images."""
        return cls(**settings, **options)

    def _settings(self) -> dict[str, Any]:
        """What the GAN is made of: saved in ``config.json`` and fingerprinted in checkpoints."""
        return {
            "steps": self.steps,
            "batch_size": self.batch_size,
            "latent": self.latent,
            "width": self.width,
            "learning_rate": self.learning_rate,
            "seed": self.seed,
        }

    def fit(self, images: np.ndarray, labels: np.ndarray | None = None) -> Sngan:
        """Train on uint8 ``images`` ``(n, 32, 32, channels)`` for ``steps`` steps; ``labels``
        are ignored (the GAN is unconditional). With ``checkpoint_dir`` set, saves a checkpoint
        every ``checkpoint_every`` steps and resumes from one of the same data and settings."""
        x = to_tensor(images)
        if x.shape[-2:] != (32, 32):
            raise DataError(f"SNGAN works on 32x32 images, got {tuple(x.shape[-2:])}")
        torch.manual_seed(self.seed)
        self.channels_ = x.shape[1]
        self.generator_ = _Generator(self.latent, self.channels_, self.width).to(self.device)
        critic = _Discriminator(self.channels_, self.width).to(self.device)
        betas = (0.0, 0.9)
        g_opt = torch.optim.Adam(self.generator_.parameters(), self.learning_rate, betas=betas)
        d_opt = torch.optim.Adam(critic.parameters(), self.learning_rate, betas=betas)
        rng = torch.Generator().manual_seed(self.seed)
        checkpoint = TrainingCheckpoint(
            self.checkpoint_dir,
            self.checkpoint_every,
            settings=self._settings(),
            data=(images,),
            device=self.device,
        )
        parts = {
            "generator": self.generator_,
            "discriminator": critic,
            "generator_optimizer": g_opt,
            "discriminator_optimizer": d_opt,
        }
        start = time.perf_counter()
        for step in range(checkpoint.resume(parts, rng) + 1, self.steps + 1):
            real = x[torch.randint(0, len(x), (self.batch_size,), generator=rng)].to(self.device)
            z = torch.randn(self.batch_size, self.latent, generator=rng).to(self.device)
            fake = self.generator_(z)
            d_loss = (torch.relu(1 - critic(real)).mean() + torch.relu(1 + critic(fake.detach()))
                      .mean())  # fmt: skip
            d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            d_opt.step()
            g_loss = -critic(fake).mean()
            g_opt.zero_grad(set_to_none=True)
            g_loss.backward()
            g_opt.step()
            if not (torch.isfinite(d_loss) and torch.isfinite(g_loss)):
                raise TrainingError(f"SNGAN loss is not finite at step {step}")
            if step % 500 == 0 or step == self.steps:
                log.info(
                    "SNGAN step %d/%d: D %.3f G %.3f (%.0f s)",
                    step,
                    self.steps,
                    d_loss.item(),
                    g_loss.item(),
                    time.perf_counter() - start,
                )
            if checkpoint.due(step, self.steps):
                checkpoint.save(step, parts, rng)
        self.generator_.eval()
        return self

    @torch.no_grad()
    def sample(self, n: int, *, seed: int = 0) -> np.ndarray:
        """``n`` uint8 images ``(n, 32, 32, channels)``; the same ``seed`` gives the same."""
        self._check_fitted("generator_")
        rng = torch.Generator().manual_seed(int(seed))
        out = []
        for begin in range(0, n, 1024):
            z = torch.randn(min(1024, n - begin), self.latent, generator=rng).to(self.device)
            out.append(self.generator_(z).clamp(-1, 1).add(1).mul(127.5).round().byte().cpu())
        return torch.cat(out).permute(0, 2, 3, 1).numpy()

    def save(self, folder: str | os.PathLike) -> None:
        """``generator.safetensors`` (the generator's weights and batch-norm statistics) and
        ``config.json``; the discriminator is not needed to sample and is not kept."""
        folder = self._folder(folder, "generator_")
        save_weights(self.generator_, folder / "generator.safetensors")
        self._write_config(folder, {"settings": self._settings(), "channels": self.channels_})

    @classmethod
    def load(cls, folder: str | os.PathLike, device: str = "auto") -> Sngan:
        """A GAN saved by :meth:`save` (its generator), on ``device``."""
        folder, device = Path(folder), resolve_device(device)  # a bad device is the caller's
        with cls._described(folder) as description:
            channels = int(description["channels"])
            model = cls(**description["settings"], device=device)
        model.channels_ = channels
        model.generator_ = _Generator(model.latent, model.channels_, model.width)
        load_weights(model.generator_, folder / "generator.safetensors")
        model.generator_.to(model.device).eval()
        return model
