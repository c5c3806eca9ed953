"""The user's files, read in one place: tables (CSV or Parquet) and image sets (``.npz`` or a
folder of images), each refused with a :class:`~diffshare.errors.DataError` that names the file
and what is wrong with it (missing, empty, corrupt, unreadable, no rows), never a library's
traceback. Every ``diffshare`` subcommand reads its inputs through :func:`read_table` and
:func:`read_images`, and a binary column (the audit's label and sensitive attribute) through
:func:`binary_columns`.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from diffshare.data.images import ImageSet
from diffshare.errors import DataError

TABLE_SUFFIXES = (".parquet", ".pq", ".csv", ".csv.gz", ".tsv")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
#: The optional file of an image folder that gives each image's attributes.
LABELS_FILE = "labels.csv"


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".csv.gz" if name.endswith(".csv.gz") else path.suffix.lower()


def _existing(path: str | os.PathLike, what: str, folder_allowed: bool = False) -> Path:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{what} {path}: no such file")
    if path.is_dir() and not folder_allowed:
        raise DataError(f"{what} {path} is a folder, not a file")
    if path.is_file() and path.stat().st_size == 0:
        raise DataError(f"{what} {path} is empty (0 bytes)")
    return path


def is_table(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a table by its suffix (``.parquet``, ``.pq``, ``.csv``,
    ``.csv.gz``, ``.tsv``)."""
    return _suffix(Path(path)) in TABLE_SUFFIXES


def read_table(path: str | os.PathLike, what: str = "table") -> pd.DataFrame:
    """A table from a Parquet or CSV file (``what`` names its role in messages: ``samples``,
    ``reference``, ...); :class:`DataError` naming the file when it is missing, empty, of
    another kind, not readable as its suffix says, or without rows."""
    path = _existing(path, what)
    suffix = _suffix(path)
    if suffix not in TABLE_SUFFIXES:
        raise DataError(
            f"{what} {path}: read tables from {', '.join(TABLE_SUFFIXES)} files, not "
            f"{suffix or 'a file without a suffix'!r}"
        )
    try:
        if suffix in (".parquet", ".pq"):
            table = pd.read_parquet(path, engine="pyarrow")
        else:
            separator = "\t" if suffix == ".tsv" else ","
            table = pd.read_csv(path, sep=separator, skipinitialspace=True)
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as error:
        raise DataError(f"{what} {path} is not a readable CSV table: {error}") from error
    except (OSError, ValueError, EOFError, UnicodeDecodeError, zipfile.BadZipFile) as error:
        # pyarrow's ArrowInvalid is a ValueError; a truncated gzip is an EOFError or OSError
        kind = "Parquet file" if suffix in (".parquet", ".pq") else "CSV table"
        raise DataError(f"{what} {path} is not a readable {kind}: {error}") from error
    if table.empty:
        raise DataError(f"{what} {path} holds no rows")
    return table


