"""What every family's training loop shares: the device, one EMA of the weights, and one
checkpoint that lets a killed run resume exactly, but only with the same data and settings.

:func:`resolve_device` lives in :mod:`diffshare.tensors` (the receivers use it too) and is
re-exported here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from diffshare.errors import ConfigError, DiffshareError
from diffshare.storage import atomic_path
from diffshare.tensors import resolve_device

__all__ = [
    "CHECKPOINT_FILE",
    "LR_SCHEDULES",
    "ExponentialMovingAverage",
    "TrainingCheckpoint",
    "TrainingError",
    "learning_rate_schedule",
    "remove_checkpoint",
    "resolve_device",
]

log = logging.getLogger(__name__)

CHECKPOINT_FILE = "checkpoint.pt"
#: Keys of a checkpoint that are not parts of the model.
_RESERVED = ("step", "fingerprint", "settings", "data", "rng", "torch_rng", "cuda_rng")


class TrainingError(DiffshareError):
    """Training diverged (non-finite loss)."""


class Stateful(Protocol):
    """What a checkpoint saves: a model, an optimizer, an EMA."""

    def state_dict(self) -> Mapping[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> Any: ...


class ExponentialMovingAverage:
    """An exponential moving average of a model's weights, as diffusers' ``EMAModel``: after
    update ``step`` (0-based), ``averaged <- d * averaged + (1 - d) * weights``.

    ``averaged`` are the tensors that hold the average, updated in place: a copy of the
    weights, or the parameters of a copy of the model. ``d`` is
    ``min(decay, (1 + step) / (10 + step))`` (diffusers' default), so early averages forget the
    random initialisation: at decay 0.9999 a plain average would still hold 82% of it after
    2,000 steps.
    """

    def __init__(self, averaged: Iterable[torch.Tensor], decay: float):
        self.averaged = list(averaged)
        self.decay = decay

    def decay_at(self, step: int) -> float:
        """The decay of update ``step`` (0-based)."""
        return min(self.decay, (1.0 + step) / (10.0 + step))

    @torch.no_grad()
    def update(self, weights: Iterable[torch.Tensor], step: int) -> None:
        """Move the average towards ``weights`` (in the order of ``averaged``)."""
        torch._foreach_lerp_(self.averaged, list(weights), 1.0 - self.decay_at(step))

    @torch.no_grad()
    def copy_to(self, weights: Iterable[torch.Tensor]) -> None:
        """Overwrite ``weights`` with the average."""
        for weight, average in zip(weights, self.averaged, strict=True):
            weight.copy_(average)

    def state_dict(self) -> dict[str, list[torch.Tensor]]:
        """The average, for a checkpoint."""
        return {"averaged": self.averaged}

    @torch.no_grad()
    def load_state_dict(self, state: Mapping[str, Sequence[torch.Tensor]]) -> None:
        """Restore the average from :meth:`state_dict`."""
        for average, saved in zip(self.averaged, state["averaged"], strict=True):
            average.copy_(saved)


#: Learning-rate schedules by our name: diffusers' schedule (each after a linear warm-up).
LR_SCHEDULES = {"constant": "constant_with_warmup", "cosine": "cosine"}


def learning_rate_schedule(
    optimizer: torch.optim.Optimizer, name: str, warmup_steps: int, steps: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """diffusers' schedule of :data:`LR_SCHEDULES` ``name`` for a run of ``steps`` steps: the
    learning rate rises linearly from 0 over ``warmup_steps``, then stays (``constant``) or
    falls along a half cosine to 0 at ``steps`` (``cosine``). Step it after each optimizer
    step; its state belongs in the run's checkpoint."""
    from diffusers.optimization import get_scheduler  # imported when needed: it takes seconds

    if name not in LR_SCHEDULES:
        raise ConfigError(f"lr_schedule must be one of {list(LR_SCHEDULES)}, got {name!r}")
    return get_scheduler(
        LR_SCHEDULES[name],
        optimizer,
        num_warmup_steps=warmup_steps,
        num_training_steps=steps,
    )


def _data_digest(data: Sequence[np.ndarray | torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for array in data:
        if isinstance(array, torch.Tensor):
            array = array.detach().cpu().numpy()
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _flatten(settings: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


class TrainingCheckpoint:
    """A training run's ``checkpoint.pt`` in ``folder`` (none when ``folder`` is None), saved
    every ``every`` steps: the step, the state of the run's parts (models, optimizers, EMA:
    anything with ``state_dict``), its random states, and a fingerprint of the training
    ``data`` (arrays) and ``settings`` (JSON-able, the seed included).

    A checkpoint whose fingerprint differs, because the data or a setting was edited after the
    run was killed, is discarded with a warning naming what differs, and training starts
    afresh: it is never resumed.
    """

    def __init__(
        self,
        folder: str | os.PathLike | None,
        every: int,
        *,
        settings: Mapping[str, Any],
        data: Sequence[np.ndarray | torch.Tensor],
        device: str | torch.device,
    ):
        if int(every) < 1:
            raise ConfigError(f"checkpoint_every must be at least 1, got {every}")
        self.path = Path(folder) / CHECKPOINT_FILE if folder else None
        self.every = int(every)
        self.device = resolve_device(device)
        self.settings = json.dumps(settings, sort_keys=True)
        self.data = _data_digest(data)
        self.fingerprint = hashlib.sha256(f"{self.settings}\n{self.data}".encode()).hexdigest()

    def due(self, step: int, steps: int) -> bool:
        """Whether to save after ``step`` of ``steps`` steps (never after the last)."""
        return self.path is not None and step % self.every == 0 and step < steps

    def save(self, step: int, parts: Mapping[str, Stateful], generator: torch.Generator) -> None:
        """Write the run's state after ``step`` steps; ``generator`` draws its batches."""
        clash = sorted(set(parts) & set(_RESERVED))
        if clash:
            raise ValueError(f"checkpoint part names {clash} are reserved")
        state: dict[str, Any] = {name: part.state_dict() for name, part in parts.items()}
        state.update(
            step=step,
            fingerprint=self.fingerprint,
            settings=self.settings,
            data=self.data,
            rng=generator.get_state(),
            torch_rng=torch.get_rng_state(),  # dropout and the like draw from the global one
        )
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        with atomic_path(self.path) as tmp:
            torch.save(state, tmp)
        log.info("checkpoint at step %d: %s", step, self.path)

    def resume(self, parts: Mapping[str, Stateful], generator: torch.Generator) -> int:
        """Restore ``parts`` and the random states from a checkpoint of the same data and
        settings and return its step; 0 (train from the start) when there is none."""
        if self.path is None or not self.path.is_file():
            return 0
        state = torch.load(self.path, map_location="cpu", weights_only=True)
        if state.get("fingerprint") != self.fingerprint:
            log.warning(
                "ignoring checkpoint %s: it was made with %s; discarding it and training afresh",
                self.path,
                self._difference(state),
            )
            self.path.unlink()
            return 0
        for name, part in parts.items():
            part.load_state_dict(state[name])
        generator.set_state(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        if self.device.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        log.info("resumed from checkpoint %s at step %d", self.path, state["step"])
        return int(state["step"])

    def _difference(self, state: Mapping[str, Any]) -> str:
        """What differs between the checkpoint ``state`` and this run, in words."""
        if "settings" not in state:
            return "other data or settings (an older checkpoint that does not record them)"
        reasons = []
        before, now = _flatten(json.loads(state["settings"])), _flatten(json.loads(self.settings))
        changed = [
            f"{key} {before.get(key)!r} -> {now.get(key)!r}"
            for key in sorted(before.keys() | now.keys())
            if before.get(key) != now.get(key)
        ]
        if changed:
            reasons.append("other settings (" + ", ".join(changed) + ")")
        if state.get("data") != self.data:
            reasons.append("other training data")
        return " and ".join(reasons)


def remove_checkpoint(folder: str | os.PathLike | None) -> None:
    """Delete the checkpoint in ``folder`` (and temporaries a killed write left), then the
    folder itself if that leaves it empty."""
    if folder is None:
        return
    folder = Path(folder)
    for path in [folder / CHECKPOINT_FILE, *folder.glob(f".{CHECKPOINT_FILE}.*.tmp")]:
        path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        folder.rmdir()
