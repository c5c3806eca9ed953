"""Image datasets for the image track: MNIST, Colored MNIST, CelebA and AFAD, as 32x32 arrays.

Every loader returns an :class:`ImageSet`: ``images`` as uint8 ``(n, 32, 32, channels)`` (1 for
grey digits, 3 for colour) and named integer ``attributes`` per image (``digit``; ``y`` and
``s`` for the fairness datasets; the face attributes). Image sets are stored as ``.npz`` files
(:meth:`ImageSet.save`, :meth:`ImageSet.load`): plain arrays, read without unpickling.

Sources, all local (nothing is downloaded):

- ``mnist``: the 5,000 bundled digits (``resources/data/mnist/mnist_5k.csv.gz``: 784 pixel
  columns then the label), or a full MNIST from a folder holding the four standard IDX files
  (``train-images-idx3-ubyte`` ... , optionally ``.gz``): :func:`read_idx`.
- ``cmnist``: Colored MNIST built from ``mnist`` (:func:`colored_mnist`): y = digit >= 5, s = the
  colour (1 red, 0 green), drawn independently of y.
- ``celeba``: the official layout (``img_align_celeba/``, ``list_attr_celeba.txt``,
  ``list_eval_partition.txt``): :func:`load_celeba`.
- ``afad``: ``<age>/<111|112>/*.jpg`` (111 male, 112 female): :func:`load_afad`.
"""

from __future__ import annotations

import gzip
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from diffshare.errors import ConfigError, DataError
from diffshare.storage import atomic_path, read_verified

IMAGE_SIZE = 32

#: Standard IDX file names of MNIST, per split: (images, labels).
MNIST_IDX = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass
class ImageSet:
    """uint8 images ``(n, height, width, channels)`` and integer attributes of length n."""

    images: np.ndarray
    attributes: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.images.dtype != np.uint8 or self.images.ndim != 4:
            raise DataError(
                f"images must be uint8 (n, height, width, channels), got {self.images.dtype} "
                f"{self.images.shape}"
            )
        for name, values in self.attributes.items():
            if len(values) != len(self.images):
                raise DataError(
                    f"attribute {name!r} has {len(values)} values for {len(self.images)} images"
                )

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, rows: np.ndarray) -> ImageSet:
        return ImageSet(self.images[rows], {k: v[rows] for k, v in self.attributes.items()})

    def save(self, path: str | os.PathLike) -> None:
        """Write ``images`` and every attribute (as ``attr_<name>``) to ``.npz`` atomically."""
        arrays = {"images": self.images, **{f"attr_{k}": v for k, v in self.attributes.items()}}
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> ImageSet:
        path = Path(path)
        if not path.is_file():
            raise DataError(f"image set not found: {path}")
        with np.load(path, allow_pickle=False) as data:
            attributes = {k[5:]: data[k] for k in data.files if k.startswith("attr_")}
            return cls(data["images"], attributes)


