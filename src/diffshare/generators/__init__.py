"""The shared-model families by name, and loading a saved one whatever its family.

``tabddpm`` is our diffusion model (:mod:`diffshare.generators.tabddpm`); ``ctgan`` and ``tvae``
are the non-diffusion baselines (:mod:`diffshare.generators.ctgan`). Each saved model folder
holds a ``config.json`` whose ``format`` says which class reads it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Protocol

import pandas as pd

from diffshare.errors import DataError

GENERATORS = ("tabddpm", "ctgan", "tvae")


class Sampler(Protocol):
    def sample(self, n: int, *, seed: int = 0) -> pd.DataFrame: ...


def load_generator(folder: str | os.PathLike, device: str = "auto") -> Sampler:
    """The model saved in ``folder``, ready to ``sample(n, seed=...)``."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise DataError(f"saved model {folder} lacks config.json")
    kind = json.loads(path.read_text()).get("format")
    if kind == "diffshare-tabular-diffusion":
        from diffshare.generators.tabddpm import TabularDiffusion

        return TabularDiffusion.load(folder, device=device)
    if kind == "diffshare-ctgan":
        from diffshare.generators.ctgan import CtganGenerator

        return CtganGenerator.load(folder, device=device)
    raise DataError(f"{path} has unknown model format {kind!r}")
