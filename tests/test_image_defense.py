"""The receiver's audit and mitigations on images: the reader of s, the CNN's sample weights, the
audit and mitigations on small synthetic images with known answers, and a tiny run of the real
workflow on Colored MNIST (tables, predictions and figure)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from threadpoolctl import threadpool_limits

from conftest import REPO, snakemake
from diffshare.data.images import ImageSet, colored_mnist, read_mnist_csv
from diffshare.defenses.audit import dp_gap, mutual_information, sy_table
from diffshare.defenses.fpa_report import AUDIT_TABLE_COLUMNS, DEFENSE_FPA_COLUMNS
from diffshare.defenses.image import (
    audit_images,
    mitigated_image_predictions,
    pixel_features,
    read_colour,
    read_sensitive,
    sample_labels,
    sensitive_reader,
)
from diffshare.errors import ConfigError, DataError
from diffshare.evaluation.fairness import evaluate
from diffshare.receivers.cnn import CnnClassifier

MITIGATIONS = ("none", "reweighing", "threshold_optimizer", "exponentiated_gradient")
SMALL_CNN = {"epochs": 8, "batch_size": 32, "learning_rate": 0.003}
READER_CNN = {"epochs": 20, "batch_size": 16, "learning_rate": 0.003}


@pytest.fixture(autouse=True)
def one_thread():
    """One thread: on a small, busy machine spinning threads cost tenfold."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(threads)


def tinted(rng, s, shape, size=16):
    """RGB images (n, size, size, 3) with a digit-like stroke: a bright bar in the top half
    where ``shape`` is 1, in the bottom half where it is 0, red for s = 1 and green for s = 0
    (Colored MNIST's tint), with some noise in the tinted channel."""
    n = len(s)
    grey = rng.integers(0, 40, size=(n, size, size)).astype(np.int64)
    half = size // 2
    for i in range(n):
        top = 2 if shape[i] else half + 2
        grey[i, top : top + 3, 3 : size - 3] += 200
    grey = np.clip(grey, 0, 255).astype(np.uint8)
    images = np.zeros((n, size, size, 3), dtype=np.uint8)
    images[s == 1, ..., 0] = grey[s == 1]
    images[s == 0, ..., 1] = grey[s == 0]
    return images


def image_set(rng, n, *, tie=0.0, shape_noise=0.0, size=16):
    """n tinted images with y ~ Bernoulli(1/2) shown by the shape (but for a ``shape_noise``
    share drawn with the other shape), and s = y with probability ``tie``, else an independent
    fair coin: ``tie`` is the planted S-Y association (0: none, 1: s = y)."""
    y = rng.integers(0, 2, n)
    s = np.where(rng.random(n) < tie, y, rng.integers(0, 2, n))
    shape = np.where(rng.random(n) < shape_noise, 1 - y, y)
    attributes = {"y": y.astype(np.int64), "s": s.astype(np.int64)}
    return ImageSet(tinted(rng, s, shape, size), attributes)


# -- reading s ---------------------------------------------------------------------------------
def test_colour_reader_reads_colored_mnist_digits():
    digits = read_mnist_csv(REPO / "resources/data/mnist/mnist_5k.csv.gz").subset(np.arange(300))
    coloured = colored_mnist(digits, seed=4)
    s, ambiguous = read_colour(coloured.images)
    assert s.dtype == np.int8 and ambiguous == 0
    np.testing.assert_array_equal(s, coloured.attributes["s"])
    assert 0.3 < s.mean() < 0.7  # both colours occur: the test can fail


def test_colour_reader_counts_blank_images_and_refuses_grey_ones():
    images = np.zeros((3, 8, 8, 3), dtype=np.uint8)
    images[0, 2, 2, 0] = 9  # red ink
    images[1, 2, 2, 1] = 9  # green ink
    s, ambiguous = read_colour(images)  # the third is blank: no colour
    assert s.tolist() == [1, 0, 0] and ambiguous == 1
    with pytest.raises(DataError, match="RGB"):
        read_colour(np.zeros((2, 8, 8, 1), dtype=np.uint8))


def test_reader_choice_follows_the_dataset_source():
    assert sensitive_reader("auto", "cmnist") == "colour"
    assert sensitive_reader("auto", "celeba") == "classifier"
    assert sensitive_reader("classifier", "cmnist") == "classifier"
    with pytest.raises(ConfigError, match="'hue'"):
        sensitive_reader("hue", "cmnist")


