"""The samplers of the image diffusion families: which diffusers scheduler draws a model's
samples with each."""

from __future__ import annotations

from typing import Any

from diffshare.errors import ConfigError

#: The samplers of each diffusion family, its default first.
SAMPLERS = {"ddpm": ("ddpm", "ddim", "dpmsolver++"), "edm": ("euler", "dpmsolver++")}


def make_scheduler(config: Any, sampler: str) -> Any:
    """The diffusers scheduler that samples a model of ``config`` (an
    :class:`~diffshare.generators.image_diffusion.ImageDiffusionConfig`: its ``family``,
    ``sigma_data``, ``num_train_timesteps``, ``beta_schedule``, ``prediction_type``) with
    ``sampler``; a
    :class:`ConfigError` naming both when the sampler does not fit the family."""
    import diffusers  # imported when needed: it takes seconds

    if sampler not in SAMPLERS[config.family]:
        raise ConfigError(
            f"sampler {sampler!r} does not fit family {config.family!r}; "
            f"choose one of {list(SAMPLERS[config.family])}"
        )
    if config.family == "edm":
        if sampler == "euler":
            return diffusers.EDMEulerScheduler(sigma_data=config.sigma_data)
        return diffusers.EDMDPMSolverMultistepScheduler(sigma_data=config.sigma_data)
    schedule = {
        "num_train_timesteps": config.num_train_timesteps,
        "beta_schedule": config.beta_schedule,
        "prediction_type": config.prediction_type,
    }
    if sampler == "ddpm":
        return diffusers.DDPMScheduler(**schedule)
    if sampler == "ddim":
        return diffusers.DDIMScheduler(**schedule)
    return diffusers.DPMSolverMultistepScheduler(algorithm_type="dpmsolver++", **schedule)
