"""A plugin family's model behind the interface of the built-in ones
(:class:`~diffshare.generators.base.BaseGenerator`); the plugin interface itself is described
in :mod:`diffshare.generators.plugins`."""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from diffshare.errors import ConfigError, DataError, DiffshareError
from diffshare.generators.base import BaseGenerator
from diffshare.generators.formats import PLUGIN_FORMAT
from diffshare.generators.plugins import check_plugin
from diffshare.generators.table_rows import conform_rows, plain_rows, row_layout
from diffshare.storage import atomic_folder, read_model_config, write_model_config

#: Where a saved plugin model keeps the plugin's own files, beside diffshare's config.json.
PLUGIN_FOLDER = "model"
#: The keyword arguments a plugin's ``__init__`` gets when its signature names them.
SHAPE_OPTIONS = ("device", "num_classes", "channels", "image_size")


def _fit_takes_schema(fit: Any) -> bool:
    """Whether ``fit`` takes a second positional parameter (the schema) after the table."""
    parameters = [
        p
        for p in inspect.signature(fit).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"
    ]
    variadic = any(p.kind is p.VAR_POSITIONAL for p in inspect.signature(fit).parameters.values())
    return variadic or len(parameters) >= 2


class PluginGenerator(BaseGenerator):
    """A plugin family's model behind the interface of the built-in ones.

    Tables: ``fit(table, schema)`` records the training layout
    (:func:`~diffshare.generators.table_rows.row_layout`), hands the plugin plain values
    (categories as text) and ``sample`` conforms its rows to that layout
    (:func:`~diffshare.generators.table_rows.conform_rows`). Images: ``fit(images, labels)``
    and ``sample(n, labels=None, seed=...)`` pass through, checked to give uint8 images.
    A ``safe`` model is saved as ``config.json`` (format ``diffshare-plugin``, the family, the
    class, the layout) with the plugin's own files in ``model/``.
    """

    format = PLUGIN_FORMAT
    saved_files = ()  # the plugin's own files are in the folder model/
    what = "a plugin generator"

    def __init__(
        self, family: str, plugin: type, spec: str, model: Any, num_classes: int | None = None
    ) -> None:
        self._family = family
        self.plugin = plugin
        self.spec = spec
        self.model = model
        self.num_classes = num_classes  # images: the classes labelled samples are drawn of
        self.declared = check_plugin(plugin, f"generator family {family!r}")

    @property
    def family(self) -> str:
        return self._family

    @property
    def modality(self) -> str:
        return self.declared["modality"]

    @classmethod
    def from_settings(cls, family: str, settings: Mapping[str, Any], **options: Any):
        """An unfitted model: ``plugin(seed=..., **settings)``, plus those of ``device``,
        ``num_classes``, ``channels``, ``image_size`` the plugin's ``__init__`` names.
        ``options`` must hold ``plugin`` (the class) and ``spec`` (``module:Class``)."""
        plugin, spec = options.pop("plugin"), options.pop("spec")
        accepted = inspect.signature(plugin).parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
        extra = {
            k: options[k]
            for k in SHAPE_OPTIONS
            if k in options and (k in accepted or (takes_any and k != "device"))
        }
        try:
            model = plugin(seed=int(options.get("seed", 0)), **dict(settings), **extra)
        except TypeError as error:
            raise ConfigError(
                f"generator.plugin_settings.{family}: {spec} refused its settings "
                f"{dict(settings)}: {error}"
            ) from error
        return cls(family, plugin, spec, model, options.get("num_classes"))

    def fit(self, *data: Any) -> PluginGenerator:
        if self.modality == "image":
            self.model.fit(*data)
            self.fitted_ = True
            return self
        table, schema = data
        schema.check_table(table, "training table")
        self.layout_ = row_layout(table, schema)
        rows = plain_rows(table, self.layout_)
        if _fit_takes_schema(self.model.fit):
            self.model.fit(rows, schema)
        else:
            self.model.fit(rows)
        self.fitted_ = True
        return self

    def sample(self, n: int, *args: Any, seed: int = 0, **kwargs: Any) -> Any:
        """``n`` rows (a table of the training layout) or images (uint8, (n, h, w, c))."""
        self._check_fitted("fitted_")
        if int(n) < 1:
            raise DiffshareError(f"number of samples must be at least 1, got {n}")
        raw = self.model.sample(int(n), *args, seed=int(seed), **kwargs)
        if self.modality == "image":
            images = np.asarray(raw)
            if images.dtype != np.uint8 or images.ndim != 4 or len(images) != int(n):
                raise DiffshareError(
                    f"generator {self.family!r} must sample uint8 images (n, h, w, c) with "
                    f"n = {n}; it gave {images.dtype} {images.shape}"
                )
            return images
        table = conform_rows(raw, self.layout_, self.family)
        if len(table) != int(n):
            raise DiffshareError(f"generator {self.family!r} sampled {len(table)} rows, not {n}")
        return table

    def save(self, folder: str | os.PathLike) -> None:
        if self.declared["persistence"] != "safe":
            raise DiffshareError(
                f"generator family {self.family!r} is sample-only: it is never saved (its "
                "library saves by pickling); train and sample it in one job"
            )
        folder = self._folder(folder, "fitted_")
        with atomic_folder(folder / PLUGIN_FOLDER) as inner:
            self.model.save(inner)
        write_model_config(
            folder,
            {
                "format": self.format,
                "family": self.family,
                "plugin": self.spec,
                "modality": self.modality,
                "layout": getattr(self, "layout_", None),
                "num_classes": self.num_classes,
            },
        )

    @classmethod
    def load(cls, folder: str | os.PathLike, device: str = "auto", **options: Any):
        """The model saved in ``folder``, read by
        :func:`~diffshare.generators.load_generator` once its format and family are checked;
        ``options`` must hold ``family``, ``plugin`` and ``spec``: the family and its class."""
        family, plugin, spec = options["family"], options["plugin"], options["spec"]
        description = read_model_config(folder, cls.format, cls.saved_files, cls.what)
        if not (Path(folder) / PLUGIN_FOLDER).is_dir():
            raise DataError(f"saved model {folder} lacks the plugin's folder {PLUGIN_FOLDER}/")
        arguments = (
            {"device": device} if "device" in inspect.signature(plugin.load).parameters else {}
        )
        try:
            model = plugin.load(Path(folder) / PLUGIN_FOLDER, **arguments)
        except DiffshareError:
            raise
        except Exception as error:  # a plugin's loader may fail in any way
            raise DataError(
                f"saved model {folder}: {spec}.load failed: {type(error).__name__}: {error}"
            ) from error
        generator = cls(family, plugin, spec, model, description.get("num_classes"))
        if generator.modality == "table":
            layout = description.get("layout")
            if not isinstance(layout, dict):
                raise DataError(f"{Path(folder) / 'config.json'} lacks the table layout")
            generator.layout_ = layout
        generator.fitted_ = True
        return generator
