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
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from diffshare.errors import ConfigError, DataError
from diffshare.generators.formats import (
    CTGAN_FORMAT,
    IMAGE_DIFFUSION_FORMAT,
    PLUGIN_FORMAT,
    RETIRED_FORMATS,
    SNGAN_FORMAT,
    TABULAR_DIFFUSION_FORMAT,
)
from diffshare.generators.plugins import ENTRY_POINT_GROUP, check_plugin, import_object

if TYPE_CHECKING:
    from diffshare.generators.base import BaseGenerator


@dataclass(frozen=True)
class Family:
    """A generator family: the ``format`` its saved ``config.json`` names, the class (by
    module and name, imported when needed: diffusers and ctgan take seconds) that reads it,
    and, for a format shared by several families, where a ``config.json`` written before
    folders recorded their ``family`` names it (``legacy_key``, a path of keys).

    ``diffusion``: whether the claims count it as a diffusion model; ``persistence``: ``safe``
    (saved and sampled by later jobs) or ``sample_only`` (trained and sampled in one job, never
    saved); ``plugin``: its class follows the plugin interface
    (:mod:`diffshare.generators.plugins`); ``source``: where it was registered; ``extra``: the
    optional dependencies (``pip install 'diffshare[<extra>]'``) its class imports."""

    name: str
    modality: str  # "table" or "image"
    format: str
    module: str
    class_name: str
    legacy_key: tuple[str, ...] = ()
    diffusion: bool = False
    persistence: str = "safe"
    plugin: bool = False
    source: str = "built-in"
    extra: str | None = None

    @property
    def spec(self) -> str:
        """``module:Class``."""
        return f"{self.module}:{self.class_name}"

    def load_class(self) -> type:
        """The class that makes, fits and loads this family's models; :class:`ConfigError`
        naming the family and the package to install when an optional dependency is missing."""
        try:
            module = importlib.import_module(self.module)
        except ImportError as error:
            hint = f": pip install 'diffshare[{self.extra}]'" if self.extra else ""
            raise ConfigError(
                f"generator family {self.name!r} ({self.source}) cannot be imported: {error}{hint}"
            ) from error
        return getattr(module, self.class_name)

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
#: The built-in families. ``gaussian_copula`` is SDV's, an optional extra written as a plugin.
FAMILIES: dict[str, Family] = {
    entry.name: entry
    for entry in (
        Family(
            "tabddpm",
            "table",
            TABULAR_DIFFUSION_FORMAT,
            "diffshare.generators.tabddpm",
            "TabularDiffusion",
            diffusion=True,
        ),
        *(
            Family(name, "table", CTGAN_FORMAT, _CTGAN, "CtganGenerator", ("kind",))
            for name in ("ctgan", "tvae")
        ),
        Family(
            "gaussian_copula",
            "table",
            PLUGIN_FORMAT,
            "diffshare.generators.sdv",
            "GaussianCopula",
            persistence="sample_only",
            plugin=True,
            extra="sdv",
        ),
        *(
            Family(
                name,
                "image",
                IMAGE_DIFFUSION_FORMAT,
                _IMAGE_DIFFUSION,
                "ImageDiffusion",
                ("config", "family"),
                diffusion=True,
            )
            for name in ("ddpm", "edm")
        ),
        Family("sngan", "image", SNGAN_FORMAT, "diffshare.generators.sngan", "Sngan"),
    )
}
TABLE_GENERATORS = tuple(name for name, f in FAMILIES.items() if f.modality == "table")
IMAGE_GENERATORS = tuple(name for name, f in FAMILIES.items() if f.modality == "image")
#: A family's name is a path segment of the workflow.
FAMILY_NAME = r"[A-Za-z][A-Za-z0-9_]*"


def _entry_points() -> list[tuple[str, str, str]]:
    """(name, ``module:Class``, where) of every installed ``diffshare.generators`` entry point."""
    from importlib.metadata import entry_points

    return [
        (ep.name, ep.value, f"entry point {ep.name!r} (group {ENTRY_POINT_GROUP!r})")
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
    ]


