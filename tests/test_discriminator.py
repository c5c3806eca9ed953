"""The property discriminator protocol: every classifier of both tracks plugs into the one
estimation skeleton, and settings, truths and useless discriminators fail clearly."""

import inspect

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from diffshare.attacks.pia.discriminator import (
    DiscriminatorSettings,
    PropertyDiscriminator,
    discriminate,
)
from diffshare.attacks.pia.estimate import estimate_property
from diffshare.attacks.pia.property import Property
from diffshare.data.images import ImageSet
from diffshare.data.schema import TableSchema
from diffshare.errors import ConfigError, DataError
from diffshare.receivers.cnn import CnnClassifier
from diffshare.tracks import adapter
from diffshare.tracks import image as image_track
from diffshare.tracks import tabular as tabular_track

STAGES = (
    "read_set",
    "write_set",
    "mine_row_terms",
    "select",
    "receiver_predictions",
    "sharer_set",
    "estimate_property",
)


def separable(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian clouds in 2-d, a third of the rows with the property (label 1)."""
    rng = np.random.default_rng(seed)
    truth = (np.arange(n) % 3 == 0).astype(np.int8)
    return rng.normal(size=(n, 2)) + 2.0 * truth[:, None], truth


def settings(classifier: str, params: dict | None = None) -> DiscriminatorSettings:
    return DiscriminatorSettings(classifier, params or {}, 0.5)


def test_settings_name_the_bad_key():
    known = ("hgb", "logreg")
    entry = {"classifier": "hgb", "params": {"max_iter": 5}, "holdout": 0.25}
    assert DiscriminatorSettings.from_config(entry, known) == DiscriminatorSettings(
        "hgb", {"max_iter": 5}, 0.25
    )
    with pytest.raises(ConfigError, match=r"pia.discriminator.classifier must be one of"):
        DiscriminatorSettings.from_config({"classifier": "svm"}, known, "pia.discriminator")
    with pytest.raises(ConfigError, match=r"discriminator.holdout must be in \(0, 1\), got 1.0"):
        DiscriminatorSettings.from_config({"classifier": "hgb", "holdout": 1}, known)
    with pytest.raises(ConfigError, match=r"unknown keys \['epochs'\]"):
        DiscriminatorSettings.from_config({"classifier": "hgb", "epochs": 3}, known)


def test_the_skeleton_splits_fits_rates_and_predicts_as_documented():
    auxiliary, truth = separable(300, seed=0)
    samples, _ = separable(200, seed=1)
    discriminator = PropertyDiscriminator(
        LogisticRegression(), settings("logreg"), auxiliary, truth, samples
    )
    estimates, record = estimate_property(
        len(samples), ["aux", "aux_corrected"], [50], 4, discriminator=discriminator, seed=7
    )
    # The same steps by hand: a stratified split with the seed, fit, rates, hard predictions.
    fit, held = train_test_split(np.arange(300), test_size=0.5, random_state=7, stratify=truth)
    model = LogisticRegression().fit(auxiliary[fit], truth[fit])
    held_predicted = model.predict(auxiliary[held]).astype(bool)
    tpr = held_predicted[truth[held] == 1].mean()
    fpr = held_predicted[truth[held] == 0].mean()
    assert (record["tpr"], record["fpr"]) == (tpr, fpr)
    assert record["discriminator"] == "logreg" and record["n_auxiliary_fit"] == 150
    aux = estimates[estimates["attack"] == "aux"]["estimate"].to_numpy()
    np.testing.assert_array_equal(aux, model.predict(samples).reshape(4, 50).mean(axis=1))


def test_a_chance_level_discriminator_cannot_be_corrected():
    auxiliary, truth = separable(100, seed=0)
    always = DummyClassifier(strategy="constant", constant=1)
    discriminator = PropertyDiscriminator(always, settings("always"), auxiliary, truth, auxiliary)
    estimates, _ = estimate_property(100, ["aux"], [10], 2, discriminator=discriminator)
    assert estimates["estimate"].tolist() == [1.0, 1.0]  # uncorrected: reported as it is
    with pytest.raises(
        DataError, match=r"discriminator 'always' is no better than chance .* \(TPR 1.000 <= FPR"
    ):
        estimate_property(100, ["aux_corrected"], [10], 2, discriminator=discriminator)
    with pytest.raises(ConfigError, match=r"\['aux'\] need a discriminator"):
        estimate_property(100, ["aux"], [10], 2)


def test_truths_that_cannot_rate_a_discriminator_are_refused():
    auxiliary, truth = separable(30, seed=0)
    options = {"name": "logreg", "holdout": 0.5, "seed": 0}
    three = truth.copy()
    three[0] = 2
    with pytest.raises(DataError, match=r"property must be 0/1, got the values \[0, 1, 2\]"):
        discriminate(LogisticRegression(), auxiliary, three, auxiliary, **options)
    one = np.zeros(30, dtype=np.int8)
    one[0] = 1
    with pytest.raises(DataError, match=r"at least two auxiliary rows with .* \(1 of 30 have it\)"):
        discriminate(LogisticRegression(), auxiliary, one, auxiliary, **options)


@pytest.fixture(scope="module")
def table():
    """A small prepared table whose property (group == b) the numeric column reveals."""
    rng = np.random.default_rng(0)
    group = np.where(np.arange(400) % 4 == 0, "b", "a")
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=400) + 2.0 * (group == "b"),
            "group": pd.Categorical(group, categories=["a", "b"]),
            "sex": pd.Categorical(rng.choice(["f", "m"], size=400), categories=["f", "m"]),
            "y": pd.Categorical(rng.choice(["no", "yes"], size=400), categories=["no", "yes"]),
        }
    )
    schema = TableSchema(
        numeric=["x"],
        categorical=["group", "sex"],
        label="y",
        positive="yes",
        sensitive="sex",
        privileged="m",
        categories={"group": ["a", "b"], "sex": ["f", "m"], "y": ["no", "yes"]},
    )
    return frame, schema


@pytest.mark.parametrize("classifier", ["hgb", "logreg", "mlp"])
def test_every_tabular_classifier_plugs_in(table, classifier):
    frame, schema = table
    estimates, record = tabular_track.estimate_property(
        frame.iloc[300:],
        frame.iloc[:300],
        Property("group", "b"),
        schema=schema,
        attacks=["column", "aux", "aux_corrected"],
        queries=[50],
        repeats=2,
        discriminator={"classifier": classifier, "params": {"max_iter": 50}, "holdout": 0.5},
    )
    assert record["discriminator"] == classifier and record["tpr"] > record["fpr"]
    assert len(estimates) == 3 * 2 and estimates["estimate"].between(0, 1).all()


def test_a_bad_classifier_parameter_is_a_config_error(table):
    frame, schema = table
    with pytest.raises(ConfigError, match=r"classifier 'logreg': invalid parameter"):
        tabular_track.estimate_property(
            frame, frame, Property("group", "b"), schema=schema, attacks=["aux"], queries=[10],
            repeats=1, discriminator={"classifier": "logreg", "params": {"depth": 3}},
        )  # fmt: skip


def test_the_cnn_plugs_in_as_the_image_track_used_it():
    """The image track's CNN discriminator is CnnClassifier(balanced=True) on the images."""
    rng = np.random.default_rng(0)
    truth = (np.arange(120) % 3 == 0).astype(np.int64)
    pixels = rng.integers(0, 60, size=(120, 32, 32, 1)) + 150 * truth[:, None, None, None]
    auxiliary = ImageSet(pixels.astype(np.uint8), {"bright": truth})
    samples = ImageSet(auxiliary.images[::-1].copy())
    params = {"epochs": 1, "batch_size": 16}
    estimates, record = image_track.estimate_property(
        samples,
        auxiliary,
        Property("bright", "1"),
        attacks=["aux"],
        queries=[40],
        repeats=3,
        discriminator={"classifier": "cnn", "params": params, "holdout": 0.5},
        seed=3,
        device="cpu",
    )
    fit, _ = train_test_split(np.arange(120), test_size=0.5, random_state=3, stratify=truth)
    model = CnnClassifier(balanced=True, seed=3, device="cpu", **params)
    model.fit(auxiliary.images[fit], truth[fit])
    expected = model.predict(samples.images).reshape(3, 40).mean(axis=1)
    np.testing.assert_array_equal(estimates["estimate"].to_numpy(), expected)
    assert record["discriminator"] == "cnn"


def test_both_adapters_expose_the_same_stages():
    tabular, image = adapter("tabular"), adapter("image")
    assert tabular is tabular_track and image is image_track
    for stage in STAGES:
        first = [
            name
            for name, parameter in inspect.signature(getattr(tabular, stage)).parameters.items()
            if parameter.kind is parameter.POSITIONAL_OR_KEYWORD
        ]
        assert first == [
            name
            for name, parameter in inspect.signature(getattr(image, stage)).parameters.items()
            if parameter.kind is parameter.POSITIONAL_OR_KEYWORD
        ], stage
    assert set(tabular.DISCRIMINATORS) == {"hgb", "logreg", "mlp"}
    assert set(image.DISCRIMINATORS) == {"cnn", "clip_logreg"}
    with pytest.raises(ConfigError, match=r"kind must be one of \['tabular', 'image'\]"):
        adapter("audio")
