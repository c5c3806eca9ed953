"""Every generator family behind one interface: the registry, the loader that checks a folder's
family, and the shared training utilities (device, EMA, checkpoints that resume only the same
data and settings)."""

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import REPO
from diffshare.data.images import ImageSet, read_mnist_csv
from diffshare.data.tabular import DatasetSpec, prepare
from diffshare.errors import ConfigError, DataError
from diffshare.generators import (
    FAMILIES,
    IMAGE_GENERATORS,
    TABLE_GENERATORS,
    generator_family,
    load_generator,
    make_generator,
)
from diffshare.generators.base import BaseGenerator
from diffshare.generators.image_sampling import sample_grid, sample_images
from diffshare.generators.training import (
    ExponentialMovingAverage,
    TrainingCheckpoint,
    remove_checkpoint,
    resolve_device,
)

TABDDPM = {
    "hidden_dims": [32],
    "embedding_dim": 16,
    "num_timesteps": 10,
    "steps": 6,
    "batch_size": 64,
    "dropout": 0.1,  # draws from the global random state, which a checkpoint must restore
}
DIFFUSION = {
    "base_channels": 8,
    "channel_mults": [1, 1],
    "norm_num_groups": 4,
    "attention_levels": [],
    "layers_per_block": 1,
    "num_train_timesteps": 50,
    "steps": 4,
    "batch_size": 4,
}
SNGAN = {"steps": 4, "batch_size": 4, "latent": 8, "width": 8}
SETTINGS = {"tabddpm": TABDDPM, "ddpm": DIFFUSION, "edm": DIFFUSION, "sngan": SNGAN}
#: A setting whose edit changes the run from its first step.
EDITS = {
    "tabddpm": {"learning_rate": 1e-3},
    "ddpm": {"learning_rate": 2e-4},
    "edm": {"learning_rate": 2e-4},
    "sngan": {"learning_rate": 1e-4},
}
SAMPLERS = {"ddpm": {"name": "ddim", "steps": 2}, "edm": {"name": "euler", "steps": 2}}


@pytest.fixture(scope="module")
def german(catalogue):
    train, _, schema = prepare(DatasetSpec.from_config("german", catalogue["german"], REPO))
    return train, schema


@pytest.fixture(scope="module")
def digits():
    """32 bundled digits, 32x32 grey, with the class ``y`` (digit >= 5)."""
    images = read_mnist_csv(REPO / "resources/data/mnist/mnist_5k.csv.gz")
    chosen = images.subset(np.arange(0, 4000, 125))
    return ImageSet(chosen.images, {"y": (chosen.attributes["digit"] >= 5).astype(np.int64)})


def fit(family, settings, data, checkpoint_dir=None, seed=0):
    """A model of ``family`` made by the factory and fitted on ``data``, checkpointing every
    two steps into ``checkpoint_dir``."""
    model = make_generator(
        family,
        settings,
        seed=seed,
        device="cpu",
        checkpoint_dir=checkpoint_dir,
        checkpoint_every=2,
        **({} if family == "tabddpm" else {"num_classes": 2, "channels": 1, "image_size": 32}),
    )
    if family == "tabddpm":
        return model.fit(*data)
    return model.fit(data.images, data.attributes["y"])


def weights(model) -> dict[str, torch.Tensor]:
    """Every trained tensor of the model (for diffusion on images, the raw and EMA weights)."""
    if model.family == "tabddpm":
        return dict(model.denoiser_.state_dict())
    if model.family == "sngan":
        return dict(model.generator_.state_dict())
    ema = {f"ema.{k}": v for k, v in model.ema_.state_dict().items()}
    return {**model.unet_.state_dict(), **ema}


def same(first, second) -> bool:
    a, b = weights(first), weights(second)
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class Killed(Exception):
    """Stands for the job being killed right after it wrote a checkpoint."""


def kill_after_checkpoint(patch):
    save = TrainingCheckpoint.save

    def save_then_die(self, step, parts, generator):
        save(self, step, parts, generator)
        raise Killed(step)

    patch.setattr(TrainingCheckpoint, "save", save_then_die)