def read_images(path: str | os.PathLike, what: str = "images") -> ImageSet:
    """An image set from a ``.npz`` file (``images`` uint8 (n, h, w, c) and ``attr_<name>``
    arrays, as :meth:`ImageSet.save` writes) or a folder of image files, read in name order,
    with their attributes from the folder's ``labels.csv`` (a ``file`` column, then one column
    per attribute) when it has one. :class:`DataError` naming the file at fault."""
    path = _existing(path, what, folder_allowed=True)
    if path.is_dir():
        return _read_folder(path, what)
    if _suffix(path) != ".npz":
        raise DataError(
            f"{what} {path}: read images from a .npz file or a folder of images, not "
            f"{_suffix(path) or 'a file without a suffix'!r}"
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            if "images" not in data.files:
                raise DataError(f"{what} {path} holds no 'images' array (it has {data.files})")
            attributes = {k[5:]: data[k] for k in data.files if k.startswith("attr_")}
            images = data["images"]
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise DataError(f"{what} {path} is not a readable .npz image set: {error}") from error
    try:
        images = _as_image_array(images)
        return ImageSet(images, attributes)
    except DataError as error:
        raise DataError(f"{what} {path}: {error}") from error


def _as_image_array(images: np.ndarray) -> np.ndarray:
    """uint8 (n, h, w, c) from uint8 (n, h, w) or (n, h, w, c)."""
    if images.ndim == 3:
        images = images[..., None]
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise DataError(
            f"images must be uint8 (n, height, width, 1 or 3), got {images.dtype} {images.shape}"
        )
    if len(images) == 0:
        raise DataError("the set holds no images")
    return images


def _read_folder(folder: Path, what: str) -> ImageSet:
    from PIL import Image, UnidentifiedImageError

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(
            f"{what} folder {folder} holds no image files ({', '.join(IMAGE_SUFFIXES)})"
        )
    pictures = []
    for file in files:
        try:
            with Image.open(file) as picture:
                picture.load()
                pictures.append(picture.copy())
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
            raise DataError(f"{what} {file} is not a readable image: {error}") from error
    grey = all(p.mode in ("L", "1", "I;16", "I", "F") for p in pictures)
    size = pictures[0].size
    arrays = []
    for file, picture in zip(files, pictures, strict=True):
        if picture.size != size:
            raise DataError(
                f"{what} {file} is {picture.size[0]} x {picture.size[1]}, but {files[0].name} "
                f"is {size[0]} x {size[1]}: every image of a set has one size"
            )
        array = np.asarray(picture.convert("L" if grey else "RGB"), dtype=np.uint8)
        arrays.append(array[..., None] if grey else array)
    images = np.stack(arrays)
    return ImageSet(images, _folder_labels(folder, [f.name for f in files], what))


def _folder_labels(folder: Path, names: list[str], what: str) -> dict[str, np.ndarray]:
    """The attributes of ``labels.csv`` in ``folder``, in the order of ``names``; {} without
    the file."""
    path = folder / LABELS_FILE
    if not path.is_file():
        return {}
    table = read_table(path, f"{what} labels")
    if "file" not in table.columns:
        raise DataError(f"{what} labels {path} needs a 'file' column; it has {list(table.columns)}")
    table = table.assign(file=table["file"].astype(str))
    if table["file"].duplicated().any():
        raise DataError(f"{what} labels {path} lists a file twice")
    missing = sorted(set(names) - set(table["file"]))
    if missing:
        raise DataError(f"{what} labels {path} has no row for the images {missing[:5]}")
    table = table.set_index("file").loc[names]
    attributes = {}
    for column in table.columns:
        values = table[column]
        if values.isna().any():
            raise DataError(f"{what} labels {path}: column {column!r} has missing values")
        attributes[str(column)] = (
            values.to_numpy(dtype=np.int64)
            if pd.api.types.is_integer_dtype(values)
            else values.astype(str).to_numpy()
        )
    return attributes


def binary_columns(
    tables: dict[str, pd.DataFrame], column: str, value: str | None, role: str
) -> dict[str, np.ndarray]:
    """Column ``column`` of each table as 0/1, 1 where it holds ``value``. The column must have at
    most two distinct values over all tables; without ``value`` the larger of the two (sorted as
    text) counts as 1. Raises :class:`DataError` naming the column, the table and the values."""
    for name, table in tables.items():
        if column not in table.columns:
            raise DataError(
                f"{name} has no {role} column {column!r}; its columns are {list(table.columns)}"
            )
        if table[column].isna().any():
            raise DataError(f"{name}: the {role} column {column!r} has missing values")
    texts = {name: table[column].astype(str).str.strip() for name, table in tables.items()}
    values = sorted(set().union(*(set(text.unique()) for text in texts.values())))
    if len(values) > 2:
        shown = values[:10] + (["..."] if len(values) > 10 else [])
        raise DataError(
            f"the {role} column {column!r} must be binary; it holds {len(values)} values: {shown}"
        )
    if value is None:
        value = values[-1]
    elif value not in values:
        raise DataError(f"the {role} column {column!r} never holds {value!r}; values: {values}")
    return {name: (text == value).to_numpy().astype(np.int8) for name, text in texts.items()}
