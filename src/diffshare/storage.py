"""File input and output: checksummed reads and atomic writes.

Every writer here writes to a temporary file in the destination folder and renames it into place,
so an interrupted job never leaves a half-written output behind. The file gets the permissions the
umask gives a newly created one (``0666 & ~umask``, ``-rw-r--r--`` under umask 022), not the
private ``0600`` of the temporary file, so collaborators on a shared filesystem can read it.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
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


def umask() -> int:
    """The process's umask, read from ``/proc/self/status`` where Linux gives it (nothing to
    race with); elsewhere set and restored once per process (:func:`_umask_by_setting`)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    return _umask_by_setting()


@functools.cache
def _umask_by_setting() -> int:
    # os.umask only reads by writing, so this runs once; a file another thread creates in
    # between is private (umask 077), never open to everyone.
    current = os.umask(0o077)
    os.umask(current)
    return current


def new_file_mode() -> int:
    """The permissions the umask gives a newly created file: ``0o666 & ~umask``."""
    return 0o666 & ~umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds.

    ``path`` gets :func:`new_file_mode` (the temporary file is private until it is renamed).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, new_file_mode())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``path`` for a library that writes a whole folder
    (diffusers' ``save_pretrained``); it replaces ``path`` only if the block succeeds, with the
    umask's permissions on every folder and file in it, whatever the library gave them."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        mask = umask()
        for item in [tmp, *tmp.rglob("*")]:
            os.chmod(item, (0o777 if item.is_dir() else 0o666) & ~mask)
        if path.is_dir():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


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


def json_ready(value: Any) -> Any:
    """``value`` ready for :func:`write_json`, recursively: numpy scalars and arrays as Python
    values and lists, NaN and infinities as None (null)."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


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


def read_json_object(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON object in ``path``; :class:`DataError` naming it when it is missing, not valid
    JSON (a truncated copy) or not an object."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"JSON file not found: {path}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(data, dict):
        raise DataError(f"{path} should hold a JSON object, not {type(data).__name__}")
    return data


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
    description = read_json_object(folder / "config.json")
    if description.get("format") != model_format:
        raise DataError(f"{folder / 'config.json'} does not describe {what}")
    return description
