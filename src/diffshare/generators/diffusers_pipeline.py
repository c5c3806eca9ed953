"""A diffusers pipeline folder as a *received* image model: the receiver samples it offline.

A sharer may hand over a pipeline saved with ``pipeline.save_pretrained(folder)`` instead of a
diffshare model: ``model_index.json`` naming the pipeline class and its parts, one subfolder per
part (``unet/config.json``, ``unet/diffusion_pytorch_model.safetensors``,
``scheduler/scheduler_config.json``, ...). :func:`load_pipeline` loads it with
``DiffusionPipeline.from_pretrained(folder, use_safetensors=True, local_files_only=True)``:
nothing is downloaded and nothing is unpickled. Weights stored only as ``.bin`` (or another
pickle) are refused before diffusers sees them, as is any part from a library other than
diffusers or transformers, and any pipeline class diffusers does not ship (custom code).

Two kinds of pipeline can be sampled (:meth:`ReceivedPipeline.sample`):

- unconditional ones, whose ``__call__`` takes ``batch_size`` (``DDPMPipeline``,
  ``DDIMPipeline``, ``PNDMPipeline``, ...);
- class-conditional ones, whose ``__call__`` takes ``class_labels`` (``DiTPipeline``,
  ``ConsistencyModelPipeline`` with a class-conditional UNet); the labels drawn come back in
  ``attributes["class"]``.

A pipeline whose UNet embeds class labels but whose ``__call__`` passes none (a
``DDPMPipeline`` around a UNet with ``num_class_embeds``) cannot be sampled and is refused at
load, as are text-to-image pipelines (they need a prompt).
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diffshare.data.images import ImageSet
from diffshare.errors import ConfigError, DataError
from diffshare.tensors import resolve_device

log = logging.getLogger(__name__)

#: Weight files that torch reads with pickle: refused, as loading them could run code.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
#: Libraries a pipeline part may come from (``model_index.json``: ``"unet": [library, class]``).
PART_LIBRARIES = ("diffusers", "transformers")
#: Arguments of the pipeline's ``__call__`` that :meth:`ReceivedPipeline.sample` relies on.
REQUIRED_ARGUMENTS = ("generator", "output_type")


@dataclass
class ReceivedPipeline:
    """A diffusers pipeline folder loaded for sampling (by :func:`load_pipeline`).

    ``pipeline_class`` is the class ``model_index.json`` names (``"DDPMPipeline"``);
    ``conditional`` says whether its ``__call__`` takes class labels; ``num_classes`` is the
    number of classes its network embeds (the UNet's ``num_class_embeds``, a DiT transformer's
    ``num_embeds_ada_norm``, else the pipeline's ``id2label``), ``None`` where unknown or
    unconditional. ``pipeline`` is the loaded ``diffusers.DiffusionPipeline`` on ``device``.
    """

    folder: Path
    pipeline_class: str
    conditional: bool
    num_classes: int | None
    device: torch.device
    pipeline: Any = field(repr=False)

    def sample(
        self,
        n: int,
        *,
        seed: int = 0,
        labels: np.ndarray | None = None,
        num_inference_steps: int | None = None,
        batch_size: int = 256,
        progress: Callable[[int, int], None] | None = None,
    ) -> ImageSet:
        """``n`` images as uint8 ``(n, height, width, channels)`` (1 channel for grey, 3 for RGB).

        Draws are deterministic: the same folder, ``n``, ``seed`` and ``batch_size`` give the
        same images (one ``torch.Generator`` on the pipeline's device, seeded once with
        ``seed``, serves every batch; torch's global generator is seeded too, inside a forked
        state, for the schedulers that draw from it). A conditional pipeline draws the classes
        ``labels`` (integers of shape ``(n,)``; default: balanced, ``arange(n) % num_classes``)
        and returns them in ``attributes["class"]``; an unconditional one takes no labels.
        ``num_inference_steps`` defaults to the pipeline's own default, capped at its
        scheduler's ``num_train_timesteps``. ``progress(done, n)`` is called after each batch of
        at most ``batch_size`` images.
        """
        n, batch_size, seed = _count("n", n), _count("batch_size", batch_size), _seed(seed)
        arguments = inspect.signature(self.pipeline.__call__).parameters
        labels = self._labels(n, labels)
        steps = self._steps(num_inference_steps, arguments)
        start = time.perf_counter()
        batches = []
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            generator = torch.Generator(self.device).manual_seed(seed)
            for begin in range(0, n, batch_size):
                size = min(batch_size, n - begin)
                call: dict[str, Any] = {"generator": generator, "output_type": "np"}
                if "batch_size" in arguments:
                    call["batch_size"] = size
                if labels is not None:
                    call["class_labels"] = [int(label) for label in labels[begin : begin + size]]
                if steps is not None:
                    call["num_inference_steps"] = steps
                try:
                    output = self.pipeline(**call)
                except ValueError as error:  # diffusers' own argument checks
                    raise ConfigError(
                        f"the {self.pipeline_class} in {str(self.folder)!r} refused to sample "
                        f"with num_inference_steps={steps}: {error}"
                    ) from error
                batches.append(self._pixels(output, size))
                if progress is not None:
                    progress(begin + size, n)
        images = np.concatenate(batches)
        log.info(
            "sampled %d images %s from the %s in %s on %s in %.1f s",
            n,
            images.shape[1:],
            self.pipeline_class,
            self.folder,
            self.device,
            time.perf_counter() - start,
        )
        return ImageSet(images, {} if labels is None else {"class": labels})

    def _labels(self, n: int, labels: np.ndarray | None) -> np.ndarray | None:
        """The classes to draw, int64 ``(n,)``, or None for an unconditional pipeline."""
        if not self.conditional:
            if labels is not None:
                raise ConfigError(
                    f"the {self.pipeline_class} in {str(self.folder)!r} is unconditional: it "
                    "draws no class labels, so labels must be None"
                )
            return None
        if labels is None:
            if self.num_classes is None:
                raise ConfigError(
                    f"the {self.pipeline_class} in {str(self.folder)!r} does not say how many "
                    "classes it draws: pass labels"
                )
            return np.arange(n, dtype=np.int64) % self.num_classes
        labels = np.asarray(labels)
        if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
            raise ConfigError(
                f"labels must be integers of shape ({n},), got {labels.dtype} {labels.shape}"
            )
        high = self.num_classes
        if labels.min() < 0 or (high is not None and labels.max() >= high):
            raise ConfigError(
                f"labels must lie in [0, {high}) for the {self.pipeline_class} in "
                f"{str(self.folder)!r}, got values from {labels.min()} to {labels.max()}"
            )
        return labels.astype(np.int64)

    def _steps(self, steps: int | None, arguments: Any) -> int | None:
        """The ``num_inference_steps`` to pass, or None to pass nothing."""
        if "num_inference_steps" not in arguments:
            if steps is not None:
                raise ConfigError(
                    f"the {self.pipeline_class} in {str(self.folder)!r} takes no "
                    f"num_inference_steps, got {steps}"
                )
            return None
        if steps is not None:
            return _count("num_inference_steps", steps)
        # DDPMPipeline defaults to 1,000 steps, which a scheduler trained on fewer refuses.
        default = arguments["num_inference_steps"].default
        config = getattr(getattr(self.pipeline, "scheduler", None), "config", None)
        trained = config.get("num_train_timesteps") if isinstance(config, dict) else None
        if isinstance(default, int) and isinstance(trained, int) and default > trained:
            return trained
        return None

    def _pixels(self, output: Any, size: int) -> np.ndarray:
        """The pipeline's float images in [0, 1] as uint8 ``(size, height, width, channels)``."""
        images = output.images if hasattr(output, "images") else output[0]
        if isinstance(images, torch.Tensor):
            images = images.float().cpu().numpy()
        images = np.asarray(images, dtype=np.float32)
        if images.ndim == 3:  # grey images without their channel axis
            images = images[..., None]
        if images.ndim != 4 or len(images) != size or images.shape[-1] not in (1, 3):
            raise DataError(
                f"the {self.pipeline_class} in {str(self.folder)!r} returned images of shape "
                f"{images.shape}, not ({size}, height, width, 1 or 3)"
            )
        if not np.isfinite(images).all():
            raise DataError(
                f"the {self.pipeline_class} in {str(self.folder)!r} produced non-finite pixel "
                "values: its weights are broken"
            )
        return np.round(np.clip(images, 0.0, 1.0) * 255).astype(np.uint8)


def load_pipeline(folder: str | os.PathLike, *, device: str = "auto") -> ReceivedPipeline:
    """Load the diffusers pipeline that ``save_pretrained`` wrote in ``folder``, for sampling.

    Local files only, safetensors weights only. ``device`` is ``"auto"`` (CUDA when available),
    ``"cpu"``, ``"cuda"`` or ``"cuda:N"``. Raises :class:`DataError` naming the folder when it
    is missing, lacks a readable ``model_index.json``, holds weights only as pickles, names a
    pipeline diffshare cannot sample, or when diffusers fails to load it (with its message).
    """
    folder = Path(folder)
    torch_device = resolve_device(device)
    if torch_device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asks for CUDA, which this machine lacks")
    index = _read_index(folder)
    pipeline_type = _pipeline_type(folder, index)
    arguments = inspect.signature(pipeline_type.__call__).parameters
    _check_arguments(folder, pipeline_type.__name__, arguments)
    _check_weights(folder, index)

    import diffusers
    from diffusers.utils import is_accelerate_available
    from diffusers.utils import logging as diffusers_logging

    start = time.perf_counter()
    bars = diffusers_logging.is_progress_bar_enabled()
    diffusers_logging.disable_progress_bar()
    try:
        pipeline = diffusers.DiffusionPipeline.from_pretrained(
            folder,
            use_safetensors=True,
            local_files_only=True,
            low_cpu_mem_usage=is_accelerate_available(),
        )
    except Exception as error:  # any failure of the library is a fault of the folder
        raise DataError(
            f"diffusers could not load the pipeline in {str(folder)!r}: {_describe(error)}"
        ) from error
    finally:
        if bars:
            diffusers_logging.enable_progress_bar()
    pipeline = pipeline.to(torch_device)
    pipeline.set_progress_bar_config(disable=True)
    num_classes = _class_count(pipeline)
    takes_labels = "class_labels" in arguments
    if not takes_labels and _embeds_classes(pipeline):
        raise DataError(
            f"the {pipeline_type.__name__} in {str(folder)!r} has a class-conditional network "
            f"(it embeds class labels) but {pipeline_type.__name__} passes it no labels, so it "
            "cannot be sampled; save it with a pipeline class that takes class_labels"
        )
    required = arguments.get("class_labels")
    conditional = takes_labels and (
        num_classes is not None or required.default is inspect.Parameter.empty
    )
    log.info(
        "loaded the %s in %s (%s, %s classes) on %s in %.1f s",
        pipeline_type.__name__,
        folder,
        "class-conditional" if conditional else "unconditional",
        num_classes,
        torch_device,
        time.perf_counter() - start,
    )
    return ReceivedPipeline(
        folder=folder,
        pipeline_class=pipeline_type.__name__,
        conditional=conditional,
        num_classes=num_classes,
        device=torch_device,
        pipeline=pipeline,
    )


def _read_index(folder: Path) -> dict[str, Any]:
    """``folder/model_index.json`` as a dict, or DataError naming what is wrong."""
    if not folder.exists():
        raise DataError(f"diffusers pipeline folder {str(folder)!r} does not exist")
    if not folder.is_dir():
        raise DataError(
            f"{str(folder)!r} is not a folder: a diffusers pipeline is the folder that "
            "save_pretrained writes"
        )
    path = folder / "model_index.json"
    if not path.is_file():
        raise DataError(
            f"{str(folder)!r} has no model_index.json: it is not a diffusers pipeline folder "
            "(save one with pipeline.save_pretrained(folder))"
        )
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"{str(path)!r} is not valid JSON: {error}") from error
    if not isinstance(index, dict):
        raise DataError(f"{str(path)!r} must hold a JSON object, got {type(index).__name__}")
    return index