def resize(images: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """Every image of uint8 ``(n, h, w)`` or ``(n, h, w, c)`` resized to ``size`` x ``size``
    (bilinear, Pillow); returns ``(n, size, size, c)``."""
    if images.ndim == 3:
        images = images[..., None]
    out = np.empty((len(images), size, size, images.shape[-1]), dtype=np.uint8)
    for i, image in enumerate(images):
        picture = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
        resized = np.asarray(picture.resize((size, size), Image.Resampling.BILINEAR))
        out[i] = resized.reshape(size, size, -1)
    return out


def read_mnist_csv(path: str | os.PathLike, sha256: str | None = None) -> ImageSet:
    """Digits from a CSV of 784 pixel columns (0-255, row-major 28 x 28) then the label."""
    text = read_verified(path, sha256)
    try:
        table = np.loadtxt(io.BytesIO(text), delimiter=",", dtype=np.int64, ndmin=2)
    except ValueError as error:
        raise DataError(f"{path}: not a CSV of integers: {error}") from None
    if table.shape[1] != 785:
        raise DataError(f"{path}: expected 785 columns (784 pixels + label), got {table.shape[1]}")
    pixels, digits = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255 or digits.min() < 0 or digits.max() > 9:
        raise DataError(f"{path}: pixels must be 0-255 and labels 0-9")
    return ImageSet(resize(pixels.reshape(-1, 28, 28).astype(np.uint8)), {"digit": digits})


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """An IDX file (MNIST's format; ``.gz`` allowed) as a numpy array of unsigned bytes."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"IDX file not found: {path}")
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte IDX file (magic {data[:4].hex()})")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise DataError(f"{path}: header says {shape} but holds {body.size} values")
    return body.reshape(shape)


def load_mnist_folder(folder: str | os.PathLike, split: str) -> ImageSet:
    """A split of a full MNIST from ``folder`` in its standard IDX files (``.gz`` or not)."""
    if split not in MNIST_IDX:
        raise ConfigError(f"MNIST split must be 'train' or 'test', got {split!r}")
    folder = Path(folder)

    def find(name: str) -> Path:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
        raise DataError(f"MNIST folder {folder} lacks {name} (or {name}.gz)")

    images_file, labels_file = MNIST_IDX[split]
    images, digits = read_idx(find(images_file)), read_idx(find(labels_file))
    if images.ndim != 3 or len(images) != len(digits):
        raise DataError(f"{folder}: {len(images)} images but {len(digits)} labels")
    return ImageSet(resize(images), {"digit": digits.astype(np.int64)})


def colored_mnist(digits: ImageSet, seed: int) -> ImageSet:
    """Colored MNIST: each grey digit tinted red (s = 1) or green (s = 0) with probability 1/2,
    independently of its label y = digit >= 5."""
    if digits.images.shape[-1] != 1:
        raise DataError("colored_mnist needs grey digits (one channel)")
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 2, size=len(digits))
    grey = digits.images[..., 0]
    colour = np.zeros((*grey.shape, 3), dtype=np.uint8)
    colour[s == 1, :, :, 0] = grey[s == 1]
    colour[s == 0, :, :, 1] = grey[s == 0]
    y = (digits.attributes["digit"] >= 5).astype(np.int64)
    return ImageSet(colour, {"digit": digits.attributes["digit"], "y": y, "s": s.astype(np.int64)})


def _read_picture(path: Path, size: int) -> np.ndarray:
    """An RGB image centre-cropped to a square and resized to ``size`` x ``size``."""
    try:
        with Image.open(path) as picture:
            picture = picture.convert("RGB")
            width, height = picture.size
            side = min(width, height)
            left, top = (width - side) // 2, (height - side) // 2
            picture = picture.crop((left, top, left + side, top + side))
            return np.asarray(picture.resize((size, size), Image.Resampling.BILINEAR))
    except OSError as error:
        raise DataError(f"cannot read image {path}: {error}") from None


def load_celeba(
    folder: str | os.PathLike, split: str, limit: int | None = None, size: int = IMAGE_SIZE
) -> ImageSet:
    """CelebA from its official files; attributes as 0/1 (``Male``, ``Smiling``, ...).
    ``split``: train, valid or test (list_eval_partition.txt's 0, 1, 2); ``limit`` keeps the
    first rows of the split."""
    codes = {"train": "0", "valid": "1", "test": "2"}
    if split not in codes:
        raise ConfigError(f"CelebA split must be one of {list(codes)}, got {split!r}")
    folder = Path(folder)
    attr_file, part_file = folder / "list_attr_celeba.txt", folder / "list_eval_partition.txt"
    for path in (attr_file, part_file, folder / "img_align_celeba"):
        if not path.exists():
            raise DataError(f"CelebA folder {folder} lacks {path.name}")
    lines = attr_file.read_text().split("\n")
    names = lines[1].split()
    partition = dict(line.split() for line in part_file.read_text().split("\n") if line.strip())
    files, rows = [], []
    for number, line in enumerate(lines[2:], start=3):
        parts = line.split()
        if not parts or partition.get(parts[0]) != codes[split]:
            continue
        if len(parts) != len(names) + 1 or set(parts[1:]) - {"1", "-1"}:
            raise DataError(f"{attr_file}:{number}: expected a file name and {len(names)} +-1s")
        files.append(parts[0])
        rows.append([int(v) for v in parts[1:]])
        if limit is not None and len(files) == limit:
            break
    if not files:
        raise DataError(f"CelebA folder {folder} has no images in split {split!r}")
    images = np.stack([_read_picture(folder / "img_align_celeba" / f, size) for f in files])
    values = (np.asarray(rows) > 0).astype(np.int64)
    return ImageSet(images, {name: values[:, j] for j, name in enumerate(names)})


def load_afad(
    folder: str | os.PathLike,
    young_below: int = 30,
    limit: int | None = None,
    size: int = IMAGE_SIZE,
) -> ImageSet:
    """AFAD from ``<age>/<111|112>/*.jpg``; attributes ``age``, ``male`` (111) and ``young``
    (age below ``young_below``). Files are read in sorted order; ``limit`` keeps the first."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"AFAD folder not found: {folder}")
    files, ages, male = [], [], []
    for age_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        if not age_dir.name.isdigit():
            raise DataError(f"AFAD folder {folder}: {age_dir.name!r} is not an age")
        for gender in sorted(p for p in age_dir.iterdir() if p.is_dir()):
            if gender.name not in ("111", "112"):
                raise DataError(f"AFAD folder {age_dir}: {gender.name!r} is not 111 or 112")
            for path in sorted(gender.glob("*.jpg")):
                files.append(path)
                ages.append(int(age_dir.name))
                male.append(int(gender.name == "111"))
    if limit is not None:
        files, ages, male = files[:limit], ages[:limit], male[:limit]
    if not files:
        raise DataError(f"AFAD folder {folder} holds no <age>/<111|112>/*.jpg images")
    ages_array = np.asarray(ages, dtype=np.int64)
    return ImageSet(
        np.stack([_read_picture(p, size) for p in files]),
        {
            "age": ages_array,
            "male": np.asarray(male, dtype=np.int64),
            "young": (ages_array < young_below).astype(np.int64),
        },
    )
