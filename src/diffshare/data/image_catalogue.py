"""Prepared image sets from an entry of the image catalogue (``image_datasets`` in
``config/datasets.yaml``): :func:`prepare_images` reads the entry's source with the loaders of
:mod:`diffshare.data.images`, splits and limits it, and names each image's roles: the class ``y``
and, where the entry names one, the sensitive group ``s``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

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

SOURCES = ("mnist", "cmnist", "celeba", "afad")
#: Attributes each source provides (CelebA's come from its attribute file).
SOURCE_ATTRIBUTES = {
    "mnist": ("digit", "y"),
    "cmnist": ("digit", "y", "s"),
    "celeba": None,
    "afad": ("age", "male", "young"),
}


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