def _pipeline_type(folder: Path, index: dict[str, Any]) -> type:
    """The diffusers pipeline class ``model_index.json`` names, or DataError."""
    import diffusers

    name = index.get("_class_name")
    if not isinstance(name, str):
        raise DataError(
            f"{str(folder / 'model_index.json')!r} must name a diffusers pipeline class in "
            f"_class_name, got {name!r} (custom pipeline code is not run)"
        )
    pipeline_type = getattr(diffusers, name, None)
    if not (
        isinstance(pipeline_type, type) and issubclass(pipeline_type, diffusers.DiffusionPipeline)
    ):
        raise DataError(
            f"{str(folder / 'model_index.json')!r} names the pipeline class {name!r}, which "
            f"diffusers {diffusers.__version__} does not provide"
        )
    return pipeline_type


def _check_arguments(folder: Path, name: str, arguments: Any) -> None:
    """Refuse a pipeline class whose ``__call__`` cannot draw unprompted, seeded images."""
    missing = [argument for argument in REQUIRED_ARGUMENTS if argument not in arguments]
    if "batch_size" not in arguments and "class_labels" not in arguments:
        missing.append("batch_size or class_labels")
    needed = [
        argument
        for argument, parameter in arguments.items()
        if argument not in ("self", "class_labels")
        and parameter.default is inspect.Parameter.empty
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    ]
    if missing or needed:
        wrong = [f"it lacks {', '.join(missing)}"] if missing else []
        wrong += [f"it needs {', '.join(needed)}"] if needed else []
        raise DataError(
            f"the {name} in {str(folder)!r} cannot be sampled by diffshare ({'; '.join(wrong)}): "
            "only unconditional pipelines (batch_size) and class-conditional ones "
            "(class_labels) that take a generator and output_type are supported"
        )


