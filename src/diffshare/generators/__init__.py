"""The shared-model families by name: making one to train, and loading a saved one.

Tables: ``tabddpm``, our diffusion model (:mod:`.tabddpm`), and the non-diffusion baselines
``ctgan`` and ``tvae`` (:mod:`.ctgan`). Images: the diffusion families ``ddpm`` and ``edm``
(:mod:`.image_diffusion`) and the GAN baseline ``sngan`` (:mod:`.sngan`). Every one follows
:class:`~diffshare.generators.base.BaseGenerator`; the families with a training loop share
:mod:`.training` (device, EMA, checkpoints).

A saved model is a folder whose ``config.json`` names its ``format`` and ``family``.
:func:`load_generator` reads a folder only as the family its caller expects, so a folder that
claims another format never reaches that format's loader.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from diffshare.errors import ConfigError, DataError
from diffshare.generators.formats import (
    CTGAN_FORMAT,
    IMAGE_DIFFUSION_FORMAT,
    RETIRED_FORMATS,
    SNGAN_FORMAT,
    TABULAR_DIFFUSION_FORMAT,
)

if TYPE_CHECKING:
    from diffshare.generators.base import BaseGenerator


@dataclass(frozen=True)
class Family:
    """A generator family: the ``format`` its saved ``config.json`` names, the class (by
    module and name, imported when needed: diffusers and ctgan take seconds) that reads it,
    and, for a format shared by several families, where a ``config.json`` written before
    folders recorded their ``family`` names it (``legacy_key``, a path of keys)."""

    name: str
    modality: str  # "table" or "image"
    format: str
    module: str
    class_name: str
    legacy_key: tuple[str, ...] = ()

    def load_class(self) -> type[BaseGenerator]:
        """The class that makes, fits and loads this family's models."""
        return getattr(importlib.import_module(self.module), self.class_name)

    def saved_family(self, description: Mapping[str, Any]) -> Any:
        """The family a ``config.json`` of this family's format names."""
        if "family" in description:
            return description["family"]
        value: Any = description
        for key in self.legacy_key:
            value = value.get(key) if isinstance(value, Mapping) else None
        return value if self.legacy_key else self.name


_CTGAN = "diffshare.generators.ctgan"
_IMAGE_DIFFUSION = "diffshare.generators.image_diffusion"
FAMILIES: dict[str, Family] = {
    entry.name: entry
    for entry in (
        Family(
            "tabddpm",
            "table",
            TABULAR_DIFFUSION_FORMAT,
            "diffshare.generators.tabddpm",
            "TabularDiffusion",
        ),
        *(
            Family(name, "table", CTGAN_FORMAT, _CTGAN, "CtganGenerator", ("kind",))
            for name in ("ctgan", "tvae")
        ),
        *(
            Family(
                name,
                "image",
                IMAGE_DIFFUSION_FORMAT,
                _IMAGE_DIFFUSION,
                "ImageDiffusion",
                ("config", "family"),
            )
            for name in ("ddpm", "edm")
        ),
        Family("sngan", "image", SNGAN_FORMAT, "diffshare.generators.sngan", "Sngan"),
    )
}
TABLE_GENERATORS = tuple(name for name, f in FAMILIES.items() if f.modality == "table")
IMAGE_GENERATORS = tuple(name for name, f in FAMILIES.items() if f.modality == "image")


def generator_family(name: str) -> Family:
    """The registered family ``name``; :class:`ConfigError` naming it and the choices."""
    if name not in FAMILIES:
        raise ConfigError(f"unknown generator family {name!r}; choose one of {list(FAMILIES)}")
    return FAMILIES[name]


def make_generator(
    name: str,
    settings: Mapping[str, Any],
    *,
    seed: int,
    device: str = "auto",
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int = 500,
    **shape: Any,
) -> BaseGenerator:
    """An unfitted generator of family ``name`` built from its config section ``settings``
    (``tabddpm``: :class:`~.tabddpm.TabularDiffusionConfig` fields; ``ctgan``/``tvae``: the
    ``ctgan`` constructor's; ``ddpm``/``edm``: :class:`~.image_diffusion.ImageDiffusionConfig`
    fields but ``family``; ``sngan``: :class:`~.sngan.Sngan`'s). ``shape``: what an image
    diffusion model must know before it sees data (``num_classes``, ``channels``,
    ``image_size``). Fit it with ``fit(table, schema)`` (tables) or ``fit(images, labels)``
    (images; the GAN ignores the labels)."""
    return (
        generator_family(name)
        .load_class()
        .from_settings(
            name,
            settings,
            seed=seed,
            device=device,
            checkpoint_dir=checkpoint_dir,
            checkpoint_every=checkpoint_every,
            **shape,
        )
    )


def load_generator(folder: str | os.PathLike, name: str, *, device: str = "auto") -> BaseGenerator:
    """The model saved in ``folder``, read as family ``name``, the family the caller expects
    (for example the ``{generator}`` of the folder's path), on ``device``.

    Raises :class:`DataError` naming the folder, the expected and the found format (or family)
    when ``config.json`` is missing or describes another format or family, before any loader
    reads the folder's other files.
    """
    expected = generator_family(name)
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise DataError(f"saved model {folder} lacks config.json")
    try:
        description = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise DataError(f"{path} is not valid JSON: {error}") from error
    found = description.get("format") if isinstance(description, dict) else None
    if isinstance(found, str) and RETIRED_FORMATS.get(found) == expected.format:
        raise DataError(
            f"saved model {folder} is a {name} model in the retired format {found!r}, which "
            f"is never loaded (it was a pickle): retrain it to get format {expected.format!r}"
        )
    if found != expected.format:
        raise DataError(
            f"saved model {folder} should be a {name} model (format {expected.format!r}), "
            f"but its config.json names format {found!r}"
        )
    saved = expected.saved_family(description)
    if saved != name:
        raise DataError(
            f"saved model {folder} should be a {name} model (format {expected.format!r}), "
            f"but its config.json names family {saved!r}"
        )
    return expected.load_class().load(folder, device=device)
