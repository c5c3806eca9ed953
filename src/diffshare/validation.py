"""Checks on a whole configuration that a JSON schema cannot express (cross-references).

The workflow validates the config against ``workflow/schemas/config.schema.yaml`` first, then calls
:func:`check_config`; both run when the workflow loads, before any job starts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from diffshare.config import (
    SWEEP_KEYS,
    SWEEP_VALUE,
    SWEEP_VALUE_MAX_LENGTH,
    dataset_config,
    dataset_kind,
    image_dataset_config,
    sweep_value,
)
from diffshare.data.tabular import DatasetSpec
from diffshare.errors import ConfigError

#: Where the NVIDIA driver lists the GPUs it sees.
NVIDIA_GPUS = "/proc/driver/nvidia/gpus"


def cuda_visible() -> bool:
    """Whether this machine shows an NVIDIA GPU to its processes, without importing torch (the
    workflow asks when it loads, to decide whether generator jobs claim a GPU)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1"):
        return False
    return os.path.isdir(NVIDIA_GPUS) and bool(os.listdir(NVIDIA_GPUS))


def check_config(config: Mapping[str, Any], *, local_torch: bool = True) -> None:
    """Raise :class:`ConfigError` naming the first key whose value refers to nothing valid.

    ``local_torch``: whether the jobs import the torch this process would (False under
    ``--software-deployment-method conda`` or a container, whose environments hold their own);
    only then is a CUDA ``generator.device`` checked against it.
    """
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
    for key in SWEEP_KEYS:
        check_sweep(key, lookup(config, key))
    check_pia(config)
    check_generators(config, local=local_torch)
    check_image(config)
    check_classifier_arguments(config)
    check_ctgan_arguments(config)
    if local_torch:
        check_device(config)


def lookup(config: Mapping[str, Any], key: str) -> Any:
    """The value of the dotted ``key`` (``image.fpa.alphas``); None where a part is missing."""
    value: Any = config
    for part in key.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def check_sweep(key: str, values: list[float] | None) -> None:
    """Every number of the sweep ``key`` must have a path text (:func:`sweep_value`) that reads
    back as the same number and fits the paths' wildcard; no two may share a path."""
    seen: dict[str, float] = {}
    for index, value in enumerate(values or []):
        text = sweep_value(value)
        where = f"config key '{key}[{index}]'"
        if not re.fullmatch(SWEEP_VALUE, text) or float(text) != value:
            raise ConfigError(
                f"{where}: {value!r} cannot be a path segment (its text {text!r} is not a "
                "plain decimal number); use a finite number"
            )
        if len(text) > SWEEP_VALUE_MAX_LENGTH:
            raise ConfigError(
                f"{where}: {value!r} needs {len(text)} characters as a path segment "
                f"({text!r}); use at most {SWEEP_VALUE_MAX_LENGTH}, e.g. a rounder number"
            )
        if text in seen:
            raise ConfigError(
                f"{where}: {value!r} is the same sweep value as {seen[text]!r} (both are "
                f"{text!r} in paths); list it once"
            )
        seen[text] = value


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
    check_calibration(pia, "pia")
    check_calibration((config.get("image") or {}).get("pia") or {}, "image.pia")
    images = config.get("image_datasets") or {}
    for name, entry in (pia.get("properties") or {}).items():
        where = f"config key 'pia.properties.{name}'"
        if name in images:
            raise ConfigError(
                f"{where}: {name!r} is an image dataset, whose property is now set under "
                f"image.pia.properties.{name} (image runs read only the `image` section); "
                "move it there"
            )
        try:
            spec = DatasetSpec.from_config(name, dataset_config(config, name))
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None
        try:
            spec.schema.check_property(str(entry["column"]), str(entry["value"]), hide=hide)
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None
    image_pia = (config.get("image") or {}).get("pia") or {}
    for name, entry in (image_pia.get("properties") or {}).items():
        where = f"config key 'image.pia.properties.{name}'"
        if name not in images:
            # The shipped defaults name celeba and afad, which a catalogue may leave out.
            if name in (config.get("datasets") or {}):
                raise ConfigError(
                    f"{where}: {name!r} is a tabular dataset; set its property under "
                    f"pia.properties.{name}"
                )
            continue
        check_image_property(config, name, entry, where)


