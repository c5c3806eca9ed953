"""CTGAN and TVAE stored without pickle, and rebuilt so that they draw the same rows.

A fitted ``ctgan`` synthesizer is a network (CTGAN's generator, TVAE's decoder), a fitted
``DataTransformer`` (per column an ``rdt`` ``ClusterBasedNormalizer`` around a scikit-learn
``BayesianGaussianMixture``, or an ``rdt`` ``OneHotEncoder``) and, for CTGAN, the ``DataSampler``
whose category frequencies draw the conditional vectors. :func:`save_synthesizer` writes the
network's state to ``network.safetensors`` and every fitted array to ``transformer.safetensors``,
and returns the rest (column names, dtypes, categories, scalars) as JSON for ``config.json``.
:func:`load_synthesizer` constructs the same classes and sets their fitted attributes from those
files, which are read as tensors, arrays and JSON only: nothing is unpickled.

Written against the private attributes of ``ctgan`` 0.12 and ``rdt`` 2.0: a rebuilt synthesizer
draws exactly the rows the saved one draws, which ``tests/test_ctgan_generators.py`` checks
against ctgan's own pickle of the same model. Not stored, as sampling does not use them: the
discriminator (CTGAN) and encoder (TVAE), the optimizers, the losses, the training rows the
sampler indexes by category, and the random states of the transformers' ``fit`` and
``transform`` (their ``reverse_transform``, the only one sampling calls, draws nothing from its
own state for tables without missing values).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from safetensors import SafetensorError
from torch import nn

from diffshare.errors import DataError, DiffshareError
from diffshare.generators.base import save_weights
from diffshare.storage import atomic_path

NETWORK_FILE = "network.safetensors"
FITTED_FILE = "transformer.safetensors"

#: Fitted arrays of a ``BayesianGaussianMixture`` (``weight_concentration_``, a pair of arrays
#: for the Dirichlet process rdt uses, is stored stacked) and its fitted scalars.
_MIXTURE_ARRAYS = (
    "weights_",
    "means_",
    "covariances_",
    "precisions_",
    "precisions_cholesky_",
    "mean_precision_",
    "degrees_of_freedom_",
    "mean_prior_",
    "covariance_prior_",
    "lower_bounds_",
)
_MIXTURE_SCALARS = (
    "n_features_in_",
    "weight_concentration_prior_",
    "mean_precision_prior_",
    "degrees_of_freedom_prior_",
    "converged_",
    "n_iter_",
    "lower_bound_",
)
#: Fitted attributes of rdt's ``NullTransformer`` (no missing values: all but the mean unused).
_NULL_SCALARS = (
    "_missing_value_replacement",
    "_missing_value_generation",
    "nulls",
    "_null_percentage",
    "_min_value",
    "_max_value",
)
#: The ``DataSampler``'s arrays (CTGAN's conditional vectors) and its scalars.
_SAMPLER_ARRAYS = (
    "_discrete_column_matrix_st",
    "_discrete_column_cond_st",
    "_discrete_column_n_category",
    "_discrete_column_category_prob",
)
_SAMPLER_SCALARS = ("_data_length", "_n_discrete_columns", "_n_categories")
#: dtype kinds a stored column may have: bool, integer, unsigned, float, object (strings).
_DTYPE_KINDS = "biufO"


def _plain(value: Any) -> Any:
    """``value`` as a JSON scalar (numpy scalars to Python ones)."""
    value = value.item() if isinstance(value, np.generic) else value
    if value is not None and not isinstance(value, bool | int | float | str):
        raise DiffshareError(f"cannot store {type(value).__name__} value {value!r} as JSON")
    return value


def _dtype_name(dtype: Any) -> str:
    name = str(dtype)
    if not isinstance(dtype, np.dtype) or dtype.kind not in _DTYPE_KINDS:
        raise DiffshareError(f"cannot store a ctgan column of dtype {name!r}")
    return name


def _scalars(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: _plain(getattr(obj, name)) for name in names}


def _arrays(obj: Any, names: tuple[str, ...], prefix: str) -> dict[str, np.ndarray]:
    return {f"{prefix}{name}": np.ascontiguousarray(getattr(obj, name)) for name in names}


def _save_continuous(info: Any, index: int, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    from rdt.transformers import ClusterBasedNormalizer

    normalizer = info.transform
    mixture = normalizer._bgm_transformer
    if type(normalizer) is not ClusterBasedNormalizer or mixture.covariance_type != "full":
        raise DiffshareError(f"cannot store the transform of ctgan column {info.column_name!r}")
    prefix = f"columns.{index}."
    arrays.update(_arrays(mixture, _MIXTURE_ARRAYS, prefix))
    arrays[f"{prefix}weight_concentration_"] = np.stack(mixture.weight_concentration_)
    arrays[f"{prefix}valid_component_indicator"] = normalizer.valid_component_indicator
    return {
        "settings": _scalars(
            normalizer,
            (
                "learn_rounding_scheme",
                "enforce_min_max_values",
                "max_clusters",
                "weight_threshold",
                "missing_value_generation",
            ),
        ),
        "fitted": _scalars(normalizer, ("_rounding_digits", "_min_value", "_max_value")),
        "dtype": _dtype_name(normalizer._dtype),
        "null": _scalars(normalizer.null_transformer, _NULL_SCALARS),
        "mixture": {
            "params": {k: _plain(v) for k, v in mixture.get_params().items()},
            **_scalars(mixture, _MIXTURE_SCALARS),
        },
    }


def _save_discrete(info: Any) -> dict[str, Any]:
    from rdt.transformers import OneHotEncoder

    encoder = info.transform
    if type(encoder) is not OneHotEncoder or not all(isinstance(v, str) for v in encoder._uniques):
        raise DiffshareError(f"cannot store the transform of ctgan column {info.column_name!r}")
    return {
        "dtype": _dtype_name(encoder.dtype),
        "uniques": list(encoder._uniques),
        "fitted": _scalars(encoder, ("_dummy_na", "_dummy_encoded")),
    }


def _save_transformer(transformer: Any, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    columns = []
    for index, info in enumerate(transformer._column_transform_info_list):
        column = {
            "name": info.column_name,
            "type": info.column_type,
            "raw_dtype": _dtype_name(transformer._column_raw_dtypes[info.column_name]),
            "random_seed": _plain(info.transform.random_seed),
            "column_prefix": info.transform.column_prefix,
            "output_columns": list(info.transform.output_columns),
        }
        if info.column_type == "continuous":
            column.update(_save_continuous(info, index, arrays))
        else:
            column.update(_save_discrete(info))
        columns.append(column)
    return {
        "max_clusters": _plain(transformer._max_clusters),
        "weight_threshold": _plain(transformer._weight_threshold),
        "dataframe": bool(transformer.dataframe),
        "columns": columns,
    }


def _parts(kind: str, synthesizer: Any) -> tuple[Any, nn.Module]:
    """The fitted data transformer and network of a CTGAN or TVAE."""
    if kind == "ctgan":
        return synthesizer._transformer, synthesizer._generator
    return synthesizer.transformer, synthesizer.decoder


def save_synthesizer(kind: str, synthesizer: Any, folder: Path) -> dict[str, Any]:
    """Write a fitted ``ctgan`` CTGAN or TVAE (``kind``) into ``folder`` as
    :data:`NETWORK_FILE` and :data:`FITTED_FILE`; return the JSON part of its fitted state."""
    from safetensors.numpy import save_file

    transformer, network = _parts(kind, synthesizer)
    arrays: dict[str, np.ndarray] = {}
    description: dict[str, Any] = {"transformer": _save_transformer(transformer, arrays)}
    if kind == "ctgan":
        sampler = synthesizer._data_sampler
        arrays.update(_arrays(sampler, _SAMPLER_ARRAYS, "sampler."))
        description["sampler"] = _scalars(sampler, _SAMPLER_SCALARS)
    save_weights(network, folder / NETWORK_FILE)
    with atomic_path(folder / FITTED_FILE) as tmp:
        save_file(arrays, str(tmp))
    return description


# -- loading ----------------------------------------------------------------------------------
def _read(path: Path, load: Callable[[str], Any]) -> Any:
    try:
        return load(str(path))
    except (SafetensorError, OSError) as error:
        raise DataError(f"{path} is not a readable safetensors file: {error}") from error


def _dtype(name: Any) -> np.dtype:
    """The dtype a saved ``config.json`` names; ``ValueError`` for any but plain numpy ones."""
    try:
        dtype = np.dtype(name) if isinstance(name, str) else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in _DTYPE_KINDS or str(dtype) != name:
        raise ValueError(f"column dtype {name!r} is not one of a ctgan table's")
    return dtype


def _set(obj: Any, values: Mapping[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        setattr(obj, name, values[name])


def _load_continuous(column: Mapping[str, Any], arrays: Mapping[str, np.ndarray], index: int):
    from rdt.transformers import ClusterBasedNormalizer
    from rdt.transformers.null import NullTransformer
    from sklearn.mixture import BayesianGaussianMixture

    settings, prefix = column["settings"], f"columns.{index}."
    normalizer = ClusterBasedNormalizer(**settings)
    _set(normalizer, column["fitted"], ("_rounding_digits", "_min_value", "_max_value"))
    normalizer._dtype = _dtype(column["dtype"])
    null = NullTransformer(None, settings["missing_value_generation"])
    _set(null, column["null"], _NULL_SCALARS)
    normalizer.null_transformer = null
    if null.models_missing_values():
        normalizer.output_properties["is_null"] = {"sdtype": "float", "next_transformer": None}
    mixture = BayesianGaussianMixture(**column["mixture"]["params"])
    _set(mixture, column["mixture"], _MIXTURE_SCALARS)
    for name in _MIXTURE_ARRAYS:
        setattr(mixture, name, arrays[prefix + name])
    mixture.lower_bounds_ = list(mixture.lower_bounds_)
    mixture.weight_concentration_ = tuple(arrays[prefix + "weight_concentration_"])
    normalizer._bgm_transformer = mixture
    normalizer.valid_component_indicator = arrays[prefix + "valid_component_indicator"]
    if normalizer.valid_component_indicator.shape != (settings["max_clusters"],):
        raise ValueError(f"column {column['name']!r} has a malformed mixture")
    components = int(normalizer.valid_component_indicator.sum())
    return normalizer, [(1, "tanh"), (components, "softmax")]


def _load_discrete(column: Mapping[str, Any]):
    from rdt.transformers import OneHotEncoder

    encoder = OneHotEncoder()
    encoder.dtype = _dtype(column["dtype"])
    uniques = [str(value) for value in column["uniques"]]
    _set(encoder, column["fitted"], ("_dummy_na", "_dummy_encoded"))
    encoder._uniques, encoder._num_dummies = uniques, len(uniques)
    encoder._indexer = list(range(len(uniques)))
    encoder.dummies = uniques + ([np.nan] if encoder._dummy_na else [])
    encoder.output_properties = {
        f"value{i}": {"sdtype": "float", "next_transformer": None}
        for i in range(len(encoder.dummies))
    }
    return encoder, [(len(encoder.dummies), "softmax")]


def _load_transformer(description: Mapping[str, Any], arrays: Mapping[str, np.ndarray]):
    from ctgan.data_transformer import ColumnTransformInfo, DataTransformer, SpanInfo

    transformer = DataTransformer(description["max_clusters"], description["weight_threshold"])
    transformer.dataframe = bool(description["dataframe"])
    transformer.output_info_list, transformer._column_transform_info_list = [], []
    raw_dtypes = {}
    for index, column in enumerate(description["columns"]):
        name = str(column["name"])
        if column["type"] == "continuous":
            transform, spans = _load_continuous(column, arrays, index)
        elif column["type"] == "discrete":
            transform, spans = _load_discrete(column)
        else:
            raise ValueError(f"column {name!r} has unknown type {column['type']!r}")
        transform.columns, transform.random_seed = [name], int(column["random_seed"])
        transform.column_prefix = str(column["column_prefix"])
        transform.output_columns = [str(c) for c in column["output_columns"]]
        transform.reset_randomization()
        output_info = [SpanInfo(int(dim), activation) for dim, activation in spans]
        dimensions = sum(span.dim for span in output_info)
        transformer._column_transform_info_list.append(
            ColumnTransformInfo(name, column["type"], transform, output_info, dimensions)
        )
        transformer.output_info_list.append(output_info)
        raw_dtypes[name] = _dtype(column["raw_dtype"])
    transformer.output_dimensions = sum(
        info.output_dimensions for info in transformer._column_transform_info_list
    )
    transformer._column_raw_dtypes = pd.Series(raw_dtypes, dtype=object)
    return transformer


def _load_sampler(description: Mapping[str, Any], arrays: Mapping[str, np.ndarray]):
    from ctgan.data_sampler import DataSampler

    sampler = DataSampler.__new__(DataSampler)  # fitted state set below, no training rows
    _set(sampler, {k: int(v) for k, v in description.items()}, _SAMPLER_SCALARS)
    for name in _SAMPLER_ARRAYS:
        setattr(sampler, name, arrays[f"sampler.{name}"])
    if sampler._discrete_column_category_prob.shape[0] != sampler._n_discrete_columns:
        raise ValueError("the conditional sampler's arrays disagree with its column count")
    return sampler


def load_synthesizer(kind: str, synthesizer: Any, description: Any, folder: Path) -> None:
    """Set the fitted state saved by :func:`save_synthesizer` in ``folder`` (with its JSON part
    ``description``) on ``synthesizer``, a CTGAN or TVAE (``kind``) built with the saved
    constructor arguments. :class:`DataError` naming the file when a part is unreadable or
    does not fit the others."""
    from ctgan.synthesizers.ctgan import Generator
    from ctgan.synthesizers.tvae import Decoder
    from safetensors.numpy import load_file as load_arrays
    from safetensors.torch import load_file as load_tensors

    arrays = _read(folder / FITTED_FILE, load_arrays)
    state = _read(folder / NETWORK_FILE, load_tensors)
    try:
        transformer = _load_transformer(description["transformer"], arrays)
        if kind == "ctgan":
            sampler = _load_sampler(description["sampler"], arrays)
            synthesizer._transformer, synthesizer._data_sampler = transformer, sampler
            synthesizer._generator = Generator(
                synthesizer._embedding_dim + sampler.dim_cond_vec(),
                synthesizer._generator_dim,
                transformer.output_dimensions,
            )
        else:
            synthesizer.transformer = transformer
            synthesizer.decoder = Decoder(
                synthesizer.embedding_dim,
                synthesizer.decompress_dims,
                transformer.output_dimensions,
            )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise DataError(
            f"{folder / 'config.json'} and {folder / FITTED_FILE} do not describe a fitted "
            f"{kind} model: {type(error).__name__}: {error}"
        ) from error
    try:
        _parts(kind, synthesizer)[1].load_state_dict(state)
    except RuntimeError as error:
        raise DataError(
            f"{folder / NETWORK_FILE} does not fit the {kind} network its config.json "
            f"describes: {error}"
        ) from error
