"""CTGAN and TVAE (ctgan package) behind the shared-model interface, saved without pickle."""

import contextlib
import json
import pickle
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from conftest import REPO
from diffshare.data.tabular import DatasetSpec, prepare
from diffshare.errors import ConfigError, DataError
from diffshare.generators import load_generator
from diffshare.generators.ctgan import CtganGenerator

SAVED = ["config.json", "network.safetensors", "transformer.safetensors"]


@pytest.fixture(scope="module")
def german(catalogue):
    train, _, schema = prepare(DatasetSpec.from_config("german", catalogue["german"], REPO))
    return train, schema


@pytest.mark.parametrize("kind", ["ctgan", "tvae"])
def test_samples_keep_the_training_columns_and_dtypes(german, kind, tmp_path):
    train, schema = german
    model = CtganGenerator(kind, {"epochs": 2, "batch_size": 100}, seed=0, device="cpu")
    samples = model.fit(train, schema).sample(300, seed=1)
    assert list(samples.columns) == list(train.columns) and len(samples) == 300
    assert (samples.dtypes == train.dtypes).all()  # same category sets, integer numerics
    for column in schema.categorical:
        assert set(samples[column].astype(str)) <= set(schema.categories[column])
    assert not samples.isna().any().any()
    # Saved and loaded through the registry's loader: the same seed gives the same rows.
    model.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == SAVED
    again = load_generator(tmp_path, kind, device="cpu").sample(300, seed=1)
    pd.testing.assert_frame_equal(again, samples)
    assert not again.equals(model.sample(300, seed=2))
    # Training is seeded too: a second fit gives the same model.
    twin = CtganGenerator(kind, {"epochs": 2, "batch_size": 100}, seed=0, device="cpu")
    pd.testing.assert_frame_equal(twin.fit(train, schema).sample(300, seed=1), samples)


def test_unknown_kind_and_parameter_are_named(german):
    train, schema = german
    with pytest.raises(ConfigError, match="unknown ctgan generator 'gan'"):
        CtganGenerator("gan")
    with pytest.raises(ConfigError, match="generator 'tvae': invalid parameter"):
        CtganGenerator("tvae", {"epoch": 1}, device="cpu").fit(train, schema)


def test_loader_refuses_a_folder_without_a_model(tmp_path):
    with pytest.raises(DataError, match="lacks config.json"):
        load_generator(tmp_path, "ctgan")
    (tmp_path / "config.json").write_text('{"format": "other"}')
    with pytest.raises(DataError, match="names format 'other'"):
        load_generator(tmp_path, "ctgan")


