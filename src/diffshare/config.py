"""The run's configuration: lookups by dataset and track, and the defaults of the schema.

The workflow validates the merged config against ``workflow/schemas/config.schema.yaml``, the one
place where defaults live (:func:`schema_defaults` reads them; ``config/config.yaml`` must agree
with it and ``config/README.md`` is generated from it, which the tests check), then checks
cross-references with :func:`diffshare.validation.check_config`. This module imports no stage
code.

Settings are symmetric between the tracks: a tabular dataset's are under ``fpa``, ``pia``,
``generator``; an image dataset's under ``image.fpa``, ``image.pia``, ``image.diffusion``, ...
(:func:`track_section` picks the right one for a dataset).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

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


#: The wildcard pattern of a swept number in a path (``alpha~0.25``, ``ratio~0``): digits, with
#: one decimal point between digits; :func:`sweep_value` writes every swept number this way.
SWEEP_VALUE = r"[0-9]+(?:\.[0-9]+)?"
#: The longest path text of a swept number (0.000...01 of 31 decimals): a path segment stays
#: short on every filesystem.
SWEEP_VALUE_MAX_LENGTH = 32
#: The config keys whose numbers are swept as path segments (``alpha~...``, ``ratio~...``).
SWEEP_KEYS = ("fpa.alphas", "pia.ratios", "image.fpa.alphas", "image.pia.ratios")


def sweep_value(value: float) -> str:
    """The path text of a swept number (``alpha~<text>``, ``ratio~<text>``): the shortest
    decimal that reads back as the same float, without an exponent or trailing zeros.

    ``0.1 -> "0.1"``, ``0 -> "0"``, ``1.0 -> "1"``, ``1e-05 -> "0.00001"``,
    ``0.1234567 -> "0.1234567"``; a number that ``{:g}`` writes exactly gets the same text (so
    existing results keep their paths). Non-finite numbers come out as ``nan`` or ``inf``, which
    :func:`diffshare.validation.check_config` rejects.
    """
    number = float(value) + 0.0  # -0.0 -> 0.0
    if not math.isfinite(number):
        return repr(number)
    text = format(Decimal(repr(number)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


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


def track_section(config: Mapping[str, Any], name: str, section: str) -> dict[str, Any]:
    """The settings ``section`` (``fpa`` or ``pia``) that apply to dataset ``name``: the top-level
    section for a tabular dataset, ``image.<section>`` for an image dataset."""
    if dataset_kind(config, name) == "image":
        return dict((config.get("image") or {}).get(section) or {})
    return dict(config.get(section) or {})


def section_path(config: Mapping[str, Any], name: str, section: str) -> str:
    """The config path of :func:`track_section` (``pia`` or ``image.pia``), for messages."""
    return f"image.{section}" if dataset_kind(config, name) == "image" else section


def pia_property(config: Mapping[str, Any], name: str) -> dict[str, str]:
    """The PIA property ``{column, value}`` of dataset ``name`` (``pia.properties.<name>``, or
    ``image.pia.properties.<name>`` for an image dataset); :class:`ConfigError` naming the key to
    add if the config has none."""
    properties = track_section(config, name, "pia").get("properties") or {}
    if name not in properties:
        key = f"{section_path(config, name, 'pia')}.properties.{name}"
        raise ConfigError(
            f"no property to infer for dataset {name!r}: add {key} "
            "({column: ..., value: ...}) to the config"
        )
    entry = properties[name]
    return {"column": str(entry["column"]), "value": str(entry["value"])}


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


def schema_defaults(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The defaults of a JSON schema as a config: every key whose node sets a ``default`` (or whose
    properties do), recursively, following local ``$ref``s; a node's own ``default`` mapping is
    merged over its properties' defaults. This is what validation with defaults fills in for an
    empty config."""
    return _node_default(schema, schema, top=True)


_NONE = object()  # "no default", as opposed to a default of null


def _node_default(schema: Mapping[str, Any], node: Mapping[str, Any], top: bool = False) -> Any:
    merged: dict[str, Any] = {}
    for part in [node, *(node.get("allOf") or [])]:
        if "$ref" in part:
            part = {
                **_resolve(schema, part["$ref"]),
                **{k: v for k, v in part.items() if k != "$ref"},
            }
        for key, child in (part.get("properties") or {}).items():
            default = _node_default(schema, child)
            if default is not _NONE:
                merged[key] = default
    value = node.get("default", _NONE)
    if isinstance(value, Mapping):
        return {**merged, **value}
    if value is _NONE and (top or merged and "default" in node):
        return merged
    return value


def _resolve(schema: Mapping[str, Any], ref: str) -> Mapping[str, Any]:
    if not ref.startswith("#/"):
        raise ConfigError(f"only local schema references are supported, got {ref!r}")
    node: Any = schema
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def reference_rows(schema: Mapping[str, Any]) -> Iterator[tuple[str, Any, str]]:
    """``(key, default, description)`` for every setting of the schema but the catalogues, in
    schema order: leaves, and objects whose entries are free (keyed by dataset, classifier, ...)."""
    defaults = schema_defaults(schema)

    def walk(node: Mapping[str, Any], path: str, default: Any) -> Iterator[tuple[str, Any, str]]:
        properties: dict[str, Any] = {}
        for piece in [node, *(node.get("allOf") or [])]:
            if "$ref" in piece:
                properties.update(_resolve(schema, piece["$ref"]).get("properties") or {})
            properties.update(piece.get("properties") or {})
        free = "additionalProperties" in node and node["additionalProperties"] is not False
        if not properties or free or path.endswith(("ctgan", "tvae")):
            yield path, default, " ".join(str(node.get("description", "")).split())
            return
        for key, child in properties.items():
            child_default = default.get(key) if isinstance(default, Mapping) else None
            yield from walk(child, f"{path}.{key}" if path else key, child_default)

    for key, child in schema["properties"].items():
        if key not in ("datasets", "image_datasets"):
            yield from walk(child, key, defaults.get(key))


def reference_markdown(schema: Mapping[str, Any]) -> str:
    """config/README.md: every setting with its default and meaning, from the schema."""
    lines = [
        "# Configuration reference",
        "",
        "Generated from `workflow/schemas/config.schema.yaml`, the one place where defaults live",
        "(`python -m diffshare.config workflow/schemas/config.schema.yaml > config/README.md`;",
        "a test fails when this file, the schema or `config/config.yaml` disagree). The dataset",
        "catalogues (`datasets`, `image_datasets`) are described in `config/datasets.yaml`.",
        "",
        "| key | default | meaning |",
        "| --- | --- | --- |",
    ]
    for key, default, description in reference_rows(schema):
        shown = json.dumps(default, separators=(", ", ": "))
        cells = [f"`{key}`", f"`{shown}`", description]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m diffshare.config SCHEMA > config/README.md
    import yaml

    with open(sys.argv[1]) as handle:
        sys.stdout.write(reference_markdown(yaml.safe_load(handle)))
