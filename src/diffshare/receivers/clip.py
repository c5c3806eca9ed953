"""CLIP image features and zero-shot classification from a local checkpoint folder.

:class:`ClipEncoder` loads a CLIP model (e.g. ViT-B/32, ``openai/clip-vit-base-patch32``) that
was saved with ``save_pretrained`` into a local folder: the model, its tokenizer and its image
processor. Nothing is ever downloaded (``local_files_only=True``); fetch the checkpoint once on
a machine with internet access, for example::

    from transformers import CLIPModel, CLIPProcessor
    CLIPModel.from_pretrained("openai/clip-vit-base-patch32").save_pretrained("weights/clip")
    CLIPProcessor.from_pretrained("openai/clip-vit-base-patch32").save_pretrained("weights/clip")

- :meth:`ClipEncoder.features`: L2-normalised image embeddings, an alternative to
  :meth:`diffshare.receivers.cnn.CnnClassifier.features` as the feature map for MINE and
  property discriminators.
- :meth:`ClipEncoder.zero_shot`: softmax probabilities over text prompts, scaled by the model's
  learned temperature (``logit_scale``) as in CLIP.

Images are uint8 ``(n, h, w, c)`` with one or three channels, like :mod:`diffshare.data.images`
produces; grey images are repeated to three channels. Preprocessing always uses the
PIL-based image processor (the original CLIP resizing), so features do not depend on whether
torchvision happens to be installed. Needs the ``clip`` extra: ``pip install "diffshare[clip]"``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from diffshare.errors import ConfigError, DataError
from diffshare.tensors import resolve_device

log = logging.getLogger(__name__)


def _embeddings(output) -> torch.Tensor:
    """The projected embeddings from ``get_image_features``/``get_text_features``.

    transformers 4 returns the tensor itself; transformers 5 returns a
    ``BaseModelOutputWithPooling`` whose ``pooler_output`` holds the projected embeddings.
    """
    if isinstance(output, torch.Tensor):
        return output
    pooled = getattr(output, "pooler_output", None)
    if isinstance(pooled, torch.Tensor):
        return pooled
    raise TypeError(f"unexpected CLIP feature output {type(output).__name__}")


class ClipEncoder:
    """A CLIP model loaded from ``folder``; ``features(images)`` and ``zero_shot(images, prompts)``.

    ``folder`` must hold a CLIP checkpoint saved with ``save_pretrained`` (``config.json``, the
    weights, the tokenizer files and ``preprocessor_config.json``). ``device`` is ``"auto"``
    (CUDA when available), ``"cpu"``, ``"cuda"``, ...; ``batch_size`` is the number of images
    per forward pass.
    """

    def __init__(self, folder: str | os.PathLike, *, device: str = "auto", batch_size: int = 256):
        self.folder = Path(folder)
        if int(batch_size) < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size, self.device = int(batch_size), resolve_device(device)
        if not (self.folder / "config.json").is_file():
            state = "has no config.json" if self.folder.is_dir() else "does not exist"
            raise ConfigError(
                f"CLIP weights folder {str(self.folder)!r} {state}: it must hold a CLIP "
                "checkpoint saved with save_pretrained (e.g. openai/clip-vit-base-patch32, "
                "model and processor); nothing is downloaded"
            )
        try:
            import transformers
        except ImportError as error:
            raise ConfigError(
                'CLIP features need the transformers package: pip install "diffshare[clip]"'
            ) from error
        # transformers 5 picks the torchvision image processor when torchvision is installed
        # and the PIL one otherwise; always use the PIL one (as transformers 4's
        # CLIPImageProcessor is) so that the features do not depend on what is installed.
        image_processor = getattr(transformers, "CLIPImageProcessorPil", None)
        image_processor = image_processor or transformers.CLIPImageProcessor
        start = time.perf_counter()
        try:
            model = transformers.CLIPModel.from_pretrained(
                self.folder, local_files_only=True, use_safetensors=True
            )
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(
                self.folder, local_files_only=True
            )
            self.image_processor = image_processor.from_pretrained(
                self.folder, local_files_only=True
            )
        except (OSError, ValueError, KeyError) as error:
            raise ConfigError(
                f"cannot load a CLIP checkpoint from {str(self.folder)!r} (it must hold the "
                f"model, tokenizer and image processor saved with save_pretrained): {error}"
            ) from error
        self.model = model.float().to(self.device).eval()
        self.dimension = int(self.model.config.projection_dim)
        log.info(
            "loaded CLIP from %s (%d-d embeddings) on %s in %.1f s",
            self.folder,
            self.dimension,
            self.device,
            time.perf_counter() - start,
        )

    def _check(self, images: np.ndarray) -> np.ndarray:
        if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4:
            described = (
                f"{images.dtype} {images.shape}"
                if isinstance(images, np.ndarray)
                else type(images).__name__
            )
            raise DataError(f"images must be uint8 (n, h, w, c), got {described}")
        if images.shape[-1] not in (1, 3):
            raise DataError(f"images must have 1 or 3 channels, got {images.shape[-1]}")
        if len(images) == 0:
            raise DataError("no images to encode")
        if images.shape[-1] == 1:
            images = np.repeat(images, 3, axis=-1)
        return images

    @torch.no_grad()
    def _image_embeddings(self, images: np.ndarray) -> torch.Tensor:
        """L2-normalised float32 image embeddings ``(n, d)`` on the CPU."""
        images = self._check(images)
        parts = []
        for begin in range(0, len(images), self.batch_size):
            pixels = self.image_processor(
                images=list(images[begin : begin + self.batch_size]),
                input_data_format="channels_last",
                return_tensors="pt",
            )["pixel_values"]
            output = self.model.get_image_features(pixel_values=pixels.to(self.device))
            parts.append(_embeddings(output).float().cpu())
        return torch.nn.functional.normalize(torch.cat(parts), dim=-1)

    def features(self, images: np.ndarray) -> np.ndarray:
        """float32 ``(n, d)`` L2-normalised image embeddings (``d`` = projection_dim)."""
        return self._image_embeddings(images).numpy()

    @torch.no_grad()
    def text_features(self, prompts: Sequence[str]) -> np.ndarray:
        """float32 ``(len(prompts), d)`` L2-normalised text embeddings."""
        if isinstance(prompts, str) or not all(isinstance(p, str) for p in prompts):
            raise ConfigError(f"prompts must be a list of strings, got {prompts!r}")
        if len(prompts) == 0:
            raise ConfigError("no prompts to encode")
        tokens = self.tokenizer(
            list(prompts),
            padding=True,
            truncation=True,
            max_length=self.model.config.text_config.max_position_embeddings,
            return_tensors="pt",
        )
        output = self.model.get_text_features(
            input_ids=tokens["input_ids"].to(self.device),
            attention_mask=tokens["attention_mask"].to(self.device),
        )
        return torch.nn.functional.normalize(_embeddings(output).float().cpu(), dim=-1).numpy()

    @torch.no_grad()
    def zero_shot(self, images: np.ndarray, prompts: Sequence[str]) -> np.ndarray:
        """float64 ``(n, len(prompts))``: each image's softmax probabilities over the prompts.

        The logits are ``exp(logit_scale)`` times the cosine similarity of image and prompt
        embeddings, as in CLIP (``logit_scale`` is the model's learned temperature).
        """
        if isinstance(prompts, str) or len(prompts) < 2:
            raise ConfigError(
                f"zero-shot classification needs at least two prompts, got {prompts!r}"
            )
        images = self._image_embeddings(images)
        text = torch.from_numpy(self.text_features(prompts))
        scale = self.model.logit_scale.detach().float().cpu().exp()
        logits = scale * images @ text.T
        return torch.softmax(logits.double(), dim=1).numpy()
