"""The image track's adapter: image sets -> arrays for the attack cores, and back.

The stages shared with the tables have the names and the argument order of
:mod:`diffshare.tracks.tabular`'s (a workflow script picks the module with
:func:`diffshare.tracks.adapter`). They take and return image sets (prepared by
:func:`diffshare.data.image_catalogue.prepare_images`), tables and records; the workflow moves
them between files (``.npz`` image sets, Parquet tables, JSON records, saved models):

- :func:`read_set`, :func:`write_set`: an image set to and from its ``.npz`` file.
- :func:`extract_features`: features for MINE, from CLIP when a weights folder is given,
  otherwise the penultimate layer of a CNN trained on the pool.
- :func:`mine_row_terms`: MINE on the standardised pool features -> row terms.
- :func:`select`: the sharer's (possibly poisoned) subset, as for tables.
- The shared model (``ddpm`` or ``edm`` diffusion, or the ``sngan`` baseline) and the
  receiver's samples come from :mod:`diffshare.generators` (``make_generator``,
  ``load_generator``, ``image_sampling.sample_images``).
- :func:`receiver_predictions`: the receiver's CNN, trained on samples, predicting the real test
  images (the predictions table of the tabular track, scored with fairlearn).
- :func:`sharer_set`, :func:`estimate_property`: property inference on images.

Property inference samples are drawn unconditionally (the null class of classifier-free
guidance, or the unconditional GAN): the receiver asks for "images like the sharer's", so the
samples follow the sharer's distribution, property share included; the receiver never chooses
the class frequencies.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

import diffshare.attacks.pia.estimate as pia
from diffshare.attacks.fpa.mine import mine_terms
from diffshare.attacks.fpa.selection import select_rows
from diffshare.attacks.pia.discriminator import DiscriminatorSettings, PropertyDiscriminator
from diffshare.attacks.pia.property import Property, sharer_rows
from diffshare.data.images import ImageSet
from diffshare.errors import ConfigError, DataError
from diffshare.receivers.cnn import CnnClassifier
from diffshare.tracks.common import terms_array, terms_table

log = logging.getLogger(__name__)

#: The property inference attacks on images.
PIA_ATTACKS = ("aux", "aux_corrected", "zero_shot")
#: The property discriminators: the CNN on the images, logistic regression on CLIP features.
DISCRIMINATORS = ("cnn", "clip_logreg")
#: Each discriminator's parameters unless the settings give others.
DISCRIMINATOR_DEFAULTS: dict[str, dict[str, Any]] = {
    "cnn": {"balanced": True},
    "clip_logreg": {"max_iter": 2000, "class_weight": "balanced"},
}


def read_set(path: str | Path) -> ImageSet:
    """An image set (pool, subset, samples) from its ``.npz`` file."""
    return ImageSet.load(path)


def write_set(data: ImageSet, path: str | Path) -> None:
    """Write an image set to its ``.npz`` file."""
    data.save(path)


# -- features and selection (fairness poisoning) ---------------------------------------------
def extract_features(
    train: ImageSet,
    test: ImageSet,
    *,
    clip: str | None = None,
    cnn: Mapping[str, Any] | None = None,
    seed: int = 0,
    device: str = "auto",
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Features of the train (pool) and test images, float32 (n, d): CLIP image embeddings when
    ``clip`` names a weights folder, otherwise the penultimate layer of a CNN trained on the
    pool's ``y``; and a record of the extractor."""
    start = time.perf_counter()
    if clip:
        from diffshare.receivers.clip import ClipEncoder

        encoder = ClipEncoder(clip, device=device)
        pool, other = encoder.features(train.images), encoder.features(test.images)
        record: dict[str, Any] = {"extractor": "clip", "weights": str(clip)}
    else:
        model = CnnClassifier(seed=seed, device=device, **(cnn or {}))
        model.fit(train.images, train.attributes["y"])
        pool, other = model.features(train.images), model.features(test.images)
        accuracy = float(np.mean(model.predict(test.images) == test.attributes["y"]))
        record = {"extractor": "cnn", "test_accuracy": accuracy, **(cnn or {})}
    record.update(dimensions=int(pool.shape[1]), seconds=time.perf_counter() - start)
    return pool.astype(np.float32), other.astype(np.float32), record