class _TouchOnUnpickle:
    """Unpickling this creates ``path``: a stand-in for a hostile pickle."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return Path.touch, (Path(self.path),)


def _refuse(*args, **kwargs):
    raise AssertionError("loading a saved model must not unpickle anything")


@pytest.mark.parametrize("kind", ["ctgan", "tvae"])
def test_a_loaded_model_draws_exactly_the_rows_of_the_pickled_one(
    german, kind, tmp_path, monkeypatch
):
    """Network state as safetensors, the fitted transformer as JSON and arrays: rebuilt on
    load without unpickling, it draws the rows ctgan's own pickle of the same model draws."""
    train, schema = german
    model = CtganGenerator(kind, {"epochs": 1, "batch_size": 100}, seed=0, device="cpu")
    model.fit(train, schema)
    fitted = model.sample(250, seed=3)  # sampling first must not change what is saved
    model.model_.save(str(tmp_path / "pickled.pt"))  # ctgan's own pickle, as before
    model.save(tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == SAVED
    with monkeypatch.context() as patch:
        for module, name in [(pickle, "load"), (pickle, "loads"), (torch, "load")]:
            patch.setattr(module, name, _refuse)
        loaded = load_generator(tmp_path / "model", kind, device="cpu")
    pd.testing.assert_frame_equal(loaded.sample(250, seed=3), fitted)
    pickled = type(model.model_).load(str(tmp_path / "pickled.pt"))
    pickled.set_device(torch.device("cpu"))
    for seed in (0, 7):  # the raw draws of ctgan, before diffshare restores the dtypes
        pickled.set_random_state(seed)
        loaded.model_.set_random_state(seed)
        pd.testing.assert_frame_equal(loaded.model_.sample(130), pickled.sample(130))
        pd.testing.assert_frame_equal(loaded.sample(130, seed=seed), model.sample(130, seed=seed))


def test_the_pickled_format_is_refused_without_unpickling(german, tmp_path):
    """A folder saved by an earlier diffshare (``model.pt``, ctgan's pickle) must be retrained."""
    marker = tmp_path / "unpickled"
    old = tmp_path / "old"
    old.mkdir()
    (old / "model.pt").write_bytes(pickle.dumps(_TouchOnUnpickle(marker)))
    description = {"format": "diffshare-ctgan", "family": "ctgan", "kind": "ctgan", "seed": 0}
    (old / "config.json").write_text(json.dumps(description))
    with pytest.raises(DataError, match=r"retrain") as error:
        load_generator(old, "ctgan")
    assert str(old) in str(error.value) and "'diffshare-ctgan'" in str(error.value)
    # Only model.pt beside the current format's config.json, or no config.json at all.
    train, schema = german
    model = CtganGenerator("tvae", {"epochs": 1, "batch_size": 100}, seed=0, device="cpu")
    model.fit(train, schema).save(old)
    for name in ("network.safetensors", "transformer.safetensors"):
        (old / name).unlink()
    with pytest.raises(DataError, match=r"retrain") as error:
        load_generator(old, "tvae")
    assert str(old) in str(error.value)
    (old / "config.json").unlink()
    with pytest.raises(DataError, match=r"retrain"):
        CtganGenerator.load(old)
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["ctgan", "tvae"])
def test_a_damaged_folder_fails_naming_it(german, kind, tmp_path):
    train, schema = german
    model = CtganGenerator(kind, {"epochs": 1, "batch_size": 100}, seed=0, device="cpu")
    model.fit(train, schema).save(tmp_path)
    good = (tmp_path / "transformer.safetensors").read_bytes()
    (tmp_path / "transformer.safetensors").write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="transformer.safetensors") as error:
        load_generator(tmp_path, kind, device="cpu")
    assert str(tmp_path) in str(error.value)
    (tmp_path / "transformer.safetensors").write_bytes(good)
    description = json.loads((tmp_path / "config.json").read_text())
    description["synthesizer"]["transformer"]["columns"][0]["dtype"] = "datetime64[ns]"
    (tmp_path / "config.json").write_text(json.dumps(description))
    with pytest.raises(DataError, match=r"config.json.*'datetime64\[ns\]'"):
        load_generator(tmp_path, kind, device="cpu")
    other = "tvae" if kind == "ctgan" else "ctgan"
    for edit, message in [
        ({"kind": other}, f"family '{kind}' and kind '{other}'"),
        ({"params": {"epochs": 1, "batch_size": 100, "epoch": 1}}, "unexpected .*'epoch'"),
        ({"synthesizer": None}, "do not describe a fitted"),
    ]:
        (tmp_path / "config.json").write_text(json.dumps({**description, **edit}))
        with pytest.raises(DataError, match=f"config.json.*{message}"):
            load_generator(tmp_path, kind, device="cpu")
    kept = {k: description[k] for k in ("format", "family")}
    (tmp_path / "config.json").write_text(json.dumps(kept))
    with pytest.raises(DataError, match="config.json lacks the key 'kind'"):
        CtganGenerator.load(tmp_path, device="cpu")


@pytest.mark.parametrize("kind", ["ctgan", "tvae"])
def test_fit_steps_fused_adam_and_restores_the_package(german, kind):
    from ctgan.synthesizers import ctgan as ctgan_module
    from ctgan.synthesizers import tvae as tvae_module

    train, schema = german
    fused = []
    handle = register_optimizer_step_pre_hook(
        lambda optimizer, args, kwargs: fused.append(optimizer.defaults["fused"])
    )
    try:
        CtganGenerator(kind, {"epochs": 1, "batch_size": 100}, seed=0, device="cpu").fit(
            train, schema
        )
    finally:
        handle.remove()
    assert fused and all(fused)
    assert ctgan_module.optim is torch.optim and tvae_module.Adam is torch.optim.Adam


