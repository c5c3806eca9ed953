"""Outputs get the permissions the umask gives a new file, whatever writes them: the atomic
writers (a private temporary file renamed into place), and the saved models' folders (weights
through safetensors, diffusers' ``save_pretrained``, checkpoints through ``torch.save``)."""

import os
import stat

import numpy as np
import pandas as pd
import pytest

from diffshare import storage
from diffshare.data.images import ImageSet
from diffshare.data.schema import TableSchema
from diffshare.generators import make_generator
from diffshare.generators.image_sampling import sample_grid


@pytest.fixture(params=[0o022, 0o027], ids=["umask022", "umask027"])
def umask(request):
    """The umask of the test (then the previous one again)."""
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def modes(root) -> dict[str, int]:
    """The permission bits of every file and folder under ``root`` (pytest made ``root``)."""
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in root.rglob("*")}


def assert_umask_modes(root, umask):
    found = modes(root)
    expected = {name: (0o777 if (root / name).is_dir() else 0o666) & ~umask for name in found}
    assert found == expected, {k: oct(v) for k, v in found.items() if v != expected[k]}


def test_the_umask_is_read_without_changing_it(umask):
    assert storage.umask() == umask
    assert storage.new_file_mode() == 0o666 & ~umask
    assert os.umask(umask) == umask  # unchanged by the reads


def test_without_proc_the_umask_is_read_once_by_setting_it(umask, monkeypatch):
    def no_proc(*args, **kwargs):
        raise OSError("no /proc here")

    monkeypatch.setattr(storage, "open", no_proc, raising=False)
    storage._umask_by_setting.cache_clear()
    assert storage.umask() == umask and os.umask(umask) == umask
    storage._umask_by_setting.cache_clear()


def test_every_writer_gives_the_umask_permissions(tmp_path, umask):
    table = pd.DataFrame({"alpha": [0.0, 0.5], "value": [0.1, 0.2]})
    storage.write_parquet(table, tmp_path / "new/table.parquet")
    storage.write_csv(table, tmp_path / "new/table.csv")
    storage.write_json({"a": 1}, tmp_path / "new/deeper/record.json")
    storage.write_model_config(tmp_path / "model", {"format": "test"})
    images = ImageSet(np.zeros((4, 8, 8, 1), dtype=np.uint8), {"y": np.arange(4)})
    images.save(tmp_path / "images/set.npz")
    sample_grid(images, tmp_path / "images/grid.png", columns=2)
    with storage.atomic_path(tmp_path / "other/file.bin") as tmp:  # as figures, ctgan, torch
        tmp.write_bytes(b"written by another library")
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) == 7
    assert_umask_modes(tmp_path, umask)


def test_a_replaced_output_gets_the_umask_permissions_too(tmp_path, umask):
    path = tmp_path / "record.json"
    path.write_text("{}")
    path.chmod(0o600)
    storage.write_json({"a": 1}, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def small_table(rows=60, seed=0):
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(
        {
            "x": rng.normal(size=rows),
            "c": pd.Categorical(rng.choice(["p", "q", "r"], size=rows)),
            "s": pd.Categorical(rng.choice(["a", "b"], size=rows)),
            "y": pd.Categorical(rng.choice(["no", "yes"], size=rows)),
        }
    )
    schema = TableSchema(
        numeric=["x"],
        categorical=["c", "s"],
        label="y",
        positive="yes",
        sensitive="s",
        privileged="a",
        categories={"c": ["p", "q", "r"], "s": ["a", "b"], "y": ["no", "yes"]},
    )
    return table, schema


SETTINGS = {
    "tabddpm": {"hidden_dims": [16], "embedding_dim": 8, "num_timesteps": 5, "steps": 2},
    "ctgan": {"epochs": 1, "batch_size": 20},
    "ddpm": {
        "base_channels": 8,
        "channel_mults": [1, 1],
        "norm_num_groups": 4,
        "attention_levels": [],
        "layers_per_block": 1,
        "num_train_timesteps": 20,
        "steps": 2,
        "batch_size": 4,
    },
    "sngan": {"steps": 2, "batch_size": 4, "latent": 8, "width": 8},
}


@pytest.mark.parametrize("family", list(SETTINGS))
def test_a_saved_model_folder_and_its_checkpoint_get_the_umask_permissions(family, tmp_path, umask):
    """End to end: train (checkpointing every step where the family can), save; the weights
    (safetensors, for ddpm through diffusers' save_pretrained), config.json files, transforms,
    folders and checkpoint all have the umask's permissions."""
    checkpoints = tmp_path / "checkpoints/model"
    options = {"seed": 0, "device": "cpu", "checkpoint_dir": checkpoints, "checkpoint_every": 1}
    if family in ("tabddpm", "ctgan"):
        model = make_generator(family, SETTINGS[family], **options).fit(*small_table())
    else:
        shape = {"num_classes": 2, "channels": 1, "image_size": 32}
        model = make_generator(family, SETTINGS[family], **options, **shape)
        rng = np.random.default_rng(0)
        model.fit(rng.integers(0, 256, (8, 32, 32, 1), dtype=np.uint8), np.arange(8) % 2)
    model.save(tmp_path / "results/generators/model")
    saved = {p.name for p in (tmp_path / "results/generators/model").rglob("*")}
    assert "config.json" in saved and any(name.endswith(".safetensors") for name in saved)
    assert (checkpoints / "checkpoint.pt").is_file() == (family != "ctgan")  # no ctgan loop
    assert_umask_modes(tmp_path, umask)