def test_classifier_reader_learns_s_from_the_reference():
    rng = np.random.default_rng(0)
    reference, samples = image_set(rng, 120), image_set(rng, 60)
    s_samples, s_reference, record = read_sensitive(
        "classifier", samples, reference, params=READER_CNN, seed=0, device="cpu"
    )
    # The tint is all a CNN needs: it reads s of unseen images right.
    assert record["s_reader"] == "classifier" and record["s_reader_accuracy"] >= 0.95
    assert np.mean(s_reference == reference.attributes["s"]) == record["s_reader_accuracy"]
    assert np.mean(s_samples == samples.attributes["s"]) >= 0.95
    with pytest.raises(DataError, match="trained on the reference"):
        read_sensitive("classifier", samples, None)


def test_samples_without_labels_are_refused():
    with pytest.raises(DataError, match="no label y"):
        sample_labels(ImageSet(np.zeros((4, 8, 8, 3), dtype=np.uint8)))


# -- the audit ---------------------------------------------------------------------------------
def test_pixel_features_average_each_block_of_each_channel():
    images = np.zeros((1, 16, 16, 3), dtype=np.uint8)
    images[0, :2, :2, 0] = 255  # the first 2 x 2 block of the red channel: full
    images[0, :2, 2:4, 1] = [[255, 0], [0, 255]]  # half of the next block of the green one
    table = pixel_features(images)
    assert table.shape == (1, 8 * 8 * 3) and list(table.columns[:2]) == ["c0_0_0", "c0_0_1"]
    assert table.loc[0, "c0_0_0"] == 1.0 and table.loc[0, "c1_0_1"] == 0.5
    assert table.to_numpy().sum() == pytest.approx(1.5)
    with pytest.raises(DataError, match="pool"):
        pixel_features(np.zeros((1, 12, 12, 3), dtype=np.uint8))


def test_audit_flags_a_planted_colour_label_association():
    rng = np.random.default_rng(1)
    reference = image_set(rng, 200)
    settings = {"reader": "colour", "n_bootstrap": 200, "seed": 0, "device": "cpu"}
    clean = audit_images(image_set(rng, 400), reference, **settings)
    poisoned = audit_images(image_set(rng, 400, tie=0.6), reference, **settings)
    assert clean["s_reader_accuracy"] == 1.0 and clean["s_ambiguous"] == 0
    assert clean["association_p_value"] > 0.05 and not clean["flagged"]
    assert poisoned["association_p_value"] < 1e-6 and poisoned["flagged"]
    assert poisoned["dp_gap"] > 0.4 and poisoned["mi_sy"] > clean["mi_sy"]
    # Both sets are drawn alike, pixels included: the two-sample test sees nothing.
    assert clean["c2st_p_value"] > 0.01
    assert clean["n_samples"] == 400 and clean["n_reference"] == 200


def test_two_sample_test_sees_images_unlike_the_reference():
    rng = np.random.default_rng(2)
    reference = image_set(rng, 200)
    blurred = image_set(rng, 400)
    blurred.images[:] = np.clip(blurred.images.astype(int) + 60, 0, 255).astype(np.uint8)
    record = audit_images(
        blurred, reference, reader="colour", train_rows=400, n_bootstrap=100, seed=0
    )
    # A distribution shift, reported apart; the verdict is the association test's alone.
    assert record["c2st_p_value"] < 1e-6 and record["distribution_shift"]
    assert record["flagged"] == (record["association_p_value"] <= 0.05)
    assert record["train_rows"] == 400 and not record["train_rows_assumed"]


# -- the receiver's CNN and the mitigations ------------------------------------------------------
def test_cnn_sample_weight_zero_on_a_class_never_predicts_it():
    rng = np.random.default_rng(3)
    train = image_set(rng, 160)
    y = train.attributes["y"]
    plain = CnnClassifier(seed=0, device="cpu", **SMALL_CNN).fit(train.images, y)
    assert set(plain.predict(train.images)) == {0, 1}  # it learns the shape
    weights = (y == 0).astype(float)
    weighted = CnnClassifier(seed=0, device="cpu", **SMALL_CNN)
    weighted.fit(train.images, y, sample_weight=weights)
    assert list(weighted.classes_) == [0, 1]
    assert set(weighted.predict(train.images)) == {0}
    # Equal weights are the unweighted loss.
    ones = CnnClassifier(seed=0, device="cpu", **SMALL_CNN)
    ones.fit(train.images, y, sample_weight=np.full(len(y), 3.0))
    np.testing.assert_allclose(
        ones.predict_proba(train.images), plain.predict_proba(train.images), atol=1e-4
    )


