"""A received diffusers pipeline folder: loaded offline from safetensors only, then sampled.

Every pipeline here is built tiny in ``tmp_path`` and saved with ``save_pretrained``, as a sharer
would; nothing is downloaded.
"""

import json

import diffusers
import numpy as np
import pytest
import torch

from diffshare.data.images import ImageSet
from diffshare.errors import ConfigError, DataError
from diffshare.generators.diffusers_pipeline import ReceivedPipeline, load_pipeline


def tiny_unet(channels=1, **changes):
    torch.manual_seed(0)
    return diffusers.UNet2DModel(
        sample_size=8,
        in_channels=channels,
        out_channels=channels,
        layers_per_block=1,
        block_out_channels=(8, 16),
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        norm_num_groups=4,
        **changes,
    )


def save_ddpm(folder, channels=1, safe=True, **changes):
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=10)
    pipeline = diffusers.DDPMPipeline(tiny_unet(channels, **changes), scheduler)
    pipeline.save_pretrained(folder, safe_serialization=safe)
    return folder


def save_dit(folder):
    """A tiny class-conditional DiT (1,000 classes, as DiTPipeline's guidance assumes)."""
    torch.manual_seed(0)
    transformer = diffusers.DiTTransformer2DModel(
        num_attention_heads=2,
        attention_head_dim=8,
        in_channels=4,
        out_channels=8,
        num_layers=1,
        sample_size=4,
        patch_size=2,
        norm_num_groups=4,
    )
    vae = diffusers.AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(8, 8),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=8,
    )
    # DDPM's step draws its noise from torch's global generator in DiTPipeline.
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=10)
    diffusers.DiTPipeline(transformer, vae, scheduler).save_pretrained(
        folder, safe_serialization=True
    )
    return folder


@pytest.fixture(scope="module")
def grey(tmp_path_factory):
    return save_ddpm(tmp_path_factory.mktemp("received") / "ddpm")


def test_a_saved_ddpm_pipeline_loads_and_samples_grey_uint8_images(grey):
    received = load_pipeline(grey, device="cpu")
    assert isinstance(received, ReceivedPipeline)
    assert received.pipeline_class == "DDPMPipeline"
    assert (received.conditional, received.num_classes) == (False, None)
    images = received.sample(5, seed=0, num_inference_steps=4)
    assert isinstance(images, ImageSet)
    assert images.images.dtype == np.uint8 and images.images.shape == (5, 8, 8, 1)
    assert images.attributes == {}


def test_the_same_seed_draws_the_same_images_and_another_seed_others(grey):
    received = load_pipeline(grey, device="cpu")
    first = received.sample(4, seed=3, num_inference_steps=3, batch_size=3).images
    again = load_pipeline(grey, device="cpu").sample(4, seed=3, num_inference_steps=3, batch_size=3)
    other = received.sample(4, seed=4, num_inference_steps=3, batch_size=3).images
    np.testing.assert_array_equal(first, again.images)
    assert not np.array_equal(first, other)


def test_sampling_leaves_torch_global_generator_as_it_was(grey):
    received = load_pipeline(grey, device="cpu")
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    received.sample(2, seed=0, num_inference_steps=2)
    torch.testing.assert_close(torch.rand(3), expected)


def test_default_steps_are_capped_at_the_schedulers_training_steps(grey):
    # DDPMPipeline defaults to 1,000 steps; this scheduler was trained on 10.
    images = load_pipeline(grey, device="cpu").sample(2)
    assert images.images.shape == (2, 8, 8, 1)


def test_an_rgb_ddim_pipeline_gives_three_channels(tmp_path):
    folder = tmp_path / "ddim"
    scheduler = diffusers.DDIMScheduler(num_train_timesteps=10)
    diffusers.DDIMPipeline(tiny_unet(3), scheduler).save_pretrained(folder)
    received = load_pipeline(folder, device="cpu")
    assert received.pipeline_class == "DDIMPipeline"
    assert received.sample(3, num_inference_steps=3).images.shape == (3, 8, 8, 3)


def test_progress_is_reported_after_each_batch(grey):
    calls = []
    received = load_pipeline(grey, device="cpu")
    received.sample(5, num_inference_steps=2, batch_size=2, progress=lambda *a: calls.append(a))
    assert calls == [(2, 5), (4, 5), (5, 5)]