def check_calibration(pia: Mapping[str, Any], where: str) -> None:
    """The calibrated attack of a ``pia`` section (at config key ``where``) calibrates an
    attack the section lists, on at least three shadow shares."""
    if "calibrated" not in (pia.get("attacks") or []):
        return
    from diffshare.attacks.pia.calibration import check_grid

    calibration = pia.get("calibration") or {}
    base = calibration.get("attack")
    if base not in pia["attacks"]:
        raise ConfigError(
            f"config key '{where}.attacks' lists 'calibrated', which calibrates "
            f"{where}.calibration.attack = {base!r}; list {base!r} in {where}.attacks too"
        )
    check_grid(calibration.get("shares") or [], f"config key '{where}.calibration.shares'")


#: The config keys naming shared-model families, with the modality each must have.
FAMILY_KEYS = (
    ("fpa.generator", "table"),
    ("pia.generators", "table"),
    ("defense.pia.generators", "table"),
    ("image.fpa.generator", "image"),
    ("image.pia.generators", "image"),
)


def check_generators(config: Mapping[str, Any], *, local: bool = True) -> None:
    """Every family a config key names is registered (built-in, an entry point, or
    ``generator.plugins``) and of the key's modality; the image FPA family draws classes;
    ``generator.plugin_settings`` names plugin families only. ``local``: the jobs import what
    this process imports, so a family whose optional package is missing is refused now."""
    from diffshare.generators import registered_families

    generator = config.get("generator") or {}
    families = registered_families(generator.get("plugins"))
    named: set[str] = set()
    for key, modality in FAMILY_KEYS:
        value = lookup(config, key)
        names = [value] if isinstance(value, str) else list(value or [])
        for name in names:
            choices = [n for n, f in families.items() if f.modality == modality]
            if name not in families:
                raise ConfigError(
                    f"config key '{key}': unknown generator family {name!r}; the {modality} "
                    f"families are {choices} (register your own under generator.plugins)"
                )
            if families[name].modality != modality:
                raise ConfigError(
                    f"config key '{key}': {name!r} is an {families[name].modality} family; "
                    f"choose a {modality} family: {choices}"
                )
            named.add(name)
    if lookup(config, "image.fpa.generator") == "sngan":
        raise ConfigError(
            "config key 'image.fpa.generator': 'sngan' draws no classes, and the fairness "
            "receiver's samples are drawn class by class; choose a diffusion family (ddpm, edm)"
        )
    for name in generator.get("plugin_settings") or {}:
        if name not in families or not families[name].plugin:
            plugins = [n for n, f in families.items() if f.plugin]
            raise ConfigError(
                f"config key 'generator.plugin_settings.{name}': {name!r} is not a plugin "
                f"family (plugin families: {plugins}); built-in families keep their own keys"
            )
    if local:
        for name in sorted(named):
            if families[name].extra:
                families[name].load_class()  # ConfigError naming the package to install


def check_image_property(
    config: Mapping[str, Any], name: str, entry: Mapping[str, Any], where: str
) -> None:
    """An image property must name an attribute the dataset's source provides (CelebA's
    attributes are known only once its files are read)."""
    from diffshare.data.image_catalogue import SOURCE_ATTRIBUTES

    source = image_dataset_config(config, name).get("source")
    attributes = SOURCE_ATTRIBUTES.get(source)
    if attributes is not None and str(entry["column"]) not in attributes:
        raise ConfigError(
            f"{where}: {source} images have no attribute {entry['column']!r} "
            f"(they have {list(attributes)})"
        )


def check_image(config: Mapping[str, Any]) -> None:
    """The ``image`` section: samplers fit their family; zero_shot and the CLIP discriminator
    have CLIP weights."""
    from diffshare.generators.schedulers import SAMPLERS

    image = config.get("image") or {}
    for family, setting in (image.get("samplers") or {}).items():
        if setting.get("name") not in SAMPLERS[family]:
            raise ConfigError(
                f"config key 'image.samplers.{family}.name': {setting.get('name')!r} does not "
                f"sample the {family} family; choose one of {list(SAMPLERS[family])}"
            )
    pia = image.get("pia") or {}
    clip = (image.get("features") or {}).get("clip")
    if "zero_shot" in (pia.get("attacks") or []) and not clip:
        raise ConfigError(
            "config key 'image.pia.attacks' lists 'zero_shot', which needs CLIP weights: set "
            "image.features.clip to a local CLIP checkpoint folder, or remove 'zero_shot'"
        )
    if (pia.get("discriminator") or {}).get("classifier") == "clip_logreg" and not clip:
        raise ConfigError(
            "config key 'image.pia.discriminator.classifier' is 'clip_logreg', which needs CLIP "
            "weights: set image.features.clip, or choose 'cnn' or 'auto'"
        )


