"""The class-conditional image diffusion model on CPU: training steps, samplers, persistence."""

import numpy as np
import pytest
import torch

from diffshare.errors import ConfigError, DataError
from diffshare.generators.image_diffusion import ImageDiffusion, ImageDiffusionConfig
from diffshare.generators.training import learning_rate_schedule
from diffshare.tensors import native_bf16

TINY = {
    "base_channels": 8,
    "channel_mults": [1, 2],
    "layers_per_block": 1,
    "attention_levels": [1],
    "norm_num_groups": 4,
    "num_train_timesteps": 50,
    "batch_size": 8,
    "steps": 3,
}


def tiny(family="ddpm", **changes):
    config = ImageDiffusionConfig(family=family, **{**TINY, **changes})
    return ImageDiffusion(config, num_classes=2, channels=1, image_size=16, seed=0, device="cpu")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(20, 16, 16, 1), dtype=np.uint8)
    return images, rng.integers(0, 2, size=20)


@pytest.mark.parametrize(
    ("family", "sampler"),
    [
        ("ddpm", "ddpm"),
        ("ddpm", "ddim"),
        ("ddpm", "dpmsolver++"),
        ("edm", "euler"),
        ("edm", "dpmsolver++"),
    ],
)
def test_trains_and_samples_with_each_sampler(data, family, sampler):
    model = tiny(family).fit(*data)
    images = model.sample(5, np.array([0, 1, 0, 1, 1]), sampler=sampler, num_inference_steps=4)
    assert images.shape == (5, 16, 16, 1) and images.dtype == np.uint8
    again = model.sample(5, np.array([0, 1, 0, 1, 1]), sampler=sampler, num_inference_steps=4)
    np.testing.assert_array_equal(images, again)  # seeded


def test_training_moves_the_weights_and_keeps_an_ema(data):
    model = tiny()
    before = {k: v.clone() for k, v in model._unet().state_dict().items()}
    model.fit(*data)
    after = model.unet_.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    ema = model.ema_.state_dict()
    assert any(not torch.equal(ema[k], after[k]) for k in ema)


@pytest.mark.parametrize(
    ("setting", "native", "expected"),
    [(True, True, torch.bfloat16), (True, False, torch.float32), (False, True, torch.float32)],
)
def test_mixed_precision_samples_in_bf16_where_native_and_trains_in_fp32_on_a_cpu(
    monkeypatch, setting, native, expected
):
    monkeypatch.setattr("diffshare.generators.image_diffusion.native_bf16", lambda device: native)
    model = tiny(mixed_precision=setting)
    with model._autocast():
        assert torch.mm(torch.ones(2, 2), torch.ones(2, 2)).dtype == expected
    with model._autocast(training=True):  # a CPU trains in fp32: bf16 gains it 5% there
        assert torch.mm(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.float32


def test_bf16_is_native_on_cuda_and_never_on_other_devices():
    assert native_bf16(torch.device("cuda"))
    assert not native_bf16(torch.device("meta"))


def test_save_and_load_give_the_same_samples(data, tmp_path):
    model = tiny().fit(*data)
    model.save(tmp_path)
    assert (tmp_path / "unet/diffusion_pytorch_model.safetensors").is_file()
    loaded = ImageDiffusion.load(tmp_path, device="cpu")
    kwargs = {"sampler": "ddim", "num_inference_steps": 3, "seed": 4}
    np.testing.assert_array_equal(model.sample(3, **kwargs), loaded.sample(3, **kwargs))


def test_bad_settings_and_inputs_are_named(data):
    with pytest.raises(ConfigError, match="family must be one of"):
        ImageDiffusionConfig(family="gan")
    with pytest.raises(ConfigError, match="sampler 'euler' does not fit family 'ddpm'"):
        tiny().sample(1, sampler="euler")
    images, labels = data
    with pytest.raises(DataError, match="labels must be 20 integers in 0..1"):
        tiny().fit(images, labels + 1)
    with pytest.raises(DataError, match="images must be uint8"):
        tiny().fit(images.astype(np.float32), labels)


def test_a_coarser_working_grid_trains_small_and_samples_at_the_images_size(data, tmp_path):
    model = tiny(resolution=8)
    assert model.size_ == 8 and model.unet_.config.sample_size == 8
    model.fit(*data)
    images = model.sample(4, np.array([0, 1, 0, 1]), sampler="ddim", num_inference_steps=3)
    assert images.shape == (4, 16, 16, 1) and images.dtype == np.uint8
    model.save(tmp_path / "model")
    loaded = ImageDiffusion.load(tmp_path / "model", device="cpu")
    assert loaded.size_ == 8 and loaded.image_size == 16
    again = loaded.sample(4, np.array([0, 1, 0, 1]), sampler="ddim", num_inference_steps=3)
    np.testing.assert_array_equal(images, again)


def test_the_working_grid_averages_pixels_and_is_checked():
    from diffshare.generators.image_unet import to_output, to_working

    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    # Each 2 x 2 block's mean: area weights, every pixel counted once.
    expected = torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]])
    torch.testing.assert_close(to_working(x, 2), expected)
    assert to_working(x, 4) is x and to_output(x, 4) is x
    assert to_output(expected, 4).shape == (1, 1, 4, 4)
    for bad in (24, 7):  # larger than the images; not halvable by the UNet's one downsampling
        with pytest.raises(ConfigError, match=f"resolution.*got {bad}"):
            tiny(resolution=bad)


@pytest.mark.parametrize(
    ("name", "expected"),
    # learning rate 1.0, 10 warm-up steps of 110: after 5, 10, 60 (half the cosine) and 110
    [("constant", [0.5, 1.0, 1.0, 1.0]), ("cosine", [0.5, 1.0, 0.5, 0.0])],
)
def test_learning_rate_warms_up_then_follows_its_schedule(name, expected):
    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([weight], lr=1.0)
    schedule = learning_rate_schedule(optimizer, name, warmup_steps=10, steps=110)
    seen = {}
    for step in range(1, 111):
        optimizer.step()
        schedule.step()
        seen[step] = optimizer.param_groups[0]["lr"]
    assert [seen[s] for s in (5, 10, 60, 110)] == pytest.approx(expected, abs=1e-9)


def test_a_bad_learning_rate_schedule_is_named():
    with pytest.raises(ConfigError, match="lr_schedule must be one of .* got 'step' and 100"):
        ImageDiffusionConfig(lr_schedule="step")
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(ConfigError, match="got 'linear'"):
        learning_rate_schedule(optimizer, "linear", warmup_steps=0, steps=10)