def test_fused_adam_is_the_same_update():
    from diffshare.generators.ctgan import fused_adam

    torch.manual_seed(0)
    weights = [torch.randn(64, 32), torch.randn(32)]
    grads = [torch.randn_like(w) for w in weights]
    steps = {}
    for name, fused in (("loop", False), ("fused", True)):
        params = [torch.nn.Parameter(w.clone()) for w in weights]
        optimizer = torch.optim.Adam(
            params, lr=2e-4, betas=(0.5, 0.9), weight_decay=1e-6, fused=fused
        )
        for _ in range(3):
            for p, g in zip(params, grads, strict=True):
                p.grad = g.clone()
            optimizer.step()
        steps[name] = params
    for a, b in zip(steps["loop"], steps["fused"], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    with fused_adam() as applied:
        from ctgan.synthesizers import tvae as tvae_module

        assert applied and tvae_module.Adam(steps["loop"]).defaults["fused"] is True


def test_fused_adam_leaves_an_unknown_ctgan_alone(monkeypatch):
    from ctgan.synthesizers import tvae as tvae_module

    from diffshare.generators.ctgan import fused_adam

    other = type("Adam", (torch.optim.Adam,), {})
    monkeypatch.setattr(tvae_module, "Adam", other)
    with fused_adam() as applied:
        assert not applied and tvae_module.Adam is other
    assert tvae_module.Adam is other


@pytest.mark.parametrize("kind", ["ctgan", "tvae"])
def test_batched_rows_train_the_same_model_and_restore_the_package(german, kind, monkeypatch):
    from ctgan.data_sampler import DataSampler
    from ctgan.synthesizers import tvae as tvae_module
    from torch.utils.data import DataLoader

    import diffshare.generators.ctgan as ctgan_generators

    package = DataSampler.__dict__["sample_data"]
    train, schema = german
    settings = {"epochs": 2, "batch_size": 100}
    batched = CtganGenerator(kind, settings, seed=4, device="cpu").fit(train, schema)
    assert DataSampler.__dict__["sample_data"] is package and tvae_module.DataLoader is DataLoader
    with monkeypatch.context() as patch:  # the package's own row-by-row feeding
        patch.setattr(ctgan_generators, "batched_rows", contextlib.nullcontext)
        plain = CtganGenerator(kind, settings, seed=4, device="cpu").fit(train, schema)
    networks = [
        m.model_._generator.state_dict() if kind == "ctgan" else m.model_.decoder.state_dict()
        for m in (batched, plain)
    ]
    assert networks[0].keys() == networks[1].keys()
    for name in networks[0]:
        assert torch.equal(networks[0][name], networks[1][name]), name
    pd.testing.assert_frame_equal(batched.sample(50, seed=1), plain.sample(50, seed=1))


def test_batched_ctgan_rows_are_the_package_draws():
    import numpy as np
    from ctgan.data_sampler import DataSampler

    from diffshare.generators.ctgan import batched_rows

    rng = np.random.RandomState(0)
    sampler = DataSampler.__new__(DataSampler)  # only the row lists sample_data reads
    sampler._rid_by_cat_cols = [
        [np.flatnonzero(rng.randint(0, k, 3000) == o) for o in range(k)] for k in (2, 7, 41)
    ]
    data = rng.rand(3000, 5)
    col = rng.randint(0, 3, 400)
    opt = np.array([rng.randint(0, len(sampler._rid_by_cat_cols[c])) for c in col])
    drawn = {}
    for name, context in (("package", contextlib.nullcontext), ("batched", batched_rows)):
        np.random.seed(7)
        with context():
            rows = sampler.sample_data(data, len(col), col, opt)
            rows_without_columns = sampler.sample_data(data, 10, None, None)
        drawn[name] = rows, rows_without_columns, np.random.randint(1 << 30)
    for package, batched in zip(drawn["package"], drawn["batched"], strict=True):
        np.testing.assert_array_equal(package, batched)


def test_batched_rows_leave_an_unknown_ctgan_alone(monkeypatch):
    from ctgan.data_sampler import DataSampler
    from ctgan.synthesizers import tvae as tvae_module

    from diffshare.generators.ctgan import batched_rows

    package = DataSampler.__dict__["sample_data"]
    other = type("DataLoader", (torch.utils.data.DataLoader,), {})
    monkeypatch.setattr(tvae_module, "DataLoader", other)
    with batched_rows() as applied:
        assert not applied and tvae_module.DataLoader is other
        assert DataSampler.__dict__["sample_data"] is package