def check_device(config: Mapping[str, Any]) -> None:
    """``generator.device`` ``cuda`` or ``cuda:N`` needs a torch built with CUDA. Only a CUDA
    device imports torch (seconds). Whether a GPU is visible is left to the jobs: on a cluster
    they run on other machines than the one that loads the workflow."""
    device = str((config.get("generator") or {}).get("device", "auto"))
    if device in ("auto", "cpu"):
        return
    try:
        import torch
    except ImportError:  # the jobs' environment is not this one
        return
    if not torch.backends.cuda.is_built():
        raise ConfigError(
            f"config key 'generator.device' is {device!r}, but torch {torch.__version__} here is "
            "built without CUDA; set it to 'auto' or 'cpu', or install a CUDA build of torch"
        )


def classifier_arguments(name: str) -> tuple[str, list[str]]:
    """The final estimator of receiver ``name`` (as ``make_classifier`` builds it) and the
    keyword arguments ``downstream.params.<name>`` may set: its ``get_params()`` but those the
    pipeline sets itself (the seed, hgb's categorical handling)."""
    from diffshare.data.schema import TableSchema
    from diffshare.receivers.tabular import make_classifier

    roles = {"numeric": ["x"], "categorical": [], "label": "y", "positive": "1"}
    schema = TableSchema(**roles, sensitive="x", privileged="1")
    estimator = make_classifier(name, schema).steps[-1][1]
    allowed = []
    for argument, value in estimator.get_params(deep=False).items():
        try:
            make_classifier(name, schema, params={argument: value})
        except ConfigError:  # "got multiple values": make_classifier sets it
            continue
        allowed.append(argument)
    return type(estimator).__name__, sorted(allowed)


def check_classifier_arguments(config: Mapping[str, Any]) -> None:
    """Every argument of ``downstream.params.<classifier>`` is one its estimator takes."""
    params = (config.get("downstream") or {}).get("params") or {}
    for name, arguments in params.items():
        estimator, allowed = classifier_arguments(name)
        check_arguments(f"downstream.params.{name}", estimator, arguments, allowed)


#: Arguments of both ctgan.CTGAN and ctgan.TVAE that the schema describes (a test checks them
#: against the constructors): a config that sets only these needs no import of ctgan (seconds).
CTGAN_DESCRIBED = ("batch_size", "epochs")


def check_ctgan_arguments(config: Mapping[str, Any]) -> None:
    """Every argument of ``generator.ctgan`` and ``generator.tvae`` is one of the constructor
    of ctgan.CTGAN or ctgan.TVAE."""
    generator = config.get("generator") or {}
    for family in ("ctgan", "tvae"):
        arguments = generator.get(family) or {}
        if set(arguments) <= set(CTGAN_DESCRIBED):
            continue
        try:
            allowed = ctgan_arguments(family)
        except ImportError:  # the jobs' environment is not this one: they check
            continue
        check_arguments(f"generator.{family}", f"ctgan.{family.upper()}", arguments, allowed)


def ctgan_arguments(family: str) -> list[str]:
    """The keyword arguments of the ctgan package's constructor of ``family``."""
    import inspect

    import ctgan

    constructor = getattr(ctgan, family.upper())
    return sorted(p for p in inspect.signature(constructor).parameters if p != "self")


def check_arguments(
    key: str, receiver: str, arguments: Mapping[str, Any], allowed: list[str]
) -> None:
    """:class:`ConfigError` naming ``key``, the first of ``arguments`` not ``allowed`` and the
    allowed ones."""
    for argument in arguments:
        if argument not in allowed:
            raise ConfigError(
                f"config key '{key}': {receiver} takes no argument {argument!r} from the config "
                f"(set to {arguments[argument]!r}); allowed: {', '.join(allowed)}"
            )
