"""The image track as workflow stages: both attacks of the paper on images.

Stage functions take and return image sets, tables and records; the workflow moves them between
files (``.npz`` image sets, Parquet tables, JSON records, saved models):

- :func:`prepare_images`: a catalogue entry (``image_datasets.<name>``) -> train and test sets
  with the class ``y`` (and the sensitive group ``s`` where the entry names one).
- :func:`image_features`: features for MINE, from CLIP when a weights folder is given, otherwise
  the penultimate layer of a CNN trained on the pool.
- :func:`select_images`: the sharer's (possibly poisoned) subset, as for tables
  (:func:`diffshare.attacks.fpa.selection.select_rows`).
- :func:`train_image_generator`, :func:`load_image_generator`, :func:`sample_images`: the shared
  model (``ddpm`` or ``edm`` diffusion, or the ``sngan`` baseline) and the receiver's samples.
- :func:`receiver_predictions`: the receiver's CNN, trained on samples, predicting the real test
  images (the predictions table of the tabular track, scored with fairlearn).
- :func:`image_sharer_set`, :func:`estimate_image_property`: property inference on images.

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
from sklearn.model_selection import train_test_split

from diffshare.attacks.fpa.mine import mine_terms
from diffshare.attacks.fpa.selection import select_rows
from diffshare.attacks.pia.discriminator import discriminator_record
from diffshare.attacks.pia.estimate import IMAGE_ATTACKS, attack_estimates
from diffshare.attacks.pia.property import Property, ratio_subset
from diffshare.data.images import (
    ImageSet,
    colored_mnist,
    load_afad,
    load_celeba,
    load_mnist_folder,
    read_mnist_csv,
)
from diffshare.data.tabular import resolve_path
from diffshare.errors import ConfigError, DataError
from diffshare.generators.image_diffusion import FORMAT as DIFFUSION_FORMAT
from diffshare.generators.image_diffusion import SAMPLERS, ImageDiffusion, ImageDiffusionConfig
from diffshare.generators.sngan import SNGAN_FORMAT, Sngan
from diffshare.receivers.cnn import CnnClassifier
from diffshare.storage import read_json

log = logging.getLogger(__name__)

SOURCES = ("mnist", "cmnist", "celeba", "afad")
IMAGE_GENERATORS = ("ddpm", "edm", "sngan")
#: Attributes each source provides (CelebA's come from its attribute file).
SOURCE_ATTRIBUTES = {
    "mnist": ("digit", "y"),
    "cmnist": ("digit", "y", "s"),
    "celeba": None,
    "afad": ("age", "male", "young"),
}


# -- data ------------------------------------------------------------------------------------
def _split(images: ImageSet, test_fraction: float, seed: int) -> tuple[ImageSet, ImageSet]:
    if not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"test_fraction must be in (0, 1), got {test_fraction}")
    order = np.random.default_rng(seed).permutation(len(images))
    n_test = int(round(test_fraction * len(images)))
    return images.subset(np.sort(order[n_test:])), images.subset(np.sort(order[:n_test]))


def _limit(images: ImageSet, limit: int | None, seed: int) -> ImageSet:
    if limit is None or limit >= len(images):
        return images
    rows = np.random.default_rng(seed).choice(len(images), size=limit, replace=False)
    return images.subset(np.sort(rows))


def prepare_images(
    name: str, entry: Mapping[str, Any], root: str | Path
) -> tuple[ImageSet, ImageSet, dict[str, Any]]:
    """Train and test image sets of catalogue entry ``name`` and a summary record.

    Both sets carry the entry's ``label`` attribute as ``y`` (classes 0 .. k-1) and, when the
    entry names one, its ``sensitive`` attribute as ``s`` (0/1, 1 = privileged), beside the
    source's own attributes. Relative paths are taken from ``root``.
    """
    source = entry.get("source")
    if source not in SOURCES:
        raise ConfigError(
            f"image_datasets.{name}.source must be one of {list(SOURCES)}, got {source!r}"
        )
    seed = int(entry.get("seed", 0))
    limits = entry.get("max_images") or {}
    folder = entry.get("folder")
    if folder is not None:
        folder = resolve_path(folder, root)
        if not folder.is_dir():
            raise DataError(f"image_datasets.{name}.folder: {folder} is not a folder")
    elif source in ("celeba", "afad"):
        raise ConfigError(
            f"image_datasets.{name}.folder is not set: {source} is read from a local copy of its "
            "official files (nothing is downloaded); point the key to that folder"
        )
    if source in ("mnist", "cmnist"):
        if folder is not None:
            train, test = load_mnist_folder(folder, "train"), load_mnist_folder(folder, "test")
        else:
            bundled = entry["file"]
            digits = read_mnist_csv(resolve_path(bundled["path"], root), bundled.get("sha256"))
            train, test = _split(digits, float(entry.get("test_fraction", 0.2)), seed)
        for images in (train, test):
            images.attributes["y"] = (images.attributes["digit"] >= 5).astype(np.int64)
        if source == "cmnist":
            train, test = colored_mnist(train, seed), colored_mnist(test, seed + 1)
    elif source == "celeba":
        # CelebA's files are in no attribute order: its first images are a fair sample, and
        # reading only those spares decoding 160,000 JPEGs.
        train = load_celeba(folder, "train", limit=limits.get("train"))
        test = load_celeba(folder, "test", limit=limits.get("test"))
    else:
        afad = load_afad(folder, young_below=int(entry.get("young_below", 30)))
        train, test = _split(afad, float(entry.get("test_fraction", 0.2)), seed)
    train, test = _limit(train, limits.get("train"), seed), _limit(test, limits.get("test"), seed)
    for images, split in ((train, "train"), (test, "test")):
        _name_roles(images, entry, f"image_datasets.{name}", split)
    classes = sorted(set(np.unique(train.attributes["y"]).tolist()))
    if classes != list(range(len(classes))) or len(classes) < 2:
        raise DataError(
            f"image_datasets.{name}: label {entry['label']!r} must take the values 0 .. k-1 "
            f"(k >= 2) in the training split, found {classes}"
        )
    summary = {
        "dataset": name,
        "source": source,
        "label": entry["label"],
        "sensitive": entry.get("sensitive"),
        "num_classes": len(classes),
        "channels": int(train.images.shape[-1]),
        "image_size": int(train.images.shape[1]),
        "n_train": len(train),
        "n_test": len(test),
        "attributes": sorted(train.attributes),
        "y_share_train": float(np.mean(train.attributes["y"] == 1)),
    }
    if "s" in train.attributes:
        summary["s_share_train"] = float(np.mean(train.attributes["s"]))
    return train, test, summary


def _name_roles(images: ImageSet, entry: Mapping[str, Any], where: str, split: str) -> None:
    """Add ``y`` (and ``s``) as copies of the entry's label (and sensitive) attributes."""
    for role, key in (("y", "label"), ("s", "sensitive")):
        attribute = entry.get(key)
        if attribute is None:
            continue
        if attribute not in images.attributes:
            raise ConfigError(
                f"{where}.{key}: the {split} images have no attribute {attribute!r} "
                f"(they have {sorted(images.attributes)})"
            )
        images.attributes[role] = np.asarray(images.attributes[attribute], dtype=np.int64)
    if "s" in images.attributes and not set(np.unique(images.attributes["s"])) <= {0, 1}:
        raise DataError(f"{where}.sensitive must be a 0/1 attribute")