def features_table(features: np.ndarray) -> pd.DataFrame:
    """Features (n, d) as a table with columns ``f0`` ... (zero-padded), for Parquet."""
    width = len(str(features.shape[1] - 1))
    return pd.DataFrame(features, columns=[f"f{j:0{width}d}" for j in range(features.shape[1])])


def _row_ids(images: ImageSet) -> pd.RangeIndex:
    return pd.RangeIndex(len(images), name="row_id")


def mine_row_terms(
    pool: ImageSet, *, features: np.ndarray, seed: int, **mine: Any
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """MINE on the standardised pool ``features`` (n, d) and the pool's binary ``y``: per-row
    T(x, 0) and T(x, 1) (columns ``t0``, ``t1``, index ``row_id``: the position in the pool)
    and a record with the pool's I(X;Y) and I(S;Y) in nats."""
    _require_fairness_roles(pool)
    if len(features) != len(pool):
        raise DataError(f"{len(features)} feature rows for a pool of {len(pool)} images")
    scale = features.std(axis=0)
    x = (features - features.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
    terms, record = mine_terms(
        x.astype(np.float32), pool.attributes["y"], pool.attributes["s"], seed=seed, **mine
    )
    return terms_table(terms, _row_ids(pool)), record


def _require_fairness_roles(images: ImageSet) -> None:
    if "s" not in images.attributes:
        raise ConfigError(
            "fairness poisoning needs a sensitive attribute: set `sensitive` in the dataset's "
            "image_datasets entry"
        )
    if not set(np.unique(images.attributes["y"]).tolist()) <= {0, 1}:
        raise DataError("fairness poisoning needs a binary label y (0/1)")


def select(
    attack: str, pool: ImageSet, terms: pd.DataFrame, **settings: Any
) -> tuple[ImageSet, pd.DataFrame, dict[str, Any]]:
    """The sharer's subset of the image ``pool`` for ``attack`` (``settings``: those of
    :func:`~diffshare.attacks.fpa.selection.select_rows`).

    Returns ``(subset, rows, record)``: the subset with its (possibly flipped) labels as ``y``
    (the original as ``y_original``), a table of the chosen ``row_id`` with ``y`` and
    ``flipped``, and the record of :func:`~diffshare.attacks.fpa.selection.select_rows`.
    """
    _require_fairness_roles(pool)
    selection, record = select_rows(
        attack,
        pool.attributes["s"],
        pool.attributes["y"],
        terms_array(terms, _row_ids(pool)),
        **settings,
    )
    subset = pool.subset(selection.rows)
    subset.attributes["y_original"] = subset.attributes["y"]
    subset.attributes["y"] = selection.labels.astype(np.int64)
    rows = pd.DataFrame(
        {"y": selection.labels, "flipped": selection.labels != subset.attributes["y_original"]},
        index=pd.Index(selection.rows, name="row_id"),
    )
    return subset, rows, record


# -- the receiver (fairness poisoning) ---------------------------------------------------------
def receiver_predictions(
    train: ImageSet,
    test: ImageSet,
    *,
    params: Mapping[str, Any],
    seed: int,
    classifier: str = "cnn",
    device: str = "auto",
) -> pd.DataFrame:
    """Train the receiver's CNN on ``train`` (``y``) and predict the real ``test`` images: the
    predictions table (``y_true, y_pred, y_score, s``) that
    :func:`diffshare.evaluation.fairness.evaluate` scores. ``params``: those of
    :class:`~diffshare.receivers.cnn.CnnClassifier`."""
    if classifier != "cnn":
        raise ConfigError(f"the image receiver's classifier is 'cnn', got {classifier!r}")
    _require_fairness_roles(test)
    model = CnnClassifier(seed=seed, device=device, **params)
    model.fit(train.images, train.attributes["y"])
    proba = model.predict_proba(test.images)
    positive = int(np.searchsorted(model.classes_, 1))
    score = proba[:, positive] if positive < len(model.classes_) else np.zeros(len(test))
    return pd.DataFrame(
        {
            "y_true": test.attributes["y"].astype(np.int64),
            "y_pred": model.predict(test.images).astype(np.int64),
            "y_score": score.astype(np.float64),
            "s": test.attributes["s"].astype(np.int64),
        }
    )


# -- property inference -------------------------------------------------------------------------
def attribute_table(images: ImageSet) -> pd.DataFrame:
    """The attributes of an image set as a table (index: position in the set)."""
    return pd.DataFrame(images.attributes)


def sharer_set(
    pool: ImageSet, prop: Property, *, ratio: float, size: int, seed: int
) -> tuple[ImageSet, dict[str, Any]]:
    """The sharer's images at an exact property ratio
    (:func:`~diffshare.attacks.pia.property.sharer_rows`) and a record with the realised ratio."""
    rows, record = sharer_rows(attribute_table(pool), prop, ratio=ratio, size=size, seed=seed)
    return pool.subset(rows), record


def estimate_property(
    samples: ImageSet,
    auxiliary: ImageSet,
    prop: Property,
    *,
    attacks: Sequence[str],
    queries: Sequence[int],
    repeats: int,
    discriminator: Mapping[str, Any],
    clip: str | None = None,
    prompts: Sequence[str] | None = None,
    seed: int = 0,
    device: str = "auto",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every attack's estimates of the property's share in the sharer's images from ``samples``
    (:func:`diffshare.attacks.pia.estimate.estimate_property`: its table and record).

    ``aux`` and ``aux_corrected`` train the ``discriminator`` (``{classifier: cnn |
    clip_logreg, params, holdout}``: the CNN on the images, or logistic regression on the CLIP
    features of the ``clip`` weights) on the receiver's ``auxiliary`` images; ``zero_shot``
    asks CLIP with ``prompts`` (the property first, then its absence), no auxiliary data.
    """
    settings = DiscriminatorSettings.from_config(
        discriminator, DISCRIMINATORS, "image.pia.discriminator"
    )
    needs_discriminator = pia.check_attacks(attacks, PIA_ATTACKS, "image")
    if "zero_shot" in attacks and not (clip and prompts):
        raise ConfigError(
            "the zero_shot attack needs CLIP weights (image.features.clip) and prompts "
            "(image.pia.prompts.<dataset>)"
        )
    clip_discriminator = needs_discriminator and settings.classifier == "clip_logreg"
    if clip_discriminator and not clip:
        raise ConfigError("the clip_logreg discriminator needs CLIP weights (image.features.clip)")
    encoder = None
    if clip_discriminator or "zero_shot" in attacks:
        from diffshare.receivers.clip import ClipEncoder

        encoder = ClipEncoder(clip, device=device)
    indicators, record = {}, {}
    if "zero_shot" in attacks:
        probabilities = encoder.zero_shot(samples.images, list(prompts))
        indicators["zero_shot"] = (probabilities.argmax(axis=1) == 0).astype(np.int8)
        record["prompts"] = list(prompts)
    property_discriminator = None
    if needs_discriminator:
        property_discriminator = _discriminator(
            settings, auxiliary, samples, prop, encoder, seed=seed, device=device
        )
    estimates, core_record = pia.estimate_property(
        len(samples), attacks, queries, repeats, indicators, property_discriminator, seed=seed
    )
    return estimates, {**core_record, **record}


def _discriminator(
    settings: DiscriminatorSettings,
    auxiliary: ImageSet,
    samples: ImageSet,
    prop: Property,
    encoder: Any,
    *,
    seed: int,
    device: str,
) -> PropertyDiscriminator:
    """The unfitted discriminator of ``settings`` with its inputs: the CNN reads the images,
    logistic regression the CLIP features of ``encoder``."""
    params = {**DISCRIMINATOR_DEFAULTS[settings.classifier], **settings.params}
    clip_features = settings.classifier == "clip_logreg"
    try:
        if clip_features:
            model = LogisticRegression(random_state=seed, **params)
        else:
            model = CnnClassifier(seed=seed, device=device, **params)
    except TypeError as error:
        raise ConfigError(
            f"image.pia.discriminator.params: invalid parameter of {settings.classifier}: {error}"
        ) from error
    truth = prop.indicator(attribute_table(auxiliary), "the auxiliary images")
    if clip_features:
        return PropertyDiscriminator(
            model,
            settings,
            encoder.features(auxiliary.images),
            truth,
            encoder.features(samples.images),
        )
    return PropertyDiscriminator(model, settings, auxiliary.images, truth, samples.images)
