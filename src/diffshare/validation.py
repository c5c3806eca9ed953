"""Checks on a whole configuration that a JSON schema cannot express (cross-references).

The workflow validates the config against ``workflow/schemas/config.schema.yaml`` first, then calls
:func:`check_config`; both run when the workflow loads, before any job starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from diffshare.config import dataset_config, dataset_kind, image_dataset_config
from diffshare.data.tabular import DatasetSpec
from diffshare.errors import ConfigError


def check_config(config: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` naming the first key whose value refers to nothing valid."""
    for name, entry in (config.get("datasets") or {}).items():
        DatasetSpec.from_config(name, entry)  # structure only; files are read by `prepare`
    both = sorted(set(config.get("datasets") or {}) & set(config.get("image_datasets") or {}))
    if both:
        raise ConfigError(
            f"dataset names {both} are in both 'datasets' and 'image_datasets'; rename one"
        )
    run = config.get("run") or {}
    for index, name in enumerate(run.get("datasets") or []):
        try:
            dataset_kind(config, name)
        except ConfigError as error:
            raise ConfigError(f"config key 'run.datasets[{index}]': {error}") from None
    check_pia(config)
    check_image(config)


def check_pia(config: Mapping[str, Any]) -> None:
    """The ``pia`` section against the catalogue: every property names a categorical column
    or the label of its dataset, and a hidden property leaves the ``column`` attack out."""
    pia = config.get("pia") or {}
    hide = bool(pia.get("hide_property", False))
    if hide and "column" in (pia.get("attacks") or []):
        raise ConfigError(
            "config key 'pia.attacks' lists 'column', but pia.hide_property is true: the samples "
            "then carry no property column; remove 'column' or set hide_property to false"
        )
    images = config.get("image_datasets") or {}
    for name, entry in (pia.get("properties") or {}).items():
        where = f"config key 'pia.properties.{name}'"
        if name in images:
            raise ConfigError(
                f"{where}: {name!r} is an image dataset, whose property is now set under "
                f"image.pia.properties.{name} (image runs read only the `image` section); "
                "move it there"
            )
        try:
            spec = DatasetSpec.from_config(name, dataset_config(config, name))
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None
        try:
            spec.schema.check_property(str(entry["column"]), str(entry["value"]), hide=hide)
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None
    image_pia = (config.get("image") or {}).get("pia") or {}
    for name, entry in (image_pia.get("properties") or {}).items():
        where = f"config key 'image.pia.properties.{name}'"
        if name not in images:
            # The shipped defaults name celeba and afad, which a catalogue may leave out.
            if name in (config.get("datasets") or {}):
                raise ConfigError(
                    f"{where}: {name!r} is a tabular dataset; set its property under "
                    f"pia.properties.{name}"
                )
            continue
        check_image_property(config, name, entry, where)


def check_image_property(
    config: Mapping[str, Any], name: str, entry: Mapping[str, Any], where: str
) -> None:
    """An image property must name an attribute the dataset's source provides (CelebA's
    attributes are known only once its files are read)."""
    from diffshare.data.image_catalogue import SOURCE_ATTRIBUTES

    source = image_dataset_config(config, name).get("source")
    attributes = SOURCE_ATTRIBUTES.get(source)
    if attributes is not None and str(entry["column"]) not in attributes:
        raise ConfigError(
            f"{where}: {source} images have no attribute {entry['column']!r} "
            f"(they have {list(attributes)})"
        )


def check_image(config: Mapping[str, Any]) -> None:
    """The ``image`` section: samplers fit their family; zero_shot and the CLIP discriminator
    have CLIP weights."""
    from diffshare.generators.schedulers import SAMPLERS

    image = config.get("image") or {}
    for family, setting in (image.get("samplers") or {}).items():
        if setting.get("name") not in SAMPLERS[family]:
            raise ConfigError(
                f"config key 'image.samplers.{family}.name': {setting.get('name')!r} does not "
                f"sample the {family} family; choose one of {list(SAMPLERS[family])}"
            )
    pia = image.get("pia") or {}
    clip = (image.get("features") or {}).get("clip")
    if "zero_shot" in (pia.get("attacks") or []) and not clip:
        raise ConfigError(
            "config key 'image.pia.attacks' lists 'zero_shot', which needs CLIP weights: set "
            "image.features.clip to a local CLIP checkpoint folder, or remove 'zero_shot'"
        )
    if (pia.get("discriminator") or {}).get("classifier") == "clip_logreg" and not clip:
        raise ConfigError(
            "config key 'image.pia.discriminator.classifier' is 'clip_logreg', which needs CLIP "
            "weights: set image.features.clip, or choose 'cnn' or 'auto'"
        )
