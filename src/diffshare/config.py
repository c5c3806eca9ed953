"""Checks on a whole configuration that a JSON schema cannot express (cross-references).

The workflow validates the config against ``workflow/schemas/config.schema.yaml`` first, then calls
:func:`check_config`; both run when the workflow loads, before any job starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from diffshare.attacks.pia.property import Property
from diffshare.data.tabular import DatasetSpec
from diffshare.errors import ConfigError


def canonical(value: Any) -> Any:
    """``value`` with every mapping's keys sorted, recursively.

    Snakemake reruns a job when the text of its params changes; sorting keys keeps a reordered
    but equal config from rerunning anything.
    """
    if isinstance(value, Mapping):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list | tuple):
        return [canonical(item) for item in value]
    return value


def dataset_config(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The catalogue entry ``datasets.<name>``; :class:`ConfigError` naming it if there is none."""
    catalogue = config.get("datasets") or {}
    if name not in catalogue:
        images = config.get("image_datasets") or {}
        hint = f"; {name!r} is an image dataset" if name in images else ""
        raise ConfigError(
            f"unknown dataset {name!r}: config key 'datasets' has no entry {name!r} "
            f"(known: {', '.join(sorted(catalogue))}){hint}"
        )
    return dict(catalogue[name])


def image_dataset_config(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The entry ``image_datasets.<name>``; :class:`ConfigError` naming it if there is none."""
    catalogue = config.get("image_datasets") or {}
    if name not in catalogue:
        raise ConfigError(
            f"unknown image dataset {name!r}: config key 'image_datasets' has no entry "
            f"{name!r} (known: {', '.join(sorted(catalogue))})"
        )
    return dict(catalogue[name])


def dataset_kind(config: Mapping[str, Any], name: str) -> str:
    """``"tabular"`` or ``"image"``: which catalogue holds ``name``; :class:`ConfigError`
    listing both catalogues if neither does."""
    if name in (config.get("datasets") or {}):
        return "tabular"
    if name in (config.get("image_datasets") or {}):
        return "image"
    known = sorted([*(config.get("datasets") or {}), *(config.get("image_datasets") or {})])
    raise ConfigError(
        f"unknown dataset {name!r}: neither 'datasets' nor 'image_datasets' has an entry "
        f"{name!r} (known: {', '.join(known)})"
    )


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
    for name, entry in (pia.get("properties") or {}).items():
        where = f"config key 'pia.properties.{name}'"
        if name in (config.get("image_datasets") or {}):
            check_image_property(config, name, entry, where)
            continue
        try:
            spec = DatasetSpec.from_config(name, dataset_config(config, name))
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None
        try:
            Property.from_config(entry).check_schema(spec.schema, hide=hide)
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None


def pia_property(config: Mapping[str, Any], name: str) -> dict[str, str]:
    """The PIA property ``{column, value}`` of dataset ``name``; :class:`ConfigError` if the
    config names none."""
    properties = (config.get("pia") or {}).get("properties") or {}
    if name not in properties:
        raise ConfigError(
            f"no property to infer for dataset {name!r}: add pia.properties.{name} "
            "({column: ..., value: ...}) to the config"
        )
    entry = properties[name]
    return {"column": str(entry["column"]), "value": str(entry["value"])}


def check_image_property(
    config: Mapping[str, Any], name: str, entry: Mapping[str, Any], where: str
) -> None:
    """An image property must name an attribute the dataset's source provides (CelebA's
    attributes are known only once its files are read)."""
    from diffshare.tracks.image import SOURCE_ATTRIBUTES

    source = image_dataset_config(config, name).get("source")
    attributes = SOURCE_ATTRIBUTES.get(source)
    if attributes is not None and str(entry["column"]) not in attributes:
        raise ConfigError(
            f"{where}: {source} images have no attribute {entry['column']!r} "
            f"(they have {list(attributes)})"
        )


def check_image(config: Mapping[str, Any]) -> None:
    """The ``image`` section: samplers fit their family; zero_shot has CLIP weights."""
    from diffshare.generators.image_diffusion import SAMPLERS

    image = config.get("image") or {}
    for family, setting in (image.get("samplers") or {}).items():
        if setting.get("name") not in SAMPLERS[family]:
            raise ConfigError(
                f"config key 'image.samplers.{family}.name': {setting.get('name')!r} does not "
                f"sample the {family} family; choose one of {list(SAMPLERS[family])}"
            )
    pia = image.get("pia") or {}
    if "zero_shot" in (pia.get("attacks") or []) and not (image.get("features") or {}).get("clip"):
        raise ConfigError(
            "config key 'image.pia.attacks' lists 'zero_shot', which needs CLIP weights: set "
            "image.features.clip to a local CLIP checkpoint folder, or remove 'zero_shot'"
        )


def image_pia_prompts(config: Mapping[str, Any], name: str) -> list[str] | None:
    """The zero-shot prompts of image dataset ``name``; :class:`ConfigError` when the
    zero_shot attack is on and the dataset has none."""
    pia = (config.get("image") or {}).get("pia") or {}
    prompts = (pia.get("prompts") or {}).get(name)
    if "zero_shot" in (pia.get("attacks") or []) and not prompts:
        raise ConfigError(
            f"the zero_shot attack needs prompts for {name!r}: add image.pia.prompts.{name} "
            "([the property, its absence])"
        )
    return list(prompts) if prompts else None
