"""The shared model: sample shapes and categories, numerical stability, persistence, resuming."""

import functools
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from conftest import REPO
from diffshare.data.tabular import DatasetSpec, TableSchema, prepare
from diffshare.errors import ConfigError, DiffshareError
from diffshare.generators.tabddpm import (
    MultinomialDiffusion,
    TabularDiffusion,
    TabularDiffusionConfig,
    TrainingError,
)
from diffshare.generators.transforms import QuantileNormal
from diffshare.tensors import set_matmul_precision

SMALL = dict(hidden_dims=[64, 64], embedding_dim=32, steps=60, batch_size=128, num_timesteps=20)


@pytest.fixture(scope="module")
def german(catalogue):
    return prepare(DatasetSpec.from_config("german", catalogue["german"], REPO))


@pytest.fixture(scope="module")
def fitted(german):
    train, _, schema = german
    return TabularDiffusion(TabularDiffusionConfig(**SMALL), seed=0).fit(train, schema)


def test_samples_have_the_training_columns_dtypes_and_categories(german, fitted):
    train, _, _ = german
    samples = fitted.sample(300, seed=1)
    assert list(samples.columns) == list(train.columns)
    assert len(samples) == 300
    for column in train.columns:
        assert samples[column].dtype == train[column].dtype, column
    assert not samples.isna().any().any()
    for column in ["age", "credit_amount"]:  # numeric values stay within the data's range
        assert samples[column].between(train[column].min(), train[column].max()).all()


def test_samples_can_be_drawn_per_class(fitted):
    samples = fitted.sample(4, labels=["good", "bad", "bad", "good"], seed=0)
    assert list(samples["credit"]) == ["good", "bad", "bad", "good"]
    with pytest.raises(DiffshareError, match=r"unknown: \['excellent'\]"):
        fitted.sample(1, labels=["excellent"])


