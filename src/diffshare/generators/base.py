"""The interface every shared-model family follows, and what their saved folders share.

After CTGAN's ``BaseSynthesizer`` and diffusers' ``ConfigMixin``: a generator takes its settings
in ``__init__``, learns in ``fit``, draws with ``sample(n, seed=...)`` and is saved with
``save(folder)`` as a folder whose ``config.json`` names its ``format`` (the class that reads it)
and its ``family``, beside the weights; ``load(folder, device)`` reads it back.
"""

from __future__ import annotations

import contextlib
import os
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from diffshare.errors import DataError, DiffshareError
from diffshare.generators.training import remove_checkpoint
from diffshare.storage import atomic_path, read_model_config, write_model_config


class BaseGenerator(ABC):
    """A shared model of one family: ``fit`` on the sharer's data, ``sample(n, seed=...)``,
    ``save(folder)``, ``load(folder, device)``.

    Subclasses name their saved ``format`` (:mod:`.formats`), the files a saved folder holds
    beside ``config.json`` (``saved_files``) and what they are, for messages (``what``).
    Families with a training loop take ``checkpoint_dir`` and ``checkpoint_every`` and resume a
    killed run through :class:`~diffshare.generators.training.TrainingCheckpoint`.
    """

    format: ClassVar[str]
    saved_files: ClassVar[tuple[str, ...]]
    what: ClassVar[str]
    checkpoint_dir: Path | None = None

    @property
    @abstractmethod
    def family(self) -> str:
        """The family's name (``tabddpm``, ``ctgan``, ``tvae``, ``ddpm``, ``edm``, ``sngan``)."""

    @classmethod
    @abstractmethod
    def from_settings(
        cls, family: str, settings: Mapping[str, Any], **options: Any
    ) -> BaseGenerator:
        """An unfitted model of ``family`` from its config section ``settings``. ``options``:
        ``seed``, ``device``, ``checkpoint_dir``, ``checkpoint_every``, and what the model must
        know before it sees data (image diffusion: ``num_classes``, ``channels``,
        ``image_size``)."""

    @abstractmethod
    def fit(self, *data: Any) -> BaseGenerator:
        """Train on the sharer's data (a table and its schema, or images and their labels)."""

    @abstractmethod
    def sample(self, n: int, *args: Any, seed: int = 0, **kwargs: Any) -> Any:
        """``n`` samples; the same model, arguments and ``seed`` give the same samples."""

    @abstractmethod
    def save(self, folder: str | os.PathLike) -> None:
        """Write the fitted model into ``folder`` (``config.json`` and ``saved_files``)."""

    @classmethod
    @abstractmethod
    def load(cls, folder: str | os.PathLike, device: str = "auto") -> BaseGenerator:
        """The model saved in ``folder`` by :meth:`save`, on ``device``."""

    def remove_checkpoint(self) -> None:
        """Delete the training checkpoint, if any (call once the finished model is saved)."""
        remove_checkpoint(self.checkpoint_dir)

    def _check_fitted(self, attribute: str) -> None:
        if not hasattr(self, attribute):
            raise DiffshareError(
                f"the {self.family} model is not fitted; call fit() or load() first"
            )

    def _folder(self, folder: str | os.PathLike, fitted: str) -> Path:
        """``folder``, created, to save into once attribute ``fitted`` shows the model fitted."""
        self._check_fitted(fitted)
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _write_config(self, folder: Path, description: Mapping[str, Any]) -> None:
        """``config.json``: the format and family, then ``description``."""
        write_model_config(folder, {"format": self.format, "family": self.family, **description})

    @classmethod
    def _read_config(cls, folder: str | os.PathLike) -> dict[str, Any]:
        """The ``config.json`` of a folder saved by this class; :class:`DataError` naming the
        folder when a file is missing or the format is another."""
        return read_model_config(folder, cls.format, cls.saved_files, cls.what)

    @classmethod
    @contextlib.contextmanager
    def _described(cls, folder: Path) -> Iterator[dict[str, Any]]:
        """Yield the ``config.json`` of ``folder`` (:meth:`_read_config`) to build the model
        from; a key it lacks or a value the model refuses is :class:`DataError` naming it."""
        description = cls._read_config(folder)
        with reading(folder / "config.json", f"does not describe {cls.what}"):
            yield description


def save_weights(module: nn.Module, path: Path) -> None:
    """``module``'s state (weights and buffers) as safetensors at ``path``, atomically."""
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp))


#: What libraries raise on a damaged file or a config that does not fit the model: a truncated
#: safetensors or zip file, JSON that lacks a key or holds a wrong value, weights whose shapes
#: differ from the model their config describes.
DAMAGED_FILE_ERRORS = (
    SafetensorError,
    zipfile.BadZipFile,
    OSError,
    EOFError,
    KeyError,
    TypeError,
    ValueError,
    RuntimeError,
)


@contextlib.contextmanager
def reading(path: Path, what: str) -> Iterator[None]:
    """Turn a library's error on a damaged saved file into :class:`DataError` naming ``path``,
    ``what`` is wrong with it, and the library's own message."""
    try:
        yield
    except DataError:
        raise
    except DAMAGED_FILE_ERRORS as error:
        detail = f"lacks the key {error.args[0]!r}" if isinstance(error, KeyError) else error
        raise DataError(f"{path} {what}: {detail}") from error


_DAMAGED_WEIGHTS = "is truncated or damaged (not a complete safetensors file)"


def check_weights(path: Path) -> None:
    """:class:`DataError` naming ``path`` unless its safetensors header is whole and covers the
    file (a truncated copy fails), for loaders that read the file themselves."""
    with reading(path, _DAMAGED_WEIGHTS), safe_open(str(path), "pt"):
        pass


def load_weights(module: nn.Module, path: Path, device: str | torch.device = "cpu") -> None:
    """Load the safetensors file ``path`` into ``module``; :class:`DataError` naming the file
    when it is truncated or damaged, or holds weights of another shape than ``module``'s."""
    with reading(path, _DAMAGED_WEIGHTS):
        state = load_file(str(path), device=str(device))
    with reading(path, "holds weights that do not fit the model config.json describes"):
        module.load_state_dict(state)