def test_a_dit_pipeline_draws_the_classes_asked_for(tmp_path):
    received = load_pipeline(save_dit(tmp_path / "dit"), device="cpu")
    assert received.pipeline_class == "DiTPipeline"
    assert (received.conditional, received.num_classes) == (True, 1000)
    labels = np.array([7, 7, 3, 999, 0])
    images = received.sample(5, seed=1, labels=labels, num_inference_steps=3, batch_size=2)
    assert images.images.dtype == np.uint8 and images.images.shape == (5, 8, 8, 3)
    np.testing.assert_array_equal(images.attributes["class"], labels)
    again = received.sample(5, seed=1, labels=labels, num_inference_steps=3, batch_size=2)
    np.testing.assert_array_equal(images.images, again.images)
    balanced = received.sample(3, num_inference_steps=2)
    np.testing.assert_array_equal(balanced.attributes["class"], [0, 1, 2])
    with pytest.raises(ConfigError, match=r"labels must lie in \[0, 1000\)"):
        received.sample(2, labels=np.array([0, 1000]))
    with pytest.raises(ConfigError, match=r"labels must be integers of shape \(2,\)"):
        received.sample(2, labels=np.array([0.5, 1.0]))


def test_labels_are_refused_by_an_unconditional_pipeline(grey):
    with pytest.raises(ConfigError, match="unconditional"):
        load_pipeline(grey, device="cpu").sample(2, labels=np.array([0, 1]))


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"n": 0}, "n must be an integer of at least 1, got 0"),
     ({"n": 2, "batch_size": 0}, "batch_size must be an integer of at least 1, got 0"),
     ({"n": 2, "seed": -1}, "seed must be a non-negative integer, got -1"),
     ({"n": 2, "num_inference_steps": 0}, "num_inference_steps must be .* at least 1, got 0")],
)  # fmt: skip
def test_bad_sampling_settings_are_refused_by_name(grey, changes, message):
    received = load_pipeline(grey, device="cpu")
    n = changes.pop("n")
    with pytest.raises(ConfigError, match=message):
        received.sample(n, **changes)


def test_a_missing_folder_or_a_file_is_refused(tmp_path):
    with pytest.raises(DataError, match="nowhere.*does not exist"):
        load_pipeline(tmp_path / "nowhere")
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(DataError, match="model.safetensors.*is not a folder"):
        load_pipeline(tmp_path / "model.safetensors")


def test_a_folder_without_model_index_json_is_refused(tmp_path):
    with pytest.raises(DataError, match="has no model_index.json"):
        load_pipeline(tmp_path)


def test_a_corrupt_model_index_json_is_refused(tmp_path):
    folder = save_ddpm(tmp_path / "ddpm")
    (folder / "model_index.json").write_text('{"_class_name": "DDPMPipeline",')
    with pytest.raises(DataError, match="model_index.json.*is not valid JSON"):
        load_pipeline(folder)


def test_pickled_weights_are_refused_without_being_unpickled(tmp_path, monkeypatch):
    folder = save_ddpm(tmp_path / "ddpm", safe=False)
    assert (folder / "unet" / "diffusion_pytorch_model.bin").is_file()

    def unpickle(*args, **kwargs):
        raise AssertionError("torch.load was called")

    monkeypatch.setattr(torch, "load", unpickle)
    with pytest.raises(DataError, match="'unet'.*diffusion_pytorch_model.bin.*unpickle"):
        load_pipeline(folder)


def test_damaged_safetensors_weights_are_refused_with_diffusers_message(tmp_path):
    folder = save_ddpm(tmp_path / "ddpm")
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(DataError, match="could not load the pipeline in .*ddpm.*deserializing"):
        load_pipeline(folder)


def test_a_ddpm_pipeline_around_a_class_conditional_unet_is_refused(tmp_path):
    folder = save_ddpm(tmp_path / "ddpm", num_class_embeds=3)
    with pytest.raises(DataError, match="class-conditional network.*passes it no labels"):
        load_pipeline(folder)


@pytest.mark.parametrize(
    ("class_name", "message"),
    [("StableDiffusionPipeline", "lacks batch_size or class_labels"),
     ("NoSuchPipeline", "'NoSuchPipeline', which diffusers .* does not provide"),
     (["pipeline", "MyPipeline"], "custom pipeline code is not run")],
)  # fmt: skip
def test_pipelines_that_cannot_draw_unprompted_images_are_refused(tmp_path, class_name, message):
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": class_name}))
    with pytest.raises(DataError, match=message):
        load_pipeline(tmp_path)


def test_parts_from_other_libraries_are_refused(tmp_path):
    folder = save_ddpm(tmp_path / "ddpm")
    index = json.loads((folder / "model_index.json").read_text())
    index["unet"] = ["pickle", "Unpickler"]
    (folder / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(DataError, match="part 'unet' from 'pickle'"):
        load_pipeline(folder)