@pytest.mark.parametrize(
    ("weights", "message"),
    [(np.ones(5), "shape"), (-np.ones(160), "non-negative"), (np.zeros(160), "zero for every")],
)
def test_cnn_sample_weight_is_checked(weights, message):
    train = image_set(np.random.default_rng(0), 160)
    with pytest.raises(DataError, match=message):
        CnnClassifier(device="cpu").fit(train.images, train.attributes["y"], sample_weight=weights)


@pytest.fixture(scope="module")
def poisoned_receivers():
    """The receiver's CNN on poisoned samples, whose colour follows the label (s = y for 95%)
    better than their shape does (70%), scored on fair test images (colour independent of y,
    shape = y), with each mitigation (exponentiated gradient at 3 iterations)."""
    rng = np.random.default_rng(5)
    train = image_set(rng, 300, tie=0.9, shape_noise=0.3)
    test = image_set(rng, 300)
    s_train, _ = read_colour(train.images)
    settings = {"exponentiated_gradient": {"max_iter": 3, "eps": 0.01}}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a module fixture runs before the one_thread fixture
    with threadpool_limits(1):
        receivers = {
            mitigation: mitigated_image_predictions(
                mitigation,
                train,
                test,
                s_train,
                params=SMALL_CNN,
                settings=settings.get(mitigation),
                seed=0,
                device="cpu",
            )
            for mitigation in MITIGATIONS
        }
    torch.set_num_threads(threads)
    return receivers


def test_mitigated_image_predictions_have_the_receivers_format(poisoned_receivers):
    for predictions in poisoned_receivers.values():
        assert list(predictions.columns) == ["y_true", "y_pred", "y_score", "s"]
        assert len(predictions) == 300 and predictions["y_score"].between(0, 1).all()
        assert set(predictions["y_pred"]) <= {0, 1}


def test_mitigations_reduce_the_planted_disparity_on_images(poisoned_receivers):
    metrics = {name: evaluate(p) for name, p in poisoned_receivers.items()}
    unmitigated = metrics["none"]["dp_difference"]
    assert unmitigated > 0.3  # the receiver took the colour shortcut
    # Reweighing takes the colour's information about y out of the weighted samples, leaving
    # the shape, but a briefly trained CNN still leans on the colour; the constrained learners
    # hold the groups' positive rates together (the bounds of tests/test_mitigation.py).
    assert metrics["reweighing"]["dp_difference"] < 0.8 * unmitigated
    for mitigation in ("threshold_optimizer", "exponentiated_gradient"):
        assert metrics[mitigation]["dp_difference"] < unmitigated / 2, mitigation


def test_unknown_mitigation_or_setting_is_named():
    rng = np.random.default_rng(0)
    train, test = image_set(rng, 40), image_set(rng, 20)
    s = train.attributes["s"]
    with pytest.raises(ConfigError, match="'fair_dice'"):
        mitigated_image_predictions("fair_dice", train, test, s)
    with pytest.raises(ConfigError, match="'rounds'"):
        mitigated_image_predictions(
            "exponentiated_gradient",
            train,
            test,
            s,
            params={"epochs": 1},
            settings={"rounds": 3},
            device="cpu",
        )


# -- the real workflow on Colored MNIST ----------------------------------------------------------
TARGETS = (
    "results/audit/cmnist.csv",
    "results/audit/cmnist_summary.csv",
    "results/defense/fpa/cmnist.csv",
    "results/defense/fpa/cmnist.png",
)
# tiny.yaml with one seed and one attack, the default mitigations (exponentiated gradient runs
# the same rule, and is tested above); one thread per job so that two run at once on two cores.
# The shared models train 300 steps, not tiny's 4: after 4 steps every sample is noise with more
# red than green ink, read as s = 1, and an audit or a reweighing needs both groups.
SMALL_RUN = {
    "run": {"seeds": [0]},
    "generator": {"threads": 1, "device": "cpu"},
    "image": {"fpa": {"attacks": ["mi_greedy"]}, "diffusion": {"steps": 300}},
}
MODELS = [("mi_greedy", 0.5), ("none", 0.0)]


