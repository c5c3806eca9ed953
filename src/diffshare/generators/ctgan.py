"""Non-diffusion baseline generators: CTGAN and TVAE from the maintained ``ctgan`` package
(Xu et al., "Modeling Tabular Data using Conditional GAN", NeurIPS 2019).

:class:`CtganGenerator` gives them the interface of
:class:`~diffshare.generators.tabddpm.TabularDiffusion`: ``fit(table, schema)`` on a prepared
table, ``sample(n, seed=...)`` returning rows with the training table's columns, dtypes and
category sets, ``save(folder)`` and ``load(folder)``.

Storage, without pickle (:mod:`.ctgan_storage`): the network's state is ``network.safetensors``,
the fitted data transformer's arrays (Gaussian mixtures, category frequencies)
``transformer.safetensors``, and the rest of its fitted state JSON in ``config.json``. Loading
constructs the ``ctgan``, ``rdt`` and scikit-learn objects anew and sets their fitted attributes,
so a loaded model draws exactly the rows the saved one drew. Folders in the earlier format
(``model.pt``, ctgan's own pickle) are refused, never read: retrain them.

Checkpoints: CTGAN and TVAE train inside the ``ctgan`` package, whose ``fit`` runs all epochs in
one call with no resumable loop, so a killed run starts again from the beginning;
``checkpoint_dir`` and ``checkpoint_every`` are not taken.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import time
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import torch

from diffshare.data.schema import TableSchema
from diffshare.errors import ConfigError, DataError, DiffshareError
from diffshare.generators.base import BaseGenerator
from diffshare.generators.ctgan_storage import (
    FITTED_FILE,
    NETWORK_FILE,
    load_synthesizer,
    save_synthesizer,
)
from diffshare.generators.formats import CTGAN_FORMAT
from diffshare.generators.table_rows import conform_rows, plain_rows, row_layout
from diffshare.generators.training import resolve_device

log = logging.getLogger(__name__)

KINDS = ("ctgan", "tvae")


@contextlib.contextmanager
def _replaced(*swaps: tuple[Any, str, Any, Any]) -> Iterator[bool]:
    """Within this block, each ``(owner, name, expected, replacement)``: ``owner``'s own
    attribute ``name`` (a module's or a class's) is ``replacement``, restored to ``expected``
    after the block, even on an error; yields ``True``. Where any attribute is not
    ``expected`` (another version of the package), nothing is replaced and it yields
    ``False``. Not thread-safe: one fit at a time per process, as in a workflow job."""
    if any(
        expected is None or vars(owner).get(name) is not expected
        for owner, name, expected, _ in swaps
    ):
        yield False
        return
    for owner, name, _, replacement in swaps:
        setattr(owner, name, replacement)
    try:
        yield True
    finally:
        for owner, name, expected, _ in swaps:
            setattr(owner, name, expected)


@contextlib.contextmanager
def fused_adam() -> Iterator[bool]:
    """Within this block, the ``ctgan`` package's ``fit`` builds its Adam optimizers with
    ``fused=True``; yields whether it could.

    ctgan constructs ``torch.optim.Adam`` inside ``fit`` with torch's default implementation,
    which on a CPU loops over the parameters in Python: about a tenth of a CTGAN step on a CPU,
    at its default sizes. The fused Adam is the same update (the same learning rate, betas and
    weight decay) in one kernel for all parameters, equal up to float rounding. ctgan takes
    no optimizer argument, so the name its modules build the optimizer from (``optim`` in
    ``ctgan.synthesizers.ctgan``, ``Adam`` in ``ctgan.synthesizers.tvae``) is replaced for the
    duration of the block and restored after it, even on an error. Not thread-safe: one fit at
    a time per process, as in a workflow job. A ctgan whose modules name them otherwise is left
    alone (yields ``False``), and trains with the default implementation."""
    from ctgan.synthesizers import ctgan as ctgan_module
    from ctgan.synthesizers import tvae as tvae_module

    fused = functools.partial(torch.optim.Adam, fused=True)
    with _replaced(
        (ctgan_module, "optim", torch.optim, types.SimpleNamespace(Adam=fused)),
        (tvae_module, "Adam", torch.optim.Adam, fused),
    ) as applied:
        yield applied


class _RowBatches(torch.utils.data.Dataset):
    """A ``TensorDataset`` whose items are batches: the rows at a list of indices, fetched by
    one indexing of each tensor."""

    def __init__(self, tensors: tuple[torch.Tensor, ...]):
        self.tensors = tensors

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, index: list[int]) -> list[torch.Tensor]:
        rows = torch.as_tensor(index)
        return [tensor[rows] for tensor in self.tensors]


def _batched_loader(dataset, batch_size=1, shuffle=False, drop_last=False, **options):
    """torch's ``DataLoader(dataset, batch_size, shuffle, drop_last)`` over a
    ``TensorDataset``, drawing the same batches from the same random numbers (torch's own
    samplers and loader), each fetched in one indexing rather than row by row and stacked."""
    from torch.utils.data import (
        BatchSampler,
        DataLoader,
        RandomSampler,
        SequentialSampler,
        TensorDataset,
    )

    if options or not isinstance(dataset, TensorDataset):
        return DataLoader(
            dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, **options
        )
    rows = RandomSampler(dataset) if shuffle else SequentialSampler(dataset)
    batches = BatchSampler(rows, batch_size, drop_last)
    return DataLoader(_RowBatches(dataset.tensors), batch_size=None, sampler=batches)


def _sample_rows(self, data, n, col, opt):
    """``DataSampler.sample_data`` with one draw of numpy's global generator for all rows
    rather than a ``np.random.choice`` per row: the same integers, in the same order, so
    the same rows."""
    if col is None:  # no discrete columns: as the package
        return data[np.random.randint(len(data), size=n)]
    candidates = [self._rid_by_cat_cols[c][o] for c, o in zip(col, opt, strict=True)]
    picks = np.random.randint(0, [len(rows) for rows in candidates])
    return data[[rows[pick] for rows, pick in zip(candidates, picks, strict=True)]]


@contextlib.contextmanager
def batched_rows() -> Iterator[bool]:
    """Within this block, the ``ctgan`` package draws its training batches in one step
    instead of row by row; yields whether it could.

    CTGAN's ``DataSampler.sample_data`` picks each row of a batch by its own
    ``np.random.choice`` (about 2 ms of Python a step, 500 rows), and TVAE's ``DataLoader``
    fetches a batch row by row and stacks it. Here CTGAN's rows come from one
    ``np.random.randint`` over the same candidates (numpy's legacy generator draws the same
    integers either way) and TVAE's batches from torch's own samplers, indexed at once: the
    same rows, the same random numbers consumed, so the same model. Restored after the
    block, even on an error; not thread-safe (one fit at a time per process). A ctgan whose
    modules name these otherwise is left alone (yields ``False``)."""
    from ctgan.data_sampler import DataSampler
    from ctgan.synthesizers import tvae as tvae_module
    from torch.utils.data import DataLoader

    with _replaced(
        (DataSampler, "sample_data", vars(DataSampler).get("sample_data"), _sample_rows),
        (tvae_module, "DataLoader", DataLoader, _batched_loader),
    ) as applied:
        yield applied


def _synthesizer_class(kind: str):
    from ctgan import CTGAN, TVAE

    if kind not in KINDS:
        raise ConfigError(f"unknown ctgan generator {kind!r}; choose one of {list(KINDS)}")
    return CTGAN if kind == "ctgan" else TVAE


class CtganGenerator(BaseGenerator):
    """CTGAN or TVAE (``kind``) with ``params`` passed to its constructor (``epochs``,
    ``batch_size``, ...). The same table, params and seed give the same model on one machine."""

    format = CTGAN_FORMAT
    saved_files = (NETWORK_FILE, FITTED_FILE)
    what = "a ctgan model"

    def __init__(
        self,
        kind: str,
        params: Mapping[str, Any] | None = None,
        *,
        seed: int = 0,
        device: str = "auto",
    ):
        self.kind = kind
        self.params = dict(params or {})
        self.seed = int(seed)
        self.device = resolve_device(device)
        self._class = _synthesizer_class(kind)

    @property
    def family(self) -> str:
        return self.kind

    @classmethod
    def from_settings(
        cls, family: str, settings: Mapping[str, Any], **options: Any
    ) -> CtganGenerator:
        """``settings``: the ``ctgan`` constructor's parameters. Of ``options`` only ``seed`` and
        ``device`` are taken: training has no checkpoints (see the module's docstring)."""
        return cls(family, settings, seed=options["seed"], device=options["device"])

    def _gpu(self) -> bool:
        # ctgan itself falls back to the CPU when CUDA is asked for but missing.
        return self.device.type == "cuda" and torch.cuda.is_available()

    def fit(self, table: pd.DataFrame, schema: TableSchema) -> CtganGenerator:
        """Train on ``table`` (rows of a prepared table described by ``schema``) in one call
        of the ``ctgan`` package, for the ``epochs`` of ``params``."""
        schema.check_table(table, "training table")
        discrete = [*schema.categorical, schema.label]
        self.layout_ = row_layout(table, schema)
        data = plain_rows(table, self.layout_)
        options = {"enable_gpu": self._gpu(), **self.params}
        try:
            self.model_ = self._class(**options)
        except TypeError as error:
            raise ConfigError(f"generator {self.kind!r}: invalid parameter: {error}") from error
        torch.manual_seed(self.seed)
        self.model_.set_random_state(self.seed)
        start = time.perf_counter()
        # ctgan transforms the columns in worker processes (joblib, n_jobs=-1) for tables of
        # 500 rows or more: starting them took seconds of a fit and competed with the jobs
        # beside it for the cores. In this process the transform is the same arithmetic.
        with joblib.parallel_config(backend="sequential"), fused_adam(), batched_rows():
            self.model_.fit(data, discrete_columns=discrete)
        log.info(
            "fitted %s on %d rows in %.1f s", self.kind, len(data), time.perf_counter() - start
        )
        return self

    def sample(self, n: int, *, seed: int = 0) -> pd.DataFrame:
        """Draw ``n`` rows; the same model, ``n`` and ``seed`` give the same rows."""
        self._check_fitted("model_")
        if int(n) < 1:
            raise DiffshareError(f"number of samples must be at least 1, got {n}")
        self.model_.set_random_state(int(seed))
        return conform_rows(self.model_.sample(int(n)), self.layout_, self.kind)

    def save(self, folder: str | os.PathLike) -> None:
        """Write ``config.json``, ``network.safetensors`` and ``transformer.safetensors`` into
        ``folder`` (no pickle; see the module's docstring)."""
        folder = self._folder(folder, "model_")
        fitted = save_synthesizer(self.kind, self.model_, folder)
        self._write_config(
            folder,
            {
                "kind": self.kind,
                "params": self.params,
                "seed": self.seed,
                "layout": self.layout_,
                "synthesizer": fitted,
            },
        )

    @classmethod
    def load(cls, folder: str | os.PathLike, device: str = "auto") -> CtganGenerator:
        """Load a model saved by :meth:`save`, without unpickling anything. :class:`DataError`
        naming the folder for one saved in the earlier, pickled format (``model.pt``)."""
        folder = Path(folder)
        if (folder / "model.pt").is_file() and not (folder / NETWORK_FILE).is_file():
            raise DataError(
                f"saved model {folder} holds model.pt, a ctgan pickle of an earlier diffshare, "
                "which is never loaded: retrain the model"
            )
        description = cls._read_config(folder)
        path = folder / "config.json"
        try:
            kind, layout = description["kind"], description["layout"]
            if description.get("family", kind) != kind or kind not in KINDS:
                raise ValueError(f"family {description.get('family')!r} and kind {kind!r}")
            if not all(key in layout for key in ("columns", "integer", "categories")):
                raise ValueError(f"layout {layout!r}")
            model = cls(kind, description["params"], seed=description["seed"], device=device)
            model.layout_ = layout
            model.model_ = model._class(**{"enable_gpu": model._gpu(), **model.params})
        except KeyError as error:
            raise DataError(f"{path} lacks the key {error.args[0]!r}") from error
        except (TypeError, ValueError, AssertionError) as error:
            raise DataError(f"{path} does not describe a ctgan or tvae model: {error}") from error
        load_synthesizer(model.kind, model.model_, description.get("synthesizer"), folder)
        model.model_.set_device(torch.device("cuda" if model._gpu() else "cpu"))
        return model