def registered_families(plugins: Mapping[str, str] | None = None) -> dict[str, Family]:
    """Every family by name: the built-in ones, those of installed entry points (group
    ``diffshare.generators``) and those of ``plugins`` (the config key ``generator.plugins``:
    name -> ``module:Class``). Each plugin is imported and checked
    (:func:`~diffshare.generators.plugins.check_plugin`); :class:`ConfigError` names the entry
    point or config key of one that fails, or that takes a name already registered."""
    families = dict(FAMILIES)
    configured = [
        (name, spec, f"config key 'generator.plugins.{name}'")
        for name, spec in (plugins or {}).items()
    ]
    for name, spec, where in [*_entry_points(), *configured]:
        if not re.fullmatch(FAMILY_NAME, name):
            raise ConfigError(
                f"{where}: family name {name!r} must be letters, digits and underscores, "
                "starting with a letter (it is a path segment)"
            )
        if name in families:
            taken = families[name]
            if taken.plugin and taken.spec == spec and taken.source != "built-in":
                continue  # the same class registered both ways
            raise ConfigError(f"{where}: family name {name!r} is taken ({taken.source})")
        cls = import_object(spec, where)
        declared = check_plugin(cls, where)
        module, _, class_name = spec.partition(":")
        families[name] = Family(
            name,
            declared["modality"],
            PLUGIN_FORMAT,
            module,
            class_name,
            diffusion=declared["diffusion"],
            persistence=declared["persistence"],
            plugin=True,
            source=where,
        )
    return families


def generator_family(name: str, plugins: Mapping[str, str] | None = None) -> Family:
    """The registered family ``name`` (:func:`registered_families`); :class:`ConfigError`
    naming it and the choices."""
    if name in FAMILIES:
        return FAMILIES[name]
    families = registered_families(plugins)
    if name not in families:
        raise ConfigError(f"unknown generator family {name!r}; choose one of {list(families)}")
    return families[name]


def make_generator(
    name: str,
    settings: Mapping[str, Any],
    *,
    seed: int,
    device: str = "auto",
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int = 500,
    plugins: Mapping[str, str] | None = None,
    **shape: Any,
) -> BaseGenerator:
    """An unfitted generator of family ``name`` built from its config section ``settings``
    (``tabddpm``: :class:`~.tabddpm.TabularDiffusionConfig` fields; ``ctgan``/``tvae``: the
    ``ctgan`` constructor's; ``ddpm``/``edm``: :class:`~.image_diffusion.ImageDiffusionConfig`
    fields but ``family``; ``sngan``: :class:`~.sngan.Sngan`'s). ``shape``: what an image
    diffusion model must know before it sees data (``num_classes``, ``channels``,
    ``image_size``). Fit it with ``fit(table, schema)`` (tables) or ``fit(images, labels)``
    (images; the GAN ignores the labels). A plugin family (``plugins``: the config's
    ``generator.plugins``) takes ``generator.plugin_settings.<name>`` as keyword arguments."""
    family = generator_family(name, plugins)
    options = dict(
        seed=seed,
        device=device,
        checkpoint_dir=checkpoint_dir,
        checkpoint_every=checkpoint_every,
        **shape,
    )
    if family.plugin:
        from diffshare.generators.plugin_generator import PluginGenerator

        return PluginGenerator.from_settings(
            name, settings, plugin=family.load_class(), spec=family.spec, **options
        )
    return family.load_class().from_settings(name, settings, **options)


def load_generator(
    folder: str | os.PathLike,
    name: str,
    *,
    device: str = "auto",
    plugins: Mapping[str, str] | None = None,
) -> BaseGenerator:
    """The model saved in ``folder``, read as family ``name``, the family the caller expects
    (for example the ``{generator}`` of the folder's path), on ``device``.

    Raises :class:`DataError` naming the folder, the expected and the found format (or family)
    when ``config.json`` is missing or describes another format or family, before any loader
    reads the folder's other files, and for a sample-only family, which is never saved.
    """
    expected = generator_family(name, plugins)
    if expected.persistence == "sample_only":
        raise DataError(
            f"family {name!r} is sample-only: its models are never saved (its library saves by "
            f"pickling), so {folder} cannot hold one; its samples come from the job that trains it"
        )
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
    if expected.plugin:
        from diffshare.generators.plugin_generator import PluginGenerator

        return PluginGenerator.load(
            folder, device, family=name, plugin=expected.load_class(), spec=expected.spec
        )
    return expected.load_class().load(folder, device=device)