def test_save_load_and_sample_gives_identical_rows(fitted, tmp_path):
    fitted.save(tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [
        "config.json",
        "model.safetensors",
        "transforms.npz",
    ]
    json.loads((tmp_path / "model/config.json").read_text())  # plain JSON, no pickle
    loaded = TabularDiffusion.load(tmp_path / "model")
    pd.testing.assert_frame_equal(fitted.sample(200, seed=7), loaded.sample(200, seed=7))
    assert not fitted.sample(50, seed=7).equals(fitted.sample(50, seed=8))


def many_categories_table(rows=600, columns=15, categories=40, seed=0):
    rng = np.random.default_rng(seed)
    data = {}
    for j in range(columns):
        # Skewed frequencies: some categories are very rare, which strains log-space maths.
        weights = rng.dirichlet(np.full(categories, 0.3))
        values = rng.choice(categories, size=rows, p=weights)
        data[f"c{j}"] = pd.Categorical([f"v{v}" for v in values], [f"v{v}" for v in range(40)])
    data["x"] = rng.normal(size=rows)
    data["y"] = pd.Categorical(rng.choice(["no", "yes"], size=rows))
    table = pd.DataFrame(data)
    schema = TableSchema(
        numeric=["x"],
        categorical=[f"c{j}" for j in range(columns)],
        label="y",
        positive="yes",
        sensitive="c0",
        privileged="v0",
    )
    return table[schema.columns], schema


def test_no_nan_with_fifteen_columns_of_forty_categories():
    table, schema = many_categories_table()
    model = TabularDiffusion(
        TabularDiffusionConfig(**{**SMALL, "steps": 100, "learning_rate": 0.01}), seed=0
    )
    model.fit(table, schema)  # a non-finite loss would raise TrainingError
    samples = model.sample(500, seed=0)
    assert not samples.isna().any().any()
    for column in schema.categorical:
        assert set(samples[column]) <= set(table[column].cat.categories)


def test_posterior_stays_normalised_per_feature():
    multi = MultinomialDiffusion([2, 40, 7], torch.linspace(0.99, 0.01, 30))
    codes = torch.tensor([[1, 39, 6], [0, 0, 0]])
    log_x0 = multi.log_onehot(codes)
    for t in (0, 1, 15, 29):
        steps = torch.full((2,), t)
        posterior = multi.q_posterior(log_x0, multi.log_onehot(codes), steps)
        assert torch.isfinite(multi.segment_lse(posterior)).all()
        np.testing.assert_allclose(posterior.exp().double() @ multi.members, 1.0, atol=1e-5)


def test_one_hot_lookups_equal_the_computed_terms():
    # the training loss and the sampler look up q(x_t | x_0) and q(x_t | x_{t-1}) of one-hot
    # arguments in tables; they must be the values the log-space arithmetic gives (to the last
    # bits: a vectorised and a scalar log differ there)
    multi = MultinomialDiffusion([2, 40, 7, 1], torch.linspace(0.99, 0.01, 30))
    generator = torch.Generator().manual_seed(0)
    rows = 500
    x0, xt = (
        torch.stack([torch.randint(0, k, (rows,), generator=generator) for k in (2, 40, 7, 1)], 1)
        for _ in range(2)
    )
    t = torch.randint(0, 30, (rows,), generator=generator)
    t[:5] = 0
    model = multi.log_softmax(torch.randn(rows, 50, generator=generator))
    log_x0, log_xt = multi.log_onehot(x0), multi.log_onehot(xt)
    same = functools.partial(torch.testing.assert_close, rtol=1e-6, atol=1e-6)
    same(multi.q_marginal_codes(x0, t), multi.q_marginal(log_x0, t))
    same(multi.q_posterior_codes(None, xt, t, x0_codes=x0), multi.q_posterior(log_x0, log_xt, t))
    same(multi.q_posterior_codes(model, xt, t), multi.q_posterior(model, log_xt, t))
    same(
        multi.at_codes(model, x0),
        torch.stack([model[:, int(multi.offsets[f]) + x0[:, f]].diagonal() for f in range(4)], 1),
    )


def test_sampling_never_draws_a_category_of_probability_zero_at_the_extremes():
    # the first and last category of a feature have probability 0: a uniform of 0 or the
    # largest below 1 must still land on a category of positive probability
    multi = MultinomialDiffusion([4, 3], torch.linspace(0.99, 0.01, 10))
    probs = torch.tensor([[0.0, 0.5, 0.5, 0.0, 0.0, 1.0, 0.0]]).expand(3, -1)
    largest = 1.0 - 2.0**-53
    uniform = torch.tensor([[0.0, 0.0], [0.5, 0.5], [largest, largest]], dtype=torch.float64)
    codes = multi.locate(probs.log(), uniform)
    assert codes.tolist() == [[1, 1], [2, 1], [2, 1]]


def test_segment_sums_keep_float32_precision_at_medium_matmul_precision():
    # at "medium" torch may multiply float32 matrices in bfloat16 (a CPU with AMX): the
    # per-feature sums that normalise the categories must not lose precision with it
    multi = MultinomialDiffusion([9, 16, 7, 41], torch.linspace(0.99, 0.01, 10))
    logits = torch.randn(2000, 73, generator=torch.Generator().manual_seed(0)) * 3
    exact = multi.normalise(logits.double()).float()
    try:
        set_matmul_precision("medium")
        normalised = multi.normalise(logits)
    finally:
        set_matmul_precision("highest")
    torch.testing.assert_close(normalised, exact, rtol=0, atol=1e-5)
    with pytest.raises(ConfigError, match="'low'"):
        set_matmul_precision("low")


# Minor page faults of a process that allocates and frees a 40 MB tensor 50 times, as the steps
# of a model do with their activations, after reuse_freed_memory() or not. By default glibc
# maps every one afresh (it raises its threshold by itself only up to 32 MiB).
FAULTS = """
import resource, sys, torch
from diffshare.tensors import reuse_freed_memory
applied = reuse_freed_memory() if sys.argv[1] == "reuse" else False
x = torch.ones(10_000, 1024)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    y = x * 2.0
    del y
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _huge_pages_always() -> bool:
    path = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    return path.is_file() and "[always]" in path.read_text()


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's mallopt")
@pytest.mark.skipif(_huge_pages_always(), reason="huge pages: few faults either way")
def test_reused_memory_spares_the_page_faults_of_every_step():
    faults = {}
    for mode in ("default", "reuse"):
        out = subprocess.run(
            [sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, check=True
        )
        applied, faults[mode] = out.stdout.split()
        assert applied == str(mode == "reuse")
    # each 40 MB tensor is ~10,000 fresh pages by default; reused, most steps fault none
    assert int(faults["default"]) > 250_000, faults
    assert int(faults["reuse"]) < int(faults["default"]) / 4, faults


def per_feature(multi, flat, reduce):
    """``reduce`` applied to each feature's own columns of ``flat``, one feature at a time."""
    bounds = multi.offsets.tolist()
    return [reduce(flat[:, a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def test_flat_reductions_match_one_feature_at_a_time():
    # The flat layout's segment reductions against torch's own, feature by feature, at scales
    # where a shift by the row's maximum instead of the feature's would underflow.
    multi = MultinomialDiffusion([2, 41, 1, 7], torch.linspace(0.99, 0.01, 30))
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 51, generator=generator) * 5
    logits[:, 2:43] -= 200.0
    logits[:3, 43] = -math.inf  # a one-category feature whose only entry is -inf
    lse = multi.segment_lse(logits)
    expected = torch.stack(per_feature(multi, logits, lambda x: torch.logsumexp(x, 1)), 1)
    torch.testing.assert_close(lse, expected)
    normalised = multi.log_softmax(logits[3:])
    expected = torch.cat(per_feature(multi, logits[3:], lambda x: x.log_softmax(1)), 1)
    torch.testing.assert_close(normalised, expected)
    # the gradient of a per-feature log-sum-exp is each feature's softmax
    leaf = logits[3:].clone().requires_grad_()
    multi.segment_lse(leaf).sum().backward()
    torch.testing.assert_close(leaf.grad, expected.exp())


def test_sampling_draws_each_feature_from_its_own_categories():
    multi = MultinomialDiffusion([2, 5, 3], torch.linspace(0.99, 0.01, 30))
    probs = torch.tensor([0.9, 0.1, 0.0, 0.0, 1.0, 0.0, 0.0, 0.2, 0.3, 0.5])
    codes = multi.sample(probs.log().expand(20000, -1), torch.Generator().manual_seed(0))
    assert codes.shape == (20000, 3) and (codes[:, 1] == 2).all()
    shares = torch.stack([torch.bincount(c, minlength=3)[:3] for c in codes.T]).float() / 20000
    np.testing.assert_allclose(shares[0, :2], [0.9, 0.1], atol=0.01)
    np.testing.assert_allclose(shares[2], [0.2, 0.3, 0.5], atol=0.01)


def test_quantile_transform_round_trips():
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.exponential(size=2000), rng.choice([0, 0, 0, 5, 9], size=2000)])
    transform = QuantileNormal(200).fit(x)
    z = transform.transform(x)
    assert abs(z[:, 0].mean()) < 0.05 and abs(z[:, 0].std() - 1) < 0.05
    restored = QuantileNormal.from_state(transform.state()).inverse_transform(z)
    np.testing.assert_allclose(restored[:, 1], x[:, 1], atol=1e-6)
    np.testing.assert_allclose(restored[:, 0], x[:, 0], rtol=0.05, atol=0.05)


def test_non_finite_loss_stops_training_naming_the_step(german):
    train, _, schema = german
    model = TabularDiffusion(TabularDiffusionConfig(**{**SMALL, "learning_rate": 1e30}), seed=0)
    with pytest.raises(TrainingError, match=r"non-finite loss at step \d+"):
        model.fit(train, schema)


def test_invalid_settings_are_named():
    with pytest.raises(DiffshareError, match=r"dropout=1.5"):
        TabularDiffusionConfig(dropout=1.5)


RESUME_SCRIPT = """
import sys
from diffshare.data.tabular import TableSchema
from diffshare.storage import read_json, read_parquet
from diffshare.generators.tabddpm import TabularDiffusion, TabularDiffusionConfig
config = TabularDiffusionConfig(**read_json(sys.argv[1]))
model = TabularDiffusion(config, seed=0, checkpoint_dir=sys.argv[2], checkpoint_every=20)
model.fit(read_parquet(sys.argv[3]), TableSchema.from_dict(read_json(sys.argv[4])))
"""


def test_killed_training_resumes_from_its_checkpoint(german, tmp_path, caplog):
    """Kill a real training process after a checkpoint; a new run resumes there and ends with
    the same weights as an uninterrupted run."""
    train, _, schema = german
    settings = {**SMALL, "steps": 600}
    paths = {name: tmp_path / name for name in ("config.json", "schema.json", "train.parquet")}
    paths["config.json"].write_text(json.dumps(settings))
    paths["schema.json"].write_text(json.dumps(schema.to_dict()))
    train.to_parquet(paths["train.parquet"])
    checkpoints = tmp_path / "checkpoints"
    arguments = [paths["config.json"], checkpoints, paths["train.parquet"], paths["schema.json"]]
    process = subprocess.Popen([sys.executable, "-c", RESUME_SCRIPT, *map(str, arguments)])
    deadline = time.monotonic() + 120
    while not (checkpoints / "checkpoint.pt").exists():
        assert process.poll() is None, "training ended before its first checkpoint"
        assert time.monotonic() < deadline, "no checkpoint within two minutes"
        time.sleep(0.01)
    process.kill()
    process.wait()
    saved_step = torch.load(checkpoints / "checkpoint.pt", weights_only=True)["step"]
    assert 20 <= saved_step < 600

    config = TabularDiffusionConfig(**settings)
    with caplog.at_level("INFO", logger="diffshare"):
        resumed = TabularDiffusion(config, seed=0, checkpoint_dir=checkpoints).fit(train, schema)
    assert f"at step {saved_step}" in caplog.text
    uninterrupted = TabularDiffusion(config, seed=0).fit(train, schema)
    for name, weight in uninterrupted.denoiser_.state_dict().items():
        torch.testing.assert_close(resumed.denoiser_.state_dict()[name], weight, msg=name)
    resumed.remove_checkpoint()
    assert not (checkpoints / "checkpoint.pt").exists()


def test_checkpoint_of_other_settings_is_ignored(german, tmp_path, caplog):
    train, _, schema = german
    first = TabularDiffusion(
        TabularDiffusionConfig(**{**SMALL, "steps": 30}),
        checkpoint_dir=tmp_path,
        checkpoint_every=10,
    )
    first.fit(train, schema)
    assert (tmp_path / "checkpoint.pt").exists()
    with caplog.at_level("INFO", logger="diffshare"):
        TabularDiffusion(
            TabularDiffusionConfig(**{**SMALL, "steps": 30, "learning_rate": 1e-3}),
            checkpoint_dir=tmp_path,
        ).fit(train, schema)
    assert "ignoring checkpoint" in caplog.text
    assert "config.learning_rate 0.002 -> 0.001" in caplog.text
    assert not (tmp_path / "checkpoint.pt").exists()  # discarded; no checkpoint was due since


def model_settings(configfile: str) -> dict:
    """``generator.tabular`` of the default config, with ``configfile``'s values over it."""
    default = yaml.safe_load((REPO / "config/config.yaml").read_text())["generator"]["tabular"]
    overrides = yaml.safe_load((REPO / configfile).read_text())["generator"].get("tabular", {})
    return {**default, **overrides}


@pytest.mark.parametrize(
    "configfile, steps",
    # The PIA's few training steps on the tiny config; a few steps of the default model (it drew
    # 89 of 1000 rows "female" after 20 steps, and still 6 after 100).
    [("config/tiny.yaml", 100), ("config/config.yaml", 20)],
)
def test_a_category_without_training_rows_is_never_sampled(german, tmp_path, configfile, steps):
    """PIA at ratio 0: the sharer's table is all male. The schema still declares "female", and
    the samples keep that category set, but no row may be female (it drew about half)."""
    train, _, schema = german
    males = train[train["sex"] == "male"]
    settings = TabularDiffusionConfig(**{**model_settings(configfile), "steps": steps})
    model = TabularDiffusion(settings, seed=0, device="cpu").fit(males, schema)
    samples = model.sample(1000, seed=0)
    assert list(samples["sex"].cat.categories) == ["female", "male"]
    assert (samples["sex"] == "male").all(), samples["sex"].value_counts().to_dict()
    model.save(tmp_path / "model")
    loaded = TabularDiffusion.load(tmp_path / "model", device="cpu")
    pd.testing.assert_frame_equal(loaded.sample(300, seed=3), model.sample(300, seed=3))


def test_a_label_without_training_rows_is_never_sampled(german):
    """The property may be the label: at ratio 0 no training row has it, and the model neither
    draws it nor takes it as a class to draw."""
    train, _, schema = german
    good = train[train["credit"] == "good"]
    model = TabularDiffusion(TabularDiffusionConfig(**SMALL), seed=0).fit(good, schema)
    samples = model.sample(300, seed=0)
    assert list(samples["credit"].cat.categories) == ["bad", "good"]
    assert (samples["credit"] == "good").all()
    with pytest.raises(DiffshareError, match=r"no training row: \['bad'\]"):
        model.sample(2, labels=["good", "bad"])