def _check_weights(folder: Path, index: dict[str, Any]) -> None:
    """Refuse parts from other libraries and parts whose weights exist only as pickles."""
    for part, entry in index.items():
        if part.startswith("_") or not isinstance(entry, list) or len(entry) != 2:
            continue
        library, class_name = entry
        if library is None and class_name is None:  # an optional part saved as absent
            continue
        if library not in PART_LIBRARIES:
            raise DataError(
                f"{str(folder / 'model_index.json')!r} loads its part {part!r} from "
                f"{library!r}; only parts from {' or '.join(PART_LIBRARIES)} are loaded"
            )
        subfolder = folder / part
        if not subfolder.is_dir():
            continue  # diffusers names the missing part when it loads
        files = [path for path in subfolder.rglob("*") if path.is_file()]
        pickles = [path for path in files if path.name.endswith(PICKLE_SUFFIXES)]
        if pickles and not any(path.suffix == ".safetensors" for path in files):
            raise DataError(
                f"the part {part!r} of {str(folder)!r} stores its weights only as "
                f"{', '.join(sorted(path.name for path in pickles))}: refused, because loading "
                "it would unpickle the file (which can run arbitrary code); ask the sharer to "
                "save it with pipeline.save_pretrained(folder, safe_serialization=True)"
            )


