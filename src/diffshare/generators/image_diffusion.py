"""Class-conditional image diffusion with classifier-free guidance, on diffusers' ``UNet2DModel``.

Two families, chosen by :attr:`ImageDiffusionConfig.family`:

- ``ddpm``: epsilon prediction with diffusers' DDPM noise schedule (Ho et al. 2020), as the paper;
  sampled with ``ddpm`` (the paper's 1000 steps), ``ddim`` or ``dpmsolver++`` (few steps).
- ``edm``: the preconditioned denoiser of Karras et al. 2022 (log-normal noise levels, EDM loss
  weighting, diffusers' ``EDMEulerScheduler`` preconditioning); sampled with ``euler`` or
  ``dpmsolver++`` (``EDMDPMSolverMultistepScheduler``).

Classifier-free guidance (Ho and Salimans 2022): the class label is replaced by a null class with
probability ``cond_drop_prob`` in training (0.5, as the paper), and sampling mixes the conditional
and unconditional predictions with ``guidance_scale`` (3, as the paper). bf16 autocast and
channels-last memory on CUDA; on a CPU with native bf16 (AVX-512 BF16, AMX) sampling in bf16 (1.9x
faster there; training would gain 5%, so it stays fp32); fp32 elsewhere.

A fitted model is saved with diffusers' ``save_pretrained`` (``unet/`` with safetensors weights,
the EMA weights) beside ``config.json``; training checkpoints (raw weights, EMA, optimizer and
random state, :class:`~diffshare.generators.training.TrainingCheckpoint`) let a killed run
resume exactly, unless its data or settings were edited since.
"""

from __future__ import annotations

import copy
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    import diffusers

from diffshare.errors import ConfigError, DataError
from diffshare.generators.base import BaseGenerator
from diffshare.generators.formats import IMAGE_DIFFUSION_FORMAT
from diffshare.generators.image_unet import (
    build_unet,
    load_unet,
    to_output,
    to_working,
    working_size,
)
from diffshare.generators.schedulers import SAMPLERS, make_scheduler
from diffshare.generators.training import (
    LR_SCHEDULES,
    ExponentialMovingAverage,
    TrainingCheckpoint,
    TrainingError,
    learning_rate_schedule,
    resolve_device,
)
from diffshare.storage import atomic_folder
from diffshare.tensors import native_bf16, to_tensor

log = logging.getLogger(__name__)


@dataclass
class ImageDiffusionConfig:
    """Hyperparameters of :class:`ImageDiffusion`; every field but ``family`` can be set from
    the config (``image.diffusion``), whose schema holds the same defaults: a small UNet for a
    CPU (a 16 x 16 working grid, velocity prediction on the cosine schedule). The paper's:
    resolution None (32 x 32), linear schedule, epsilon prediction, base_channels 64,
    channel_mults [1, 2, 4, 8], layers_per_block 2, attention_levels [1], norm_num_groups 32,
    dropout 0.1, guidance_scale 3, batch_size 64, learning_rate 1e-4 constant without warm-up
    (see config/images-gpu.yaml)."""

    family: str = "ddpm"
    #: Side of the grid the UNet works on (null: the images' own): images are averaged down
    #: to it for training and samples brought back up to the images' side (bicubic).
    resolution: int | None = 16
    base_channels: int = 16
    channel_mults: list[int] = field(default_factory=lambda: [1, 2, 2])
    layers_per_block: int = 1
    #: Resolution levels (0 = the first) whose blocks have self-attention.
    attention_levels: list[int] = field(default_factory=list)
    norm_num_groups: int = 8
    dropout: float = 0.0
    num_train_timesteps: int = 1000
    beta_schedule: str = "squaredcos_cap_v2"
    #: What the ddpm family's network predicts: the noise (``epsilon``, the paper's) or the
    #: velocity (``v_prediction``, Salimans and Ho 2022). The edm family ignores it.
    prediction_type: str = "v_prediction"
    sigma_data: float = 0.5
    cond_drop_prob: float = 0.5
    guidance_scale: float = 2.0
    steps: int = 4500
    batch_size: int = 32
    learning_rate: float = 2e-3
    #: ``constant`` (the paper's) or ``cosine`` (to 0 at ``steps``), after a linear warm-up.
    lr_schedule: str = "cosine"
    lr_warmup_steps: int = 100
    ema_decay: float = 0.995
    #: bf16 autocast where native (module docstring); channels-last memory on CUDA.
    mixed_precision: bool = True
    channels_last: bool = True

    def __post_init__(self) -> None:
        if self.family not in SAMPLERS:
            raise ConfigError(
                f"image diffusion family must be one of {list(SAMPLERS)}, got {self.family!r}"
            )
        if self.prediction_type not in ("epsilon", "v_prediction"):
            raise ConfigError(
                f"prediction_type must be 'epsilon' or 'v_prediction', got {self.prediction_type!r}"
            )
        if self.lr_schedule not in LR_SCHEDULES or self.lr_warmup_steps < 0:
            raise ConfigError(
                f"lr_schedule must be one of {list(LR_SCHEDULES)} and lr_warmup_steps at least "
                f"0, got {self.lr_schedule!r} and {self.lr_warmup_steps}"
            )
        if not 0.0 <= self.cond_drop_prob < 1.0:
            raise ConfigError(f"cond_drop_prob must be in [0, 1), got {self.cond_drop_prob}")
        bad = [a for a in self.attention_levels if not 0 <= a < len(self.channel_mults)]
        if bad:
            raise ConfigError(f"attention_levels {bad} outside 0..{len(self.channel_mults) - 1}")