@pytest.fixture
def data_of(german, digits):
    return lambda family: german if family == "tabddpm" else digits


# -- the registry and the loader -------------------------------------------------------------
def test_the_registry_names_every_family_once():
    assert TABLE_GENERATORS == ("tabddpm", "ctgan", "tvae", "gaussian_copula")
    assert IMAGE_GENERATORS == ("ddpm", "edm", "sngan")
    assert set(FAMILIES) == {*TABLE_GENERATORS, *IMAGE_GENERATORS}
    assert [n for n, f in FAMILIES.items() if f.diffusion] == ["tabddpm", "ddpm", "edm"]
    for name, family in FAMILIES.items():
        if family.plugin:  # SDV's copula follows the plugin interface, as outside families do
            assert callable(family.load_class().sample), name
        else:
            assert issubclass(family.load_class(), BaseGenerator), name
    with pytest.raises(ConfigError, match=r"unknown generator family 'gan'.*'tabddpm'"):
        generator_family("gan")
    with pytest.raises(ConfigError, match="unknown generator family 'gan'"):
        make_generator("gan", {}, seed=0)


@pytest.mark.parametrize("family", ["ddpm", "edm", "sngan"])
def test_image_generators_train_save_load_and_sample(family, digits, tmp_path):
    model = fit(family, SETTINGS[family], digits)
    model.save(tmp_path / "model")
    saved = json.loads((tmp_path / "model/config.json").read_text())
    assert (saved["format"], saved["family"]) == (FAMILIES[family].format, family)
    loaded = load_generator(tmp_path / "model", family, device="cpu")
    assert type(loaded) is type(model) and loaded.family == family
    first, record = sample_images(loaded, 6, conditional=False, samplers=SAMPLERS, seed=1)
    again, _ = sample_images(loaded, 6, conditional=False, samplers=SAMPLERS, seed=1)
    assert first.images.shape == (6, 32, 32, 1) and first.images.dtype == np.uint8
    assert np.array_equal(first.images, again.images) and "y" not in first.attributes
    assert record["n"] == 6 and record["images_per_second"] > 0
    sample_grid(first, tmp_path / "grid.png", columns=4)
    assert (tmp_path / "grid.png").stat().st_size > 0
    if family == "sngan":
        with pytest.raises(ConfigError, match="unconditional"):
            sample_images(loaded, 4, conditional=True, samplers=SAMPLERS, seed=0)
        assert not any(p.suffix in (".pt", ".pkl", ".bin") for p in (tmp_path / "model").iterdir())
        reloaded = type(model).load(tmp_path / "model", "cpu")
        assert np.array_equal(model.sample(5, seed=2), reloaded.sample(5, seed=2))
    else:
        labelled, _ = sample_images(loaded, 6, conditional=True, samplers=SAMPLERS, seed=1)
        assert sorted(labelled.attributes["y"].tolist()) == [0, 0, 0, 1, 1, 1]
        with pytest.raises(ConfigError, match=f"image.samplers.{family}.name"):
            wrong = {family: {"name": "euler" if family == "ddpm" else "ddim", "steps": 2}}
            sample_images(loaded, 2, conditional=False, samplers=wrong, seed=0)