def _class_count(pipeline: Any) -> int | None:
    """How many classes the pipeline's network embeds, or None where it embeds none."""
    for part in pipeline.components.values():
        config = getattr(part, "config", None)
        if not isinstance(part, torch.nn.Module) or config is None:
            continue
        if config.get("num_class_embeds"):
            return int(config["num_class_embeds"])
        # DiT: ada_norm_zero embeds classes (ada_norm counts diffusion steps instead).
        if config.get("norm_type") == "ada_norm_zero" and config.get("num_embeds_ada_norm"):
            return int(config["num_embeds_ada_norm"])
    labels = getattr(pipeline, "labels", None)  # DiTPipeline's id2label: {name: class id}
    if isinstance(labels, dict) and labels:
        return max(int(value) for value in labels.values()) + 1
    return None


def _embeds_classes(pipeline: Any) -> bool:
    """Whether a network of the pipeline needs class labels (a UNet's class embedding)."""
    return any(
        getattr(part, "class_embedding", None) is not None
        for part in pipeline.components.values()
        if isinstance(part, torch.nn.Module)
    )


def _describe(error: BaseException) -> str:
    """The error's type and message, and those of the first error behind it (diffusers often
    rewraps, e.g. a safetensors header error as "Unable to load weights")."""
    text = f"{type(error).__name__}: {error}".strip()
    root, seen = error, {id(error)}
    while (root.__cause__ or root.__context__) is not None and len(seen) < 20:
        root = root.__cause__ or root.__context__
        if id(root) in seen:
            break
        seen.add(id(root))
    if root is not error:
        text += f" (caused by {type(root).__name__}: {root})"
    return text


def _count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be an integer of at least 1, got {value!r}")
    return int(value)


def _seed(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {value!r}")
    return int(value)
