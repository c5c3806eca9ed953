"""Generator families of other packages and of the user: the plugin interface.

A plugin family is a class with the shape of CTGAN's ``BaseSynthesizer``, SDV's synthesizers
and TAPAS's ``Generator``; it declares three things as class attributes::

    class MyGenerator:
        modality = "table"          # or "image"
        diffusion = False           # whether the claims count it as a diffusion model
        persistence = "sample_only" # or "safe"

        def __init__(self, *, seed, **settings): ...     # generator.plugin_settings.<name>
        def fit(self, table, schema): ...                # images: fit(images, labels)
        def sample(self, n, *, seed): ...                # a DataFrame; images: uint8 (n, h, w, c)
        # persistence "safe" only: no pickle, e.g. safetensors + JSON
        def save(self, folder): ...
        @classmethod
        def load(cls, folder): ...

``persistence`` says how the workflow keeps a fitted model: ``safe`` models are saved into a
folder and sampled by later jobs, as ours are; ``sample_only`` models (libraries that can only
pickle, such as SDV) are never saved: one job trains the model and draws its samples, and only
the samples are kept, so nothing is ever unpickled. ``fit`` takes the table alone where its
signature has one parameter (SDV's and TAPAS's shape), the table and its
:class:`~diffshare.data.schema.TableSchema` where it has two.

A family is registered by an entry point of group ``diffshare.generators`` in the plugin's own
package (the way pytest's ``pytest11`` and Snakemake's executor plugins are found)::

    [project.entry-points."diffshare.generators"]
    my_generator = "my_package.module:MyGenerator"

or by the config key ``generator.plugins: {my_generator: "my_package.module:MyGenerator"}``.
:func:`check_plugin` refuses a class that does not import or lacks a declaration or a method,
naming where it was registered and what is missing; this module imports no torch, so the
registry stays quick. :class:`~diffshare.generators.plugin_generator.PluginGenerator` gives a
plugin the interface of the built-in families.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from diffshare.errors import ConfigError

#: The entry point group third-party families register under.
ENTRY_POINT_GROUP = "diffshare.generators"
MODALITIES = ("table", "image")
PERSISTENCE = ("safe", "sample_only")


def import_object(spec: str, where: str) -> Any:
    """The object ``module:attribute`` names; :class:`ConfigError` naming ``where`` it was
    registered and why it cannot be imported."""
    module_name, _, attribute = str(spec).partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"{where}: {spec!r} must name a class as 'module:Class'")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # a plugin's import may fail in any way; name it, keep its words
        raise ConfigError(
            f"{where}: cannot import module {module_name!r} of {spec!r}: "
            f"{type(error).__name__}: {error}"
        ) from error
    value: Any = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            raise ConfigError(f"{where}: module {module_name!r} has no attribute {attribute!r}")
        value = getattr(value, part)
    return value


def check_plugin(cls: Any, where: str) -> dict[str, Any]:
    """The declarations of plugin class ``cls`` (``modality``, ``diffusion``,
    ``persistence``); :class:`ConfigError` naming ``where`` it was registered and the first
    thing it lacks or declares wrongly."""
    if not inspect.isclass(cls):
        raise ConfigError(f"{where}: {cls!r} is not a class")
    name = f"{cls.__module__}.{cls.__qualname__}"
    modality = getattr(cls, "modality", None)
    if modality not in MODALITIES:
        raise ConfigError(
            f"{where}: {name} must declare modality = 'table' or 'image', got {modality!r}"
        )
    diffusion = getattr(cls, "diffusion", None)
    if not isinstance(diffusion, bool):
        raise ConfigError(f"{where}: {name} must declare diffusion = True or False")
    persistence = getattr(cls, "persistence", None)
    if persistence not in PERSISTENCE:
        raise ConfigError(
            f"{where}: {name} must declare persistence = 'safe' or 'sample_only' (a library that "
            f"saves by pickling is 'sample_only'), got {persistence!r}"
        )
    if modality == "image" and persistence == "sample_only":
        raise ConfigError(
            f"{where}: {name} is a sample-only image family, which the image track does not "
            "take yet (its sampling jobs read saved models): save it safely"
        )
    methods = ["fit", "sample"] + (["save", "load"] if persistence == "safe" else [])
    missing = [m for m in methods if not callable(getattr(cls, m, None))]
    if missing:
        raise ConfigError(
            f"{where}: {name} lacks the method{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} ({persistence} {modality} families need "
            f"{', '.join(methods)})"
        )
    return {"modality": modality, "diffusion": diffusion, "persistence": persistence}