class _TouchOnUnpickle:
    """Unpickling this creates ``path``: a stand-in for a hostile pickle."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return Path.touch, (Path(self.path),)


def test_a_folder_claiming_another_family_never_reaches_its_loader(tmp_path):
    folder = tmp_path / "results/generators/adult/tabddpm/full/seed~0/model"
    folder.mkdir(parents=True)
    marker = tmp_path / "unpickled"
    (folder / "model.pt").write_bytes(pickle.dumps(_TouchOnUnpickle(marker)))
    (folder / "config.json").write_text(json.dumps({"format": "diffshare-ctgan", "kind": "ctgan"}))
    with pytest.raises(DataError) as error:
        load_generator(folder, "tabddpm")
    message = str(error.value)
    assert str(folder) in message
    assert "'diffshare-tabular-diffusion'" in message and "'diffshare-ctgan'" in message
    assert not marker.exists()
    # Within one format, the family must match too: a TVAE folder is not a CTGAN model.
    (folder / "config.json").write_text(
        json.dumps({"format": "diffshare-ctgan-2", "family": "tvae", "kind": "tvae"})
    )
    with pytest.raises(DataError, match=r"should be a ctgan model .* names family 'tvae'"):
        load_generator(folder, "ctgan")
    assert not marker.exists()


def test_the_loader_checks_the_family_within_a_format(digits, tmp_path):
    fit("ddpm", SETTINGS["ddpm"], digits).save(tmp_path)
    with pytest.raises(DataError, match=r"should be a edm model .* names family 'ddpm'"):
        load_generator(tmp_path, "edm")
    with pytest.raises(DataError, match=r"should be a sngan model .*'diffshare-image-diffusion'"):
        load_generator(tmp_path, "sngan")
    with pytest.raises(ConfigError, match="unknown generator family 'gan'"):
        load_generator(tmp_path, "gan")
    with pytest.raises(DataError, match="lacks config.json"):
        load_generator(tmp_path / "unet/missing", "ddpm")


def test_folders_saved_before_the_family_was_recorded_still_load(german, digits, tmp_path):
    """config.json files written before it named the family: derived from the format."""
    saved = {"tabddpm": fit("tabddpm", TABDDPM, german), "ddpm": fit("ddpm", DIFFUSION, digits)}
    for name, model in saved.items():
        model.save(tmp_path / name)
        path = tmp_path / name / "config.json"
        description = json.loads(path.read_text())
        del description["family"]
        path.write_text(json.dumps(description))
        assert load_generator(tmp_path / name, name, device="cpu").family == name
    with pytest.raises(DataError, match="names family 'ddpm'"):
        load_generator(tmp_path / "ddpm", "edm")


# -- shared training utilities ---------------------------------------------------------------
def test_devices_are_resolved_in_one_place():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    for bad in ("gpu", "cuda:x", "CPU", ""):
        with pytest.raises(ConfigError, match=f"got {bad!r}"):
            resolve_device(bad)
    with pytest.raises(ConfigError, match="got 'tpu'"):
        make_generator("sngan", SNGAN, seed=0, device="tpu")


def test_ema_warms_up_then_keeps_its_decay():
    weights_now = [torch.full((3,), 1.0)]
    ema = ExponentialMovingAverage([torch.zeros(3)], 0.9)
    assert [ema.decay_at(s) for s in (0, 1, 10**6)] == [0.1, 2 / 11, 0.9]
    ema.update(weights_now, step=0)
    # The first update keeps only 10% of the (random) starting average.
    torch.testing.assert_close(ema.averaged[0], torch.full((3,), 0.9))
    # The same arithmetic as one lerp per tensor, to the bit, once the decay is reached.
    average, target = torch.randn(5), torch.randn(5)
    expected = average.clone().lerp_(target, 1.0 - 0.999)
    late = ExponentialMovingAverage([average], 0.999)
    late.update([target], step=10**5)
    assert torch.equal(late.averaged[0], expected)


def test_checkpoint_names_what_differs_and_is_removed(tmp_path, caplog):
    data = [np.arange(6)]
    first = TrainingCheckpoint(
        tmp_path, 2, settings={"config": {"lr": 1}, "seed": 0}, data=data, device="cpu"
    )
    state = {"ema": ExponentialMovingAverage([torch.zeros(2)], 0.5)}
    first.save(2, state, torch.Generator())
    edited = TrainingCheckpoint(
        tmp_path, 2, settings={"config": {"lr": 2}, "seed": 0}, data=[np.arange(7)], device="cpu"
    )
    with caplog.at_level("WARNING", logger="diffshare"):
        assert edited.resume(state, torch.Generator()) == 0
    assert "other settings (config.lr 1 -> 2) and other training data" in caplog.text
    assert not (tmp_path / "checkpoint.pt").exists()
    with pytest.raises(ConfigError, match="checkpoint_every must be at least 1, got 0"):
        TrainingCheckpoint(tmp_path, 0, settings={}, data=data, device="cpu")
    first.save(2, state, torch.Generator())
    remove_checkpoint(tmp_path)
    assert not tmp_path.exists()


# -- killed runs, for every family with a training loop -----------------------------------------
@pytest.mark.parametrize("family", ["tabddpm", "ddpm", "edm", "sngan"])
def test_a_killed_run_resumes_to_the_weights_of_an_uninterrupted_one(
    family, data_of, tmp_path, monkeypatch, caplog
):
    data, settings = data_of(family), SETTINGS[family]
    with monkeypatch.context() as patch:
        kill_after_checkpoint(patch)
        with pytest.raises(Killed):
            fit(family, settings, data, tmp_path)
    assert (tmp_path / "checkpoint.pt").is_file()
    with caplog.at_level("INFO", logger="diffshare"):
        resumed = fit(family, settings, data, tmp_path)
    assert "resumed from checkpoint" in caplog.text and "at step 2" in caplog.text
    assert same(resumed, fit(family, settings, data))  # uninterrupted, no checkpoints
    resumed.remove_checkpoint()
    assert not tmp_path.exists()


@pytest.mark.parametrize("family", ["tabddpm", "ddpm", "edm", "sngan"])
def test_a_killed_run_whose_settings_were_edited_starts_afresh(
    family, data_of, tmp_path, monkeypatch, caplog
):
    data, settings = data_of(family), SETTINGS[family]
    edited = {**settings, **EDITS[family]}
    (setting,) = EDITS[family]
    with monkeypatch.context() as patch:
        kill_after_checkpoint(patch)
        with pytest.raises(Killed):
            fit(family, settings, data, tmp_path / "honest")
    with caplog.at_level("INFO", logger="diffshare"):
        afresh = fit(family, edited, data, tmp_path / "honest")
    assert "ignoring checkpoint" in caplog.text and setting in caplog.text
    assert "resumed" not in caplog.text
    assert same(afresh, fit(family, edited, data))

    # What resuming the stale checkpoint would have given (the fingerprint made blind): other.
    with monkeypatch.context() as patch:
        init = TrainingCheckpoint.__init__

        def blind(self, *args, **kwargs):
            init(self, *args, **kwargs)
            self.fingerprint = "the same for every run"

        patch.setattr(TrainingCheckpoint, "__init__", blind)
        with patch.context() as dying:
            kill_after_checkpoint(dying)
            with pytest.raises(Killed):
                fit(family, settings, data, tmp_path / "blind")
        stale = fit(family, edited, data, tmp_path / "blind")
    assert not same(afresh, stale)


def test_a_killed_run_whose_data_changed_starts_afresh(digits, tmp_path, monkeypatch, caplog):
    other = ImageSet(digits.images[::-1].copy(), {"y": digits.attributes["y"][::-1].copy()})
    with monkeypatch.context() as patch:
        kill_after_checkpoint(patch)
        with pytest.raises(Killed):
            fit("sngan", SNGAN, digits, tmp_path)
    with caplog.at_level("WARNING", logger="diffshare"):
        afresh = fit("sngan", SNGAN, other, tmp_path)
    assert "other training data" in caplog.text and "other settings" not in caplog.text
    assert same(afresh, fit("sngan", SNGAN, other))


# -- hostile files in a saved folder -----------------------------------------------------------
#: What an attacker might add to a shared folder: pickles under the names torch, diffusers,
#: ctgan and numpy use (a loader that fell back to one of them would run it).
PLANTED = (
    "model.pt",
    "model.pkl",
    "model.pth",
    "pytorch_model.bin",
    "checkpoint.pt",
    "transforms.npy",
    "unet/diffusion_pytorch_model.bin",
    "unet/diffusion_pytorch_model.pt",
    "unet/pytorch_model.bin",
)


@pytest.mark.parametrize("family", ["tabddpm", "ctgan", "tvae", "ddpm", "edm", "sngan"])
def test_a_pickle_planted_in_a_saved_folder_never_runs(family, data_of, tmp_path):
    """Added beside the saved files, or in place of each file the loader reads: the folder
    loads without running the pickle, or fails; the pickle never runs."""
    if family in ("ctgan", "tvae"):
        model = make_generator(family, {"epochs": 1, "batch_size": 100}, seed=0, device="cpu")
        model.fit(*data_of("tabddpm"))
    else:
        model = fit(family, SETTINGS[family], data_of(family))
    saved = tmp_path / "saved"
    model.save(saved)
    marker = tmp_path / "unpickled"
    payload = pickle.dumps(_TouchOnUnpickle(marker))
    read = sorted(str(p.relative_to(saved)) for p in saved.rglob("*") if p.is_file())
    added = tmp_path / "added"
    shutil.copytree(saved, added)
    for name in PLANTED:
        (added / name).parent.mkdir(parents=True, exist_ok=True)
        (added / name).write_bytes(payload)
    assert load_generator(added, family, device="cpu").family == family
    assert not marker.exists()
    for name in read:
        replaced = tmp_path / f"replaced-{name.replace('/', '-')}"
        shutil.copytree(added, replaced)
        (replaced / name).write_bytes(payload)
        try:
            load_generator(replaced, family, device="cpu")
        except Exception:  # failing is fine; running the payload is not
            pass
        assert not marker.exists(), f"{family}: a pickle as {name} ran"


# -- damaged files in a saved folder ---------------------------------------------------------
@pytest.fixture(scope="module")
def saved_models(german, digits, tmp_path_factory):
    """A saved model of each family with weights, by family (trained once for the module)."""
    folders = {}
    for family in ("tabddpm", "ddpm", "edm", "sngan"):
        folders[family] = tmp_path_factory.mktemp(family) / "model"
        fit(family, SETTINGS[family], german if family == "tabddpm" else digits).save(
            folders[family]
        )
    return folders


def damaged(saved, tmp_path, name, damage):
    """A copy of the folder ``saved`` with file ``name`` truncated to half, replaced by
    broken JSON, or (``"keys"``) by a JSON object holding only its format and family."""
    folder = tmp_path / "damaged"
    shutil.copytree(saved, folder)
    path = folder / name
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "invalid":
        path.write_text('{"format": ')
    else:
        description = json.loads(path.read_text())
        kept = ("format", "family", "_class_name")
        path.write_text(json.dumps({k: v for k, v in description.items() if k in kept}))
    return folder, path


WEIGHTS = {
    "tabddpm": "model.safetensors",
    "ddpm": "unet/diffusion_pytorch_model.safetensors",
    "edm": "unet/diffusion_pytorch_model.safetensors",
    "sngan": "generator.safetensors",
}
DAMAGES = [
    *((family, name, "truncated") for family, name in WEIGHTS.items()),
    ("tabddpm", "transforms.npz", "truncated"),
    *((family, "config.json", damage) for family in WEIGHTS for damage in ("invalid", "keys")),
    *(("ddpm", "unet/config.json", damage) for damage in ("invalid", "keys")),
]


@pytest.mark.parametrize(("family", "name", "damage"), DAMAGES)
def test_a_damaged_saved_file_is_named(family, name, damage, saved_models, tmp_path):
    """A truncated weights file, a config.json that is not JSON or lacks what the model needs:
    DataError naming the file and what is wrong, through the registry and the class alike."""
    folder, path = damaged(saved_models[family], tmp_path, name, damage)
    expected = {
        "truncated": "truncated or damaged",
        "invalid": "not valid JSON",
        "keys": "lacks the key" if name == "config.json" else "do not fit",
    }[damage]
    for load in (
        lambda: load_generator(folder, family, device="cpu"),
        lambda: FAMILIES[family].load_class().load(folder, device="cpu"),
    ):
        with pytest.raises(DataError) as error:
            load()
        assert str(path) in str(error.value) and expected in str(error.value), error.value