def attribute_table(images: ImageSet) -> pd.DataFrame:
    """The attributes of an image set as a table (index: position in the set)."""
    return pd.DataFrame(images.attributes)


# -- features and selection (fairness poisoning) ---------------------------------------------
def image_features(
    train: ImageSet,
    test: ImageSet,
    *,
    clip: str | None = None,
    cnn: Mapping[str, Any] | None = None,
    seed: int = 0,
    device: str = "auto",
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Features of the train (pool) and test images: CLIP image embeddings when ``clip`` names a
    weights folder, otherwise the penultimate layer of a CNN trained on the pool's ``y``."""
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
    width = len(str(features.shape[1] - 1))
    return pd.DataFrame(features, columns=[f"f{j:0{width}d}" for j in range(features.shape[1])])


def image_mine_terms(
    features: np.ndarray, pool: ImageSet, *, seed: int, **mine: Any
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """MINE on standardised pool features and the pool's binary ``y``; per-row terms."""
    _require_fairness_roles(pool)
    if len(features) != len(pool):
        raise DataError(f"{len(features)} feature rows for a pool of {len(pool)} images")
    scale = features.std(axis=0)
    x = (features - features.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
    return mine_terms(
        x.astype(np.float32),
        pool.attributes["y"],
        pool.attributes["s"],
        pd.RangeIndex(len(pool), name="row_id"),
        seed=seed,
        **mine,
    )


def _require_fairness_roles(images: ImageSet) -> None:
    if "s" not in images.attributes:
        raise ConfigError(
            "fairness poisoning needs a sensitive attribute: set `sensitive` in the dataset's "
            "image_datasets entry"
        )
    if not set(np.unique(images.attributes["y"]).tolist()) <= {0, 1}:
        raise DataError("fairness poisoning needs a binary label y (0/1)")


def select_images(
    attack: str, pool: ImageSet, terms: pd.DataFrame, **settings: Any
) -> tuple[ImageSet, pd.DataFrame, dict[str, Any]]:
    """The sharer's subset of the image ``pool`` (``settings``: those of
    :func:`diffshare.attacks.fpa.selection.select_rows`): the subset with its (possibly flipped)
    labels as ``y`` (the original as ``y_original``), a table of chosen ``row_id`` with ``y`` and
    ``flipped``, and the record."""
    _require_fairness_roles(pool)
    selection, record = select_rows(
        attack, pool.attributes["s"], pool.attributes["y"], terms, **settings
    )
    subset = pool.subset(selection.rows)
    subset.attributes["y_original"] = subset.attributes["y"]
    subset.attributes["y"] = selection.labels.astype(np.int64)
    rows = pd.DataFrame(
        {"y": selection.labels, "flipped": selection.labels != subset.attributes["y_original"]},
        index=pd.Index(selection.rows, name="row_id"),
    )
    return subset, rows, record


# -- the shared model --------------------------------------------------------------------------
def train_image_generator(
    family: str,
    images: ImageSet,
    *,
    num_classes: int,
    diffusion: Mapping[str, Any],
    sngan: Mapping[str, Any],
    seed: int,
    device: str = "auto",
    checkpoint_dir: str | None = None,
    checkpoint_every: int = 500,
) -> ImageDiffusion | Sngan:
    """Fit the shared model of ``family`` (``ddpm``, ``edm``: class-conditional diffusion on
    ``y`` with classifier-free guidance; ``sngan``: unconditional GAN) to ``images``."""
    if family not in IMAGE_GENERATORS:
        raise ConfigError(
            f"image generator must be one of {list(IMAGE_GENERATORS)}, got {family!r}"
        )
    if family == "sngan":
        return Sngan(seed=seed, device=device, **sngan).fit(images.images)
    model = ImageDiffusion(
        ImageDiffusionConfig(family=family, **diffusion),
        num_classes=num_classes,
        channels=images.images.shape[-1],
        image_size=images.images.shape[1],
        seed=seed,
        device=device,
        checkpoint_dir=checkpoint_dir,
        checkpoint_every=checkpoint_every,
    )
    return model.fit(images.images, images.attributes["y"])


def load_image_generator(folder: str | Path, device: str = "auto") -> ImageDiffusion | Sngan:
    """A saved image generator of any family, from the format named in its ``config.json``."""
    path = Path(folder) / "config.json"
    kind = read_json(path).get("format")
    if kind == SNGAN_FORMAT:
        return Sngan.load(folder, device=device)
    if kind == DIFFUSION_FORMAT:
        return ImageDiffusion.load(folder, device=device)
    raise DataError(f"{path} describes no image generator (format {kind!r})")


def sample_images(
    model: ImageDiffusion | Sngan,
    n: int,
    *,
    conditional: bool,
    samplers: Mapping[str, Mapping[str, Any]],
    seed: int,
) -> tuple[ImageSet, dict[str, Any]]:
    """``n`` samples: class-conditional with ``y`` balanced over the classes (the fairness
    receiver's query), or unconditional (property inference). A GAN samples unconditionally
    only. ``samplers[family]`` gives the sampler ``name`` and ``steps``."""
    start = time.perf_counter()
    if isinstance(model, Sngan):
        if conditional:
            raise ConfigError(
                "the SNGAN baseline is unconditional; it cannot draw labelled samples"
            )
        images = ImageSet(model.sample(n, seed=seed))
        record: dict[str, Any] = {"family": "sngan"}
    else:
        family = model.config.family
        setting = samplers.get(family)
        if not setting or setting.get("name") not in SAMPLERS[family]:
            raise ConfigError(
                f"image.samplers.{family}.name must be one of {list(SAMPLERS[family])}, got "
                f"{(setting or {}).get('name')!r}"
            )
        name, steps = setting["name"], int(setting["steps"])
        if conditional:
            labels = np.arange(n, dtype=np.int64) % model.num_classes
            labels = np.random.default_rng(seed).permutation(labels)
            pixels = model.sample(n, labels, sampler=name, num_inference_steps=steps, seed=seed)
            images = ImageSet(pixels, {"y": labels})
        else:
            pixels = model.sample(
                n, sampler=name, num_inference_steps=steps, seed=seed, unconditional=True
            )
            images = ImageSet(pixels)
        record = {"family": family, "sampler": name, "steps": steps}
    seconds = time.perf_counter() - start
    record.update(n=int(n), conditional=conditional, seconds=seconds, images_per_second=n / seconds)
    return images, record


def sample_grid(images: ImageSet, path: str | Path, columns: int = 16) -> None:
    """The first ``columns`` x ``columns`` images as one PNG, for people to look at."""
    from PIL import Image

    from diffshare.storage import atomic_path

    shown = images.images[: columns * columns]
    rows = int(np.ceil(len(shown) / columns))
    size, channels = shown.shape[1], shown.shape[-1]
    canvas = np.zeros((rows * size, columns * size, channels), dtype=np.uint8)
    for i, image in enumerate(shown):
        r, c = divmod(i, columns)
        canvas[r * size : (r + 1) * size, c * size : (c + 1) * size] = image
    picture = Image.fromarray(canvas[..., 0] if channels == 1 else canvas)
    with atomic_path(path) as tmp:
        picture.save(tmp, format="PNG")


# -- the receiver (fairness poisoning) ---------------------------------------------------------
def receiver_predictions(
    train: ImageSet, test: ImageSet, *, cnn: Mapping[str, Any], seed: int, device: str = "auto"
) -> pd.DataFrame:
    """Train the receiver's CNN on ``train`` (``y``) and predict the real ``test`` images: the
    predictions table (``y_true, y_pred, y_score, s``) that
    :func:`diffshare.evaluation.fairness.evaluate`
    scores."""
    _require_fairness_roles(test)
    model = CnnClassifier(seed=seed, device=device, **cnn).fit(train.images, train.attributes["y"])
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
def image_sharer_set(
    pool: ImageSet, prop: Property, *, ratio: float, size: int, seed: int
) -> tuple[ImageSet, dict[str, Any]]:
    """The sharer's images at an exact property ratio
    (:func:`diffshare.attacks.pia.property.ratio_subset`)."""
    table = attribute_table(pool)
    chosen = ratio_subset(table, prop, ratio, size, seed)
    subset = pool.subset(chosen.index.to_numpy())
    record = {
        "property": {"column": prop.column, "value": prop.value},
        "ratio": float(ratio),
        "true_ratio": float(prop.indicator(chosen).mean()),
        "size": int(len(subset)),
        "seed": int(seed),
        "n_pool": int(len(pool)),
        "pool_ratio": float(prop.indicator(table).mean()),
    }
    return subset, record


def estimate_image_property(
    samples: ImageSet,
    auxiliary: ImageSet,
    prop: Property,
    *,
    attacks: Sequence[str],
    queries: Sequence[int],
    repeats: int,
    cnn: Mapping[str, Any],
    holdout: float = 0.5,
    clip: str | None = None,
    prompts: Sequence[str] | None = None,
    seed: int = 0,
    device: str = "auto",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every attack's estimates of the property's share in the sharer's images from
    ``samples`` (table of :func:`diffshare.attacks.pia.estimate.attack_estimates`) and a record.

    ``aux``: a discriminator trained on part of the receiver's ``auxiliary`` images (a CNN, or
    logistic regression on CLIP features when ``clip`` names weights); ``aux_corrected``: its
    estimate corrected with the rates measured on the held-out part; ``zero_shot``: CLIP with
    ``prompts`` (the property first, then its absence), no auxiliary data.
    """
    unknown = [a for a in attacks if a not in IMAGE_ATTACKS]
    if unknown:
        raise ConfigError(f"unknown image PIA attacks {unknown}; choose from {list(IMAGE_ATTACKS)}")
    if not 0.0 < holdout < 1.0:
        raise ConfigError(f"the discriminator holdout must be in (0, 1), got {holdout}")
    if "zero_shot" in attacks and not (clip and prompts):
        raise ConfigError(
            "the zero_shot attack needs CLIP weights (image.features.clip) and prompts "
            "(image.pia.prompts.<dataset>)"
        )
    encoder = None
    if clip:
        from diffshare.receivers.clip import ClipEncoder

        encoder = ClipEncoder(clip, device=device)
    indicators: dict[str, np.ndarray] = {}
    record: dict[str, Any] = {"n_samples": int(len(samples))}
    if "aux" in attacks or "aux_corrected" in attacks:
        start = time.perf_counter()
        truth = prop.indicator(attribute_table(auxiliary), "the auxiliary images")
        fit_rows, held_rows = train_test_split(
            np.arange(len(auxiliary)), test_size=holdout, random_state=seed, stratify=truth
        )
        if encoder is not None:
            features = encoder.features(auxiliary.images)
            model = LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed)
            model.fit(features[fit_rows], truth[fit_rows])
            held = model.predict(features[held_rows])
            predicted = model.predict(encoder.features(samples.images))
            kind = "clip+logreg"
        else:
            network = CnnClassifier(balanced=True, seed=seed, device=device, **cnn)
            network.fit(auxiliary.images[fit_rows], truth[fit_rows])
            held = network.predict(auxiliary.images[held_rows])
            predicted = network.predict(samples.images)
            kind = "cnn"
        indicators["aux"] = np.asarray(predicted, dtype=np.int8)
        record["discriminator"] = kind
        record.update(discriminator_record(kind, truth, fit_rows, held_rows, held, start))
    if "zero_shot" in attacks:
        probabilities = encoder.zero_shot(samples.images, list(prompts))
        indicators["zero_shot"] = (probabilities.argmax(axis=1) == 0).astype(np.int8)
        record["prompts"] = list(prompts)
    return attack_estimates(indicators, attacks, queries, repeats, record), record