@pytest.fixture(scope="module")
def defended_images(shared_images):
    """From a copy of the shared image build (its prepared images, feature CNN, MINE and
    selections are this run's too): the shared models retrained at SMALL_RUN's steps, sampled,
    audited and mitigated."""
    workdir = shared_images("image_defense")
    (workdir / "small.yaml").write_text(yaml.safe_dump(SMALL_RUN))
    result = snakemake(
        workdir,
        *TARGETS,
        "--cores",
        "2",
        "--configfile",
        str(REPO / "config/tiny.yaml"),
        "small.yaml",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return workdir


@pytest.mark.workflow
def test_image_audit_table_has_one_row_per_shared_model(defended_images):
    table = pd.read_csv(defended_images / "results/audit/cmnist.csv")
    assert list(table.columns[: len(AUDIT_TABLE_COLUMNS)]) == AUDIT_TABLE_COLUMNS
    assert sorted(zip(table["attack"], table["alpha"], strict=True)) == MODELS
    # tiny: 64 samples per model, 100 reference images of the 200 test images
    assert (table["n_samples"] == 64).all() and (table["n_reference"] == 100).all()
    assert (table["s_reader"] == "colour").all() and (table["s_reader_accuracy"] == 1.0).all()
    for column in ("association_p_value", "c2st_p_value"):
        assert table[column].between(0, 1).all()
    # flagged: the association test at level 0.05; distribution_shift: the two-sample test's.
    assert (table["flagged"] == (table["association_p_value"] <= 0.05)).all()
    assert (table["distribution_shift"] == (table["c2st_p_value"] <= 0.05)).all()
    assert (table["train_rows"] == 100).all()  # tiny: image.fpa.subset_size
    summary = pd.read_csv(defended_images / "results/audit/cmnist_summary.csv")
    assert sorted(zip(summary["attack"], summary["alpha"], strict=True)) == MODELS
    assert (summary["n_seeds"] == 1).all() and summary["flag_rate"].isin([0.0, 1.0]).all()


@pytest.mark.workflow
def test_image_audit_statistics_can_be_recomputed_from_the_samples(defended_images):
    table = pd.read_csv(defended_images / "results/audit/cmnist.csv").set_index("attack")
    reference = ImageSet.load(defended_images / "results/audit/cmnist/seed~0/reference.npz")
    test = ImageSet.load(defended_images / "results/data/cmnist/test.npz")
    assert len(reference) == 100
    # The reference images are test images, each once.
    test_rows = {image.tobytes() for image in test.images}
    assert all(image.tobytes() in test_rows for image in reference.images)
    for attack, alpha in MODELS:
        samples = ImageSet.load(
            defended_images
            / f"results/samples/cmnist/ddpm/attack~{attack}/alpha~{alpha:g}/seed~0/samples.npz"
        )
        s, _ = read_colour(samples.images)
        counts = sy_table(s, samples.attributes["y"])
        assert table.loc[attack, "mi_sy"] == pytest.approx(mutual_information(counts))
        assert table.loc[attack, "dp_gap"] == pytest.approx(dp_gap(counts))
        assert table.loc[attack, "s_ambiguous"] == int(
            (
                samples.images[..., 0].sum(axis=(1, 2)) == samples.images[..., 1].sum(axis=(1, 2))
            ).sum()
        )


@pytest.mark.workflow
def test_image_defense_table_covers_every_mitigation(defended_images):
    table = pd.read_csv(defended_images / "results/defense/fpa/cmnist.csv")
    assert list(table.columns[: len(DEFENSE_FPA_COLUMNS)]) == DEFENSE_FPA_COLUMNS
    assert len(table) == 2 * 3  # shared models x (none + two mitigations)
    assert (table["classifier"] == "cnn").all()
    assert set(table["mitigation"]) == {"none", "reweighing", "threshold_optimizer"}
    reference = table[(table["attack"] == "none") & (table["mitigation"] == "none")]
    assert (reference["accuracy_loss"] == 0).all() and (reference["fairness_loss"] == 0).all()
    # The unmitigated rows are the FPA sweep's own receivers.
    for row in table[table["mitigation"] == "none"].itertuples():
        folder = (
            f"results/downstream/cmnist/synthetic/attack~{row.attack}/alpha~{row.alpha:g}"
            "/classifier~cnn/seed~0"
        )
        metrics = json.loads((defended_images / folder / "metrics.json").read_text())
        assert row.dp_difference == pytest.approx(metrics["dp_difference"])
    for row in table[table["mitigation"] != "none"].itertuples():
        folder = (
            f"results/defense/fpa/cmnist/attack~{row.attack}/alpha~{row.alpha:g}/seed~0/"
            f"classifier~cnn/mitigation~{row.mitigation}"
        )
        predictions = pd.read_parquet(defended_images / folder / "predictions.parquet")
        assert len(predictions) == 200  # every real test image
        recomputed = evaluate(predictions)
        assert recomputed["accuracy"] == pytest.approx(row.accuracy)
        assert recomputed["dp_difference"] == pytest.approx(row.dp_difference)
    figure = defended_images / "results/defense/fpa/cmnist.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
