"""The adapters of the two tracks: a modality's data (tables with their schema, image sets) ->
arrays for the attack cores (:mod:`diffshare.attacks`) -> tables and records.

:mod:`~diffshare.tracks.tabular` and :mod:`~diffshare.tracks.image` expose the same stages
under the same names, with the data set first and the track's own inputs as keywords
(``schema`` for a table; ``features``, ``clip``, ``device`` for images): ``read_set``,
``write_set``, ``attribute_table``, ``mine_row_terms``, ``select``, ``receiver_predictions``,
``sharer_set``, ``estimate_property``, and ``PIA_ATTACKS`` and ``DISCRIMINATORS`` (the names
the track knows).
:func:`adapter` picks the module by the dataset's kind.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from diffshare.errors import ConfigError

#: The kinds of dataset, each with its adapter module ``diffshare.tracks.<kind>``.
KINDS = ("tabular", "image")


def adapter(kind: str) -> ModuleType:
    """The adapter module of a dataset's ``kind`` (``tabular`` or ``image``)."""
    if kind not in KINDS:
        raise ConfigError(f"dataset kind must be one of {list(KINDS)}, got {kind!r}")
    return importlib.import_module(f"diffshare.tracks.{kind}")
