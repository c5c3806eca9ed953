"""diffshare.receivers.clip on a tiny random CLIP checkpoint built offline in a temporary folder.

Set DIFFSHARE_CLIP_WEIGHTS to a folder holding a real CLIP checkpoint (saved with
save_pretrained, e.g. openai/clip-vit-base-patch32) to also check that zero-shot
classification separates red from blue images.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from diffshare.errors import ConfigError, DataError  # noqa: E402
from diffshare.receivers.clip import ClipEncoder  # noqa: E402

PROMPTS = ["a photo of a cat", "a photo of a dog", "a digit"]


def write_tokenizer(folder):
    """A byte-level BPE vocabulary in CLIPTokenizer's format, without merges."""
    from tokenizers.pre_tokenizers import ByteLevel

    alphabet = sorted(ByteLevel.alphabet())
    tokens = alphabet + [f"{c}</w>" for c in alphabet] + ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return len(tokens)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A folder with a random CLIP (32x32 images, 16-d embeddings), tokenizer and processor."""
    folder = tmp_path_factory.mktemp("clip")
    vocab = write_tokenizer(folder)
    tokenizer = transformers.CLIPTokenizerFast.from_pretrained(folder, local_files_only=True)
    small = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2}
    small["num_attention_heads"] = 2
    config = transformers.CLIPConfig(
        text_config={
            **small,
            "vocab_size": vocab,
            "max_position_embeddings": 32,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={**small, "image_size": 32, "patch_size": 8},
        projection_dim=16,
    )
    torch.manual_seed(0)
    transformers.CLIPModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    # transformers 5 without torchvision warns on CLIPImageProcessor and falls back to this one.
    processor = getattr(transformers, "CLIPImageProcessorPil", None)
    processor = processor or transformers.CLIPImageProcessor
    processor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(
        folder
    )
    return folder


@pytest.fixture(scope="module")
def encoder(weights):
    return ClipEncoder(weights, device="cpu", batch_size=4)


def random_images(n, channels, seed=0, size=28):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, channels), dtype=np.uint8)


def test_features_are_unit_norm_and_deterministic(encoder):
    images = random_images(10, 3)
    features = encoder.features(images)
    assert features.shape == (10, 16) and features.dtype == np.float32
    assert np.isfinite(features).all()
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(encoder.features(images), features)
    # Batching does not change the result.
    np.testing.assert_allclose(encoder.features(images[5:]), features[5:], atol=1e-5)
    assert not np.allclose(features[0], features[1])


def test_grey_images_are_repeated_to_rgb(encoder):
    grey = random_images(3, 1, seed=1)
    features = encoder.features(grey)
    assert features.shape == (3, 16) and np.isfinite(features).all()
    np.testing.assert_allclose(features, encoder.features(np.repeat(grey, 3, axis=-1)), atol=1e-6)


def test_zero_shot_matches_clip_forward(encoder, weights):
    images = random_images(5, 3, seed=2)
    probabilities = encoder.zero_shot(images, PROMPTS)
    assert probabilities.shape == (5, len(PROMPTS))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-12)
    assert (probabilities >= 0).all()
    # Same as transformers' own CLIPModel forward pass.
    text = encoder.tokenizer(PROMPTS, padding=True, return_tensors="pt")
    pixels = encoder.image_processor(images=list(images), return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        logits = encoder.model(**text, pixel_values=pixels).logits_per_image
    np.testing.assert_allclose(probabilities, logits.softmax(dim=1).numpy(), atol=1e-5)


def test_missing_folder_is_a_config_error(tmp_path):
    missing = tmp_path / "no-such-clip"
    with pytest.raises(ConfigError, match="no-such-clip.*does not exist.*save_pretrained"):
        ClipEncoder(missing)
    missing.mkdir()
    with pytest.raises(ConfigError, match="no-such-clip.*no config.json.*nothing is downloaded"):
        ClipEncoder(missing)


def test_missing_transformers_is_a_config_error(monkeypatch, weights):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ConfigError, match=r"pip install \"diffshare\[clip\]\""):
        ClipEncoder(weights)


def test_incomplete_folder_is_a_config_error(tmp_path, weights):
    (tmp_path / "config.json").write_text((weights / "config.json").read_text())
    with pytest.raises(ConfigError, match="cannot load a CLIP checkpoint"):
        ClipEncoder(tmp_path)


@pytest.mark.parametrize(
    "images",
    [
        random_images(2, 3).astype(np.float32),
        random_images(2, 3)[0],
        random_images(2, 4),
        random_images(0, 3),
        [[0, 1]],
    ],
    ids=["float", "3d", "4-channels", "empty", "list"],
)
def test_bad_images_are_data_errors(encoder, images):
    with pytest.raises(DataError, match="images"):
        encoder.features(images)


def test_zero_shot_needs_two_prompts(encoder):
    with pytest.raises(ConfigError, match="at least two prompts"):
        encoder.zero_shot(random_images(2, 3), ["a cat"])
    with pytest.raises(ConfigError, match="at least two prompts"):
        encoder.zero_shot(random_images(2, 3), "a cat or a dog")


def test_zero_shot_separates_colours_with_real_weights():
    folder = os.environ.get("DIFFSHARE_CLIP_WEIGHTS")
    if not folder:
        pytest.skip("set DIFFSHARE_CLIP_WEIGHTS to a real CLIP checkpoint folder")
    images = np.zeros((8, 32, 32, 3), dtype=np.uint8)
    images[:4, ..., 0] = 220  # red
    images[4:, ..., 2] = 220  # blue
    probabilities = ClipEncoder(folder).zero_shot(images, ["a red square", "a blue square"])
    np.testing.assert_array_equal(probabilities.argmax(axis=1), [0] * 4 + [1] * 4)


def test_image_track_uses_clip_for_features_discriminator_and_zero_shot(weights):
    """The image track's CLIP paths with the tiny checkpoint: MINE features from the image
    encoder, a logistic-regression discriminator on them, and zero-shot prompts."""
    from diffshare.attacks.pia.property import Property
    from diffshare.data.images import ImageSet
    from diffshare.tracks.image import estimate_property, extract_features

    rng = np.random.default_rng(0)
    digits = np.repeat(np.arange(10), 12)
    pool = ImageSet(random_images(120, 1, size=32), {"digit": digits, "y": (digits >= 5) * 1})
    pool_features, test_features, record = extract_features(pool, pool, clip=str(weights))
    assert pool_features.shape == (120, 16) and record["extractor"] == "clip"
    assert np.allclose(np.linalg.norm(test_features, axis=1), 1.0, atol=1e-5)
    samples = ImageSet(pool.images[rng.permutation(120)])
    estimates, record = estimate_property(
        samples,
        pool,
        Property("digit", "0"),
        attacks=["aux", "zero_shot"],
        queries=[20],
        repeats=3,
        discriminator={"classifier": "clip_logreg", "params": {}, "holdout": 0.5},
        clip=str(weights),
        prompts=["a photo of the digit zero", "a photo of another digit"],
        seed=0,
    )
    assert record["discriminator"] == "clip_logreg" and 0 <= record["fpr"] <= 1
    assert set(estimates["attack"]) == {"aux", "zero_shot"} and len(estimates) == 6
    assert estimates["estimate"].between(0, 1).all()


def test_clip_discriminator_is_balanced_logistic_regression_on_clip_features(weights):
    """The clip_logreg defaults are the image track's fixed discriminator of before:
    LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    from diffshare.attacks.pia.property import Property
    from diffshare.data.images import ImageSet
    from diffshare.tracks.image import estimate_property

    digits = np.repeat(np.arange(10), 12)
    auxiliary = ImageSet(random_images(120, 1, seed=1, size=32), {"digit": digits})
    samples = ImageSet(random_images(60, 1, seed=2, size=32))
    estimates, record = estimate_property(
        samples,
        auxiliary,
        Property("digit", "0"),
        attacks=["aux"],
        queries=[20],
        repeats=3,
        discriminator={"classifier": "clip_logreg", "params": {}, "holdout": 0.5},
        clip=str(weights),
        seed=4,
        device="cpu",
    )
    encoder = ClipEncoder(weights, device="cpu")
    truth = (digits == 0).astype(np.int8)
    fit, _ = train_test_split(np.arange(120), test_size=0.5, random_state=4, stratify=truth)
    model = LogisticRegression(max_iter=2000, class_weight="balanced", random_state=4)
    model.fit(encoder.features(auxiliary.images)[fit], truth[fit])
    expected = model.predict(encoder.features(samples.images)).reshape(3, 20).mean(axis=1)
    np.testing.assert_array_equal(estimates["estimate"].to_numpy(), expected)
    assert record["discriminator"] == "clip_logreg"
