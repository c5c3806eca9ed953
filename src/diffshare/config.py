"""Checks on a whole configuration that a JSON schema cannot express (cross-references).

The workflow validates the config against ``workflow/schemas/config.schema.yaml`` first, then calls
:func:`check_config`; both run when the workflow loads, before any job starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from diffshare.datasets import DatasetSpec
from diffshare.errors import ConfigError
from diffshare.pia import Property


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
        raise ConfigError(
            f"unknown dataset {name!r}: config key 'datasets' has no entry {name!r} "
            f"(known: {', '.join(sorted(catalogue))})"
        )
    return dict(catalogue[name])


def check_config(config: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` naming the first key whose value refers to nothing valid."""
    for name, entry in (config.get("datasets") or {}).items():
        DatasetSpec.from_config(name, entry)  # structure only; files are read by `prepare`
    run = config.get("run") or {}
    for index, name in enumerate(run.get("datasets") or []):
        try:
            dataset_config(config, name)
        except ConfigError as error:
            raise ConfigError(f"config key 'run.datasets[{index}]': {error}") from None
    check_pia(config)


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
