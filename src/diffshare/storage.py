"""File input and output: checksummed reads and atomic writes.

Every writer here writes to a temporary file in the destination folder and renames it into place,
so an interrupted job never leaves a half-written output behind.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from diffshare.errors import DataError


def read_verified(path: str | os.PathLike, sha256: str | None) -> bytes:
    """Return the bytes of ``path`` (decompressed when it ends in ``.gz``).

    The SHA-256 is checked on the decompressed bytes, so a file may be shipped compressed and
    still match the checksum published for the original. Raises :class:`DataError` naming the
    file when it is missing or its checksum differs.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise DataError(f"data file {path} is not a valid gzip file: {error}") from error
    if sha256 is not None:
        digest = hashlib.sha256(raw).hexdigest()
        if digest != sha256.lower():
            raise DataError(
                f"data file {path} has SHA-256 {digest}, expected {sha256.lower()}: "
                "the file was altered or replaced; restore the original"
            )
    return raw


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_parquet(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``table`` (with its index) to Parquet atomically."""
    with atomic_path(path) as tmp:
        table.to_parquet(tmp, engine="pyarrow", index=True)


def read_parquet(path: str | os.PathLike) -> pd.DataFrame:
    """Read a Parquet table written by :func:`write_parquet`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"table not found: {path}")
    return pd.read_parquet(path, engine="pyarrow")


def write_csv(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``table`` to CSV atomically, without its index."""
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)


def write_json(data: Any, path: str | os.PathLike) -> None:
    """Write ``data`` as indented JSON atomically. Non-finite floats are refused."""
    text = json.dumps(data, indent=2, sort_keys=False, allow_nan=False)
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n")


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"JSON file not found: {path}")
    return json.loads(path.read_text())


def write_model_config(folder: str | os.PathLike, description: dict[str, Any]) -> None:
    """Write a saved model's ``config.json`` (its format, settings and layout) atomically."""
    with atomic_path(Path(folder) / "config.json") as tmp:
        tmp.write_text(json.dumps(description, indent=2) + "\n")


def read_model_config(
    folder: str | os.PathLike, model_format: str, files: tuple[str, ...], what: str
) -> dict[str, Any]:
    """The ``config.json`` of a model saved in ``folder``; :class:`DataError` if a file of
    ``files`` is missing or the config names another format than ``model_format``."""
    folder = Path(folder)
    for name in ("config.json", *files):
        if not (folder / name).is_file():
            raise DataError(f"saved model {folder} lacks {name}")
    description = json.loads((folder / "config.json").read_text())
    if description.get("format") != model_format:
        raise DataError(f"{folder / 'config.json'} does not describe {what}")
    return description
