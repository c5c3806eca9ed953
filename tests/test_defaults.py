"""Defaults live in one place, the config schema: config/config.yaml, config/README.md and the
library's own defaults must all say the same (docs/reference/config.md is generated from it too,
tests/test_docs.py)."""

import inspect
from dataclasses import MISSING, fields

import pytest
import yaml

from conftest import REPO
from diffshare.config import reference_markdown, schema_defaults

SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
DEFAULTS = schema_defaults(SCHEMA)


def at(key: str):
    value = DEFAULTS
    for part in key.split("."):
        value = value[part]
    return value


def same(a, b) -> bool:
    """Equal as config values: tuples and lists alike, ints and floats alike."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_config_yaml_holds_exactly_the_schema_defaults():
    shipped = yaml.safe_load((REPO / "config/config.yaml").read_text())
    expected = {key: value for key, value in DEFAULTS.items() if key != "image_datasets"}
    assert shipped == expected


def test_config_reference_is_generated_from_the_schema():
    # Regenerate: python -m diffshare.config workflow/schemas/config.schema.yaml > config/README.md
    assert (REPO / "config/README.md").read_text() == reference_markdown(SCHEMA)


def library_defaults(target) -> dict:
    """Defaults of a dataclass's fields or of a constructor's keyword arguments."""
    if hasattr(target, "__dataclass_fields__"):
        return {
            f.name: f.default if f.default is not MISSING else f.default_factory()
            for f in fields(target)
            if f.default is not MISSING or f.default_factory is not MISSING
        }
    parameters = inspect.signature(target.__init__).parameters.values()
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


def library_targets():
    from diffshare.attacks.fpa.mine import MineEstimator
    from diffshare.generators.image_diffusion import ImageDiffusionConfig
    from diffshare.generators.sngan import Sngan
    from diffshare.generators.tabddpm import TabularDiffusionConfig
    from diffshare.receivers.cnn import CnnClassifier

    return [
        (TabularDiffusionConfig, "generator.tabular"),
        (ImageDiffusionConfig, "image.diffusion"),
        (MineEstimator, "fpa.mine"),
        (MineEstimator, "image.fpa.mine"),
        (Sngan, "image.sngan"),
        (CnnClassifier, "image.receiver"),
    ]


@pytest.mark.parametrize(("target", "section"), library_targets(), ids=lambda x: str(x))
def test_library_defaults_agree_with_the_schema(target, section):
    configured = at(section)
    defaults = library_defaults(target)
    disagree = {
        key: (defaults[key], value)
        for key, value in configured.items()
        if key in defaults and not same(defaults[key], value)
    }
    assert disagree == {}, f"library default vs schema default of {section}"
    assert set(configured) - set(defaults) <= {"include_sensitive"}, "settings the library lacks"
