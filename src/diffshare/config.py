"""Checks on a whole configuration that a JSON schema cannot express (cross-references).

The workflow validates the config against ``workflow/schemas/config.schema.yaml`` first, then calls
:func:`check_config`; both run when the workflow loads, before any job starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from diffshare.datasets import DatasetSpec
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