class ImageDiffusion(BaseGenerator):
    """Estimator-style: ``fit(images, labels)`` then ``sample(n, labels=...)``.

    ``images`` are uint8 ``(n, size, size, channels)``; ``labels`` integers in
    ``0 .. num_classes - 1``; index ``num_classes`` is the null class of guidance.
    """

    format = IMAGE_DIFFUSION_FORMAT
    saved_files = ("unet/config.json", "unet/diffusion_pytorch_model.safetensors")
    what = "an image diffusion model"

    def __init__(
        self,
        config: ImageDiffusionConfig | None = None,
        *,
        num_classes: int,
        channels: int,
        image_size: int = 32,
        seed: int = 0,
        device: str = "auto",
        checkpoint_dir: str | os.PathLike | None = None,
        checkpoint_every: int = 500,
    ):
        self.config = config or ImageDiffusionConfig()
        self.num_classes = int(num_classes)
        self.channels = int(channels)
        self.image_size = int(image_size)
        self.seed = int(seed)
        self.device = resolve_device(device)
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.checkpoint_every = int(checkpoint_every)
        self.size_ = working_size(self.config, self.image_size)
        self.unet_ = self._unet().to(self.device)

    @property
    def family(self) -> str:
        return self.config.family

    @classmethod
    def from_settings(
        cls, family: str, settings: Mapping[str, Any], **options: Any
    ) -> ImageDiffusion:
        """``settings``: the fields of :class:`ImageDiffusionConfig` but ``family``."""
        return cls(ImageDiffusionConfig(family=family, **settings), **options)

    def _settings(self) -> dict[str, Any]:
        """What the model is made of: saved in ``config.json`` and fingerprinted in checkpoints."""
        return {
            "config": asdict(self.config),
            "num_classes": self.num_classes,
            "channels": self.channels,
            "image_size": self.image_size,
            "seed": self.seed,
        }

    # -- model -------------------------------------------------------------------------------
    def _unet(self) -> diffusers.UNet2DModel:
        return build_unet(
            self.config, size=self.size_, channels=self.channels, num_classes=self.num_classes
        )

    @property
    def _cuda(self) -> bool:
        return self.device.type == "cuda"

    def _autocast(self, training: bool = False):
        enabled = self.config.mixed_precision and native_bf16(self.device)
        enabled = enabled and (self._cuda or not training)
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=enabled)

    @property
    def _channels_last(self) -> bool:
        return self._cuda and self.config.channels_last

    def _edm(self) -> diffusers.EDMEulerScheduler:
        import diffusers  # imported when needed: it takes seconds

        return diffusers.EDMEulerScheduler(sigma_data=self.config.sigma_data)

    # -- training ----------------------------------------------------------------------------
    def _to_tensor(self, images: np.ndarray) -> torch.Tensor:
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != self.channels:
            raise DataError(
                f"images must be uint8 (n, h, w, {self.channels}), got "
                f"{images.dtype} {images.shape}"
            )
        x = to_working(to_tensor(images), self.size_)
        return x.contiguous(memory_format=torch.channels_last) if self._channels_last else x

    def _loss(self, x0, labels, generator) -> torch.Tensor:
        noise = torch.randn(x0.shape, generator=generator, device=self.device)
        if self.config.family == "ddpm":
            levels = self.config.num_train_timesteps
            t = torch.randint(0, levels, (len(x0),), generator=generator, device=self.device)
            noisy = self.scheduler_.add_noise(x0, noise, t)
            with self._autocast(training=True):
                predicted = self.unet_(noisy, t, class_labels=labels).sample
            if self.config.prediction_type == "v_prediction":
                target = self.scheduler_.get_velocity(x0, noise, t)
            else:
                target = noise
            return torch.mean((predicted.float() - target) ** 2)
        edm, sigma_data = self._edm(), self.config.sigma_data
        log_sigma = torch.randn((len(x0), 1, 1, 1), generator=generator, device=self.device)
        sigma = torch.exp(log_sigma * 1.2 - 1.2)  # EDM's P_mean -1.2, P_std 1.2
        noisy = x0 + sigma * noise
        with self._autocast(training=True):
            output = self.unet_(
                edm.precondition_inputs(noisy, sigma),
                edm.precondition_noise(sigma).flatten(),
                class_labels=labels,
            ).sample
        denoised = edm.precondition_outputs(noisy, output.float(), sigma)
        weight = (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2
        return torch.mean(weight * (denoised - x0) ** 2)

    def fit(self, images: np.ndarray, labels: np.ndarray) -> ImageDiffusion:
        """Train on uint8 ``images`` ``(n, size, size, channels)`` with integer ``labels``
        ``(n,)`` for ``config.steps`` steps. With ``checkpoint_dir`` set, saves a checkpoint
        every ``checkpoint_every`` steps and resumes from one of the same data and settings."""
        import diffusers  # imported when needed: it takes seconds

        labels = np.asarray(labels, dtype=np.int64)
        if len(labels) != len(images) or labels.min() < 0 or labels.max() >= self.num_classes:
            raise DataError(f"labels must be {len(images)} integers in 0..{self.num_classes - 1}")
        c = self.config
        torch.manual_seed(self.seed)
        self.unet_ = self._unet().to(self.device)
        if self._channels_last:
            self.unet_ = self.unet_.to(memory_format=torch.channels_last)
        self.ema_ = copy.deepcopy(self.unet_).eval().requires_grad_(False)
        self.scheduler_ = diffusers.DDPMScheduler(
            num_train_timesteps=c.num_train_timesteps,
            beta_schedule=c.beta_schedule,
            prediction_type=c.prediction_type,
        )
        x_all = self._to_tensor(images).to(self.device)
        y_all = torch.as_tensor(labels, device=self.device)
        optimizer = torch.optim.Adam(self.unet_.parameters(), lr=c.learning_rate)
        schedule = learning_rate_schedule(optimizer, c.lr_schedule, c.lr_warmup_steps, c.steps)
        generator = torch.Generator(device=self.device).manual_seed(self.seed)
        ema = ExponentialMovingAverage(self.ema_.parameters(), c.ema_decay)
        checkpoint = TrainingCheckpoint(
            self.checkpoint_dir,
            self.checkpoint_every,
            settings=self._settings(),
            data=(images, labels),
            device=self.device,
        )
        parts = {"unet": self.unet_, "ema": ema, "optimizer": optimizer, "schedule": schedule}
        step = checkpoint.resume(parts, generator)
        self.unet_.train()
        start = time.perf_counter()
        while step < c.steps:
            rows = torch.randint(
                0, len(x_all), (c.batch_size,), generator=generator, device=self.device
            )
            y = y_all[rows].clone()
            drop = torch.rand(len(y), generator=generator, device=self.device) < c.cond_drop_prob
            y[drop] = self.num_classes
            loss = self._loss(x_all[rows], y, generator)
            if not torch.isfinite(loss):
                raise TrainingError(f"image diffusion loss is not finite at step {step + 1}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            ema.update(self.unet_.parameters(), step)
            step += 1
            if step % 100 == 0 or step == c.steps:
                rate = c.batch_size * step / max(time.perf_counter() - start, 1e-9)
                log.info("step %d/%d: loss %.4f (%.1f images/s)", step, c.steps, loss.item(), rate)
            if checkpoint.due(step, c.steps):
                checkpoint.save(step, parts, generator)
        self.unet_.eval()
        return self

    # -- sampling ----------------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self,
        n: int,
        labels: np.ndarray | None = None,
        *,
        sampler: str | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        batch_size: int = 500,
        seed: int = 0,
        unconditional: bool = False,
    ) -> np.ndarray:
        """``n`` uint8 images ``(n, size, size, channels)`` of the given classes (uniform over
        classes by default). The default sampler is the family's first, with as many steps as
        training (``ddpm``) or 50. ``unconditional``: draw from the model's null class (which
        classifier-free training fits to the whole training distribution), without guidance;
        ``labels`` must then be None."""
        model = getattr(self, "ema_", self.unet_).eval()
        sampler = sampler or SAMPLERS[self.config.family][0]
        scale = self.config.guidance_scale if guidance_scale is None else guidance_scale
        generator = torch.Generator(device=self.device).manual_seed(int(seed))
        if unconditional:
            if labels is not None:
                raise DataError("unconditional sampling takes no labels")
            labels = np.full(n, self.num_classes, dtype=np.int64)
        elif labels is None:
            labels = (
                torch.randint(0, self.num_classes, (n,), generator=generator, device=self.device)
                .cpu()
                .numpy()
            )
        labels = np.asarray(labels, dtype=np.int64)
        if len(labels) != n:
            raise DataError(f"{n} samples need {n} labels, got {len(labels)}")
        steps = num_inference_steps or (
            self.config.num_train_timesteps if sampler == "ddpm" else 50
        )
        out = []
        for begin in range(0, n, batch_size):
            y = torch.as_tensor(labels[begin : begin + batch_size], device=self.device)
            out.append(self._sample_batch(model, y, sampler, steps, scale, generator))
        return np.concatenate(out)

    def _sample_batch(self, model, y, sampler, steps, scale, generator) -> np.ndarray:
        scheduler = make_scheduler(self.config, sampler)
        scheduler.set_timesteps(steps, device=self.device)
        shape = (len(y), self.channels, self.size_, self.size_)
        x = torch.randn(shape, generator=generator, device=self.device)
        x = x * scheduler.init_noise_sigma
        null = torch.full_like(y, self.num_classes)
        guide = bool((y != null).any())  # all-null labels: the unconditional model, unguided
        for t in scheduler.timesteps:
            model_input = scheduler.scale_model_input(x, t)
            if guide:
                model_input, labels = torch.cat([model_input, model_input]), torch.cat([y, null])
            else:
                labels = null
            with self._autocast():
                output = model(
                    model_input,
                    t.expand(len(model_input)) if t.ndim == 0 else t,
                    class_labels=labels,
                ).sample.float()
            if guide:
                conditional, unconditional = output.chunk(2)
                output = unconditional + scale * (conditional - unconditional)
            x = scheduler.step(output, t, x, generator=generator).prev_sample
        x = to_output(x.float(), self.image_size)
        images = x.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
        return images.permute(0, 2, 3, 1).cpu().numpy()

    # -- persistence -------------------------------------------------------------------------
    def save(self, folder: str | os.PathLike) -> None:
        """``unet/`` (diffusers ``save_pretrained``, safetensors; the EMA weights) and
        ``config.json``."""
        folder = self._folder(folder, "unet_")
        with atomic_folder(folder / "unet") as unet:
            getattr(self, "ema_", self.unet_).save_pretrained(unet, safe_serialization=True)
        self._write_config(folder, self._settings())

    @classmethod
    def load(cls, folder: str | os.PathLike, device: str = "auto") -> ImageDiffusion:
        """A model saved by :meth:`save` (its EMA weights), on ``device``."""
        folder, device = Path(folder), resolve_device(device)  # a bad device is the caller's
        with cls._described(folder) as description:
            model = cls(
                ImageDiffusionConfig(**description["config"]),
                num_classes=description["num_classes"],
                channels=description["channels"],
                image_size=description["image_size"],
                seed=description["seed"],
                device="cpu",  # the UNet built here is replaced by the saved one
            )
        model.device = device
        model.unet_ = load_unet(folder / "unet").to(device).eval()
        return model
