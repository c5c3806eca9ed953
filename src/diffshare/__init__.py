"""diffshare: what goes wrong when organisations share a diffusion model instead of their data.

The library behind the diffshare Snakemake workflow. It reproduces Luo et al., "Exploring Privacy
and Fairness Risks in Sharing Diffusion Models: An Adversarial Perspective" (IEEE TIFS 2024).
Every stage of the workflow is a function here; the workflow only moves files between them.

The public API is the short list below, importable from ``diffshare`` directly (each name is
imported on first use, so ``import diffshare`` stays fast: torch and diffusers load only when a
model is asked for). The subpackages, from the bottom up:

- :mod:`diffshare.data`: datasets read into prepared splits (tables, image sets);
- :mod:`diffshare.generators`: the shared models of every family behind one interface;
- :mod:`diffshare.receivers`: the receiver's classifiers (scikit-learn, the CNN, CLIP features);
- :mod:`diffshare.attacks`: fairness poisoning and property inference, on arrays only;
- :mod:`diffshare.tracks`: the tabular and image adapters between data and attacks;
- :mod:`diffshare.evaluation`, :mod:`diffshare.reporting`: metrics, result tables, figures;
- :mod:`diffshare.inputs`, :mod:`diffshare.risk`, :mod:`diffshare.cli`: the user's own files and
  models outside the workflow (``diffshare infer``, ``check``, ``audit``, ``families``).
"""

from __future__ import annotations

import importlib
from typing import Any

from diffshare.errors import ConfigError, DataError, DiffshareError

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_EXPORTS = {
    "DatasetSpec": "diffshare.data.tabular",
    "prepare": "diffshare.data.tabular",
    "TableSchema": "diffshare.data.schema",
    "ImageSet": "diffshare.data.images",
    "prepare_images": "diffshare.data.image_catalogue",
    "make_generator": "diffshare.generators",
    "load_generator": "diffshare.generators",
    "registered_families": "diffshare.generators",
    "load_pipeline": "diffshare.generators.diffusers_pipeline",
    "TabularDiffusion": "diffshare.generators.tabddpm",
    "ImageDiffusion": "diffshare.generators.image_diffusion",
    "CtganGenerator": "diffshare.generators.ctgan",
    "Sngan": "diffshare.generators.sngan",
    "make_classifier": "diffshare.receivers.tabular",
    "train_and_predict": "diffshare.receivers.tabular",
    "CnnClassifier": "diffshare.receivers.cnn",
    "MineEstimator": "diffshare.attacks.fpa.mine",
    "discrete_mutual_information": "diffshare.attacks.fpa.mine",
    "select_rows": "diffshare.attacks.fpa.selection",
    "Property": "diffshare.attacks.pia.property",
    "estimate_property": "diffshare.attacks.pia.estimate",
    "correct": "diffshare.attacks.pia.estimate",
    "hoeffding_eps": "diffshare.attacks.pia.bounds",
    "infer_property": "diffshare.inference",
    "check_risks": "diffshare.risk",
    "read_table": "diffshare.inputs",
    "read_images": "diffshare.inputs",
    "adapter": "diffshare.tracks",
    "evaluate": "diffshare.evaluation.fairness",
}

__all__ = ["ConfigError", "DataError", "DiffshareError", "__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'diffshare' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
