"""The image track through the real snakemake command: tiny cmnist fairness poisoning and mnist
property inference, and CelebA / AFAD read from tiny fixtures in their official layouts."""

import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from conftest import IMAGE_SETTINGS, IMAGE_TARGETS, REPO, snakemake
from diffshare.attacks.pia.bounds import hoeffding_eps
from diffshare.data.images import ImageSet
from diffshare.evaluation.fairness import evaluate
from diffshare.reporting.tables import FPA_COLUMNS, PIA_COLUMNS

pytestmark = pytest.mark.workflow
TINY = str(REPO / "config/tiny.yaml")
# The shared image build (conftest.py): tiny.yaml with SEED0 (one seed, one thread per job, a
# checkpoint every 2 of the 4 diffusion steps) of IMAGE_TARGETS.
TARGETS = IMAGE_TARGETS
SEED0 = IMAGE_SETTINGS
PNG = b"\x89PNG\r\n\x1a\n"


def job_counts(output: str) -> dict[str, int]:
    """Rule -> job count from the 'Job stats' table snakemake prints."""
    table = output.split("Job stats:", 1)[1]
    return {
        m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"
    }


def tiny_config(**image_pia) -> dict:
    """tiny.yaml with the fixture's seed settings (and image.pia changes), as one config."""
    config = yaml.safe_load((REPO / "config/tiny.yaml").read_text())
    config["run"].update(SEED0["run"])
    config["generator"].update(SEED0["generator"])
    config["image"]["pia"].update(image_pia)
    return config


@pytest.fixture(scope="module")
def image_run(shared_images):
    """A copy of the shared image build: TARGETS with tiny.yaml and seed0.yaml (SEED0)."""
    return shared_images("images")


def test_quality_tables_rate_every_sample_set(image_run):
    fpa = pd.read_csv(image_run / "results/quality/cmnist.csv")
    # The FPA sweep's three subsets (one seed), conditional samples of the ddpm shared model.
    assert sorted(fpa["subset"]) == [
        "attack~label_flip/alpha~0.5",
        "attack~mi_greedy/alpha~0.5",
        "attack~none/alpha~0",
    ]
    assert (fpa["generator"] == "ddpm").all() and (fpa["n_samples"] == 64).all()
    pia = pd.read_csv(image_run / "results/quality/mnist.csv")
    assert sorted(set(pia["generator"])) == ["ddpm", "edm", "sngan"] and len(pia) == 6
    for table in (fpa, pia):
        assert table["confident_share"].between(0, 1).all()
        assert (table["real_confident_share"] > 0).all()
        expected = table["confident_share"] / table["real_confident_share"]
        assert np.allclose(table["relative"], expected)


# -- fairness poisoning on cmnist --------------------------------------------------------------
def test_fpa_table_has_a_row_per_subset(image_run):
    table = pd.read_csv(image_run / "results/fpa/cmnist.csv")
    assert list(table.columns[: len(FPA_COLUMNS)]) == FPA_COLUMNS
    assert len(table) == 3
    assert sorted(zip(table["attack"], table["alpha"], strict=True)) == [
        ("label_flip", 0.5),
        ("mi_greedy", 0.5),
        ("none", 0.0),
    ]
    assert (table["dataset"] == "cmnist").all()
    assert (table["classifier"] == "cnn").all() and (table["seed"] == 0).all()
    assert table["accuracy"].between(0, 1).all()
    assert not table[FPA_COLUMNS].isna().any().any()
    mi_sy = table.set_index("attack")["mi_sy"]
    reference = table[table["attack"] == "none"].iloc[0]
    assert reference["accuracy_loss"] == 0 and reference["fairness_loss"] == 0
    # Both attacks make the label depend on the colour more than a random subset does.
    assert mi_sy["mi_greedy"] > mi_sy["none"] and mi_sy["label_flip"] > mi_sy["none"]
    assert (image_run / "results/fpa/cmnist.png").read_bytes()[:8] == PNG


def test_receiver_metrics_can_be_recomputed_from_saved_predictions(image_run):
    folder = (
        image_run / "results/downstream/cmnist/synthetic/attack~mi_greedy/alpha~0.5"
        "/classifier~cnn/seed~0"
    )
    predictions = pd.read_parquet(folder / "predictions.parquet")
    assert list(predictions.columns) == ["y_true", "y_pred", "y_score", "s"]
    assert len(predictions) == 200  # tiny: 200 cmnist test images
    metrics = json.loads((folder / "metrics.json").read_text())
    recomputed = evaluate(predictions)
    assert recomputed["accuracy"] == pytest.approx(metrics["accuracy"])
    assert recomputed["dp_difference"] == pytest.approx(metrics["dp_difference"])
    table = pd.read_csv(image_run / "results/fpa/cmnist.csv").set_index("attack")
    assert table.loc["mi_greedy", "accuracy"] == pytest.approx(metrics["accuracy"])


def test_subset_files_record_the_selection(image_run):
    folder = image_run / "results/subsets/cmnist/attack~label_flip/alpha~0.5/seed~0"
    subset = ImageSet.load(folder / "images.npz")
    rows = pd.read_parquet(folder / "rows.parquet")
    record = json.loads((folder / "selection.json").read_text())
    assert len(subset) == 100 and len(rows) == 100
    assert subset.images.shape[1:] == (32, 32, 3)
    assert rows.index.name == "row_id" and rows.index.is_unique
    flipped = rows["flipped"].to_numpy()
    assert record["flipped"] == int(flipped.sum()) > 0
    np.testing.assert_array_equal(subset.attributes["y"], rows["y"].to_numpy())
    changed = subset.attributes["y"] != subset.attributes["y_original"]
    np.testing.assert_array_equal(changed, flipped)
    # The subset's images are the pool's images at the chosen rows.
    pool = ImageSet.load(image_run / "results/data/cmnist/train.npz")
    np.testing.assert_array_equal(subset.images, pool.images[rows.index.to_numpy()])
    np.testing.assert_array_equal(
        subset.attributes["y_original"], pool.attributes["y"][rows.index.to_numpy()]
    )


def test_fairness_samples_are_balanced_over_the_label(image_run):
    folder = image_run / "results/samples/cmnist/ddpm/attack~none/alpha~0/seed~0"
    samples = ImageSet.load(folder / "samples.npz")
    assert samples.images.shape == (64, 32, 32, 3) and samples.images.dtype == np.uint8
    assert np.bincount(samples.attributes["y"]).tolist() == [32, 32]
    assert (folder / "samples.png").read_bytes()[:8] == PNG


@pytest.mark.parametrize("generator", ["ddpm", "edm", "sngan"])
def test_property_samples_are_unconditional(image_run, generator):
    folder = image_run / f"results/samples/mnist/{generator}/ratio~0.7/seed~0"
    samples = ImageSet.load(folder / "samples.npz")
    assert samples.images.shape == (40, 32, 32, 1) and samples.images.dtype == np.uint8
    assert "y" not in samples.attributes
    assert (folder / "samples.png").read_bytes()[:8] == PNG


def test_shared_models_are_saved_without_pickle_and_checkpoints_removed(image_run):
    models = image_run / "results/generators/mnist"
    ddpm = models / "ddpm/ratio~0.3/seed~0/model"
    assert (ddpm / "config.json").is_file()
    assert list((ddpm / "unet").glob("*.safetensors"))
    sngan = models / "sngan/ratio~0.3/seed~0/model"
    assert (sngan / "config.json").is_file() and (sngan / "generator.safetensors").is_file()
    pickled = [p for p in models.rglob("*") if p.suffix in (".pt", ".pkl", ".bin", ".pth")]
    assert not pickled
    checkpoints = image_run / "results/checkpoints/mnist"
    for family in ("ddpm", "edm"):
        for ratio in ("0.3", "0.7"):
            # The folder above was made when the checkpoint was written; the checkpoint is gone.
            assert (checkpoints / family / f"ratio~{ratio}").is_dir()
            assert not (checkpoints / family / f"ratio~{ratio}/seed~0").exists()
    assert not [p for p in checkpoints.rglob("*") if p.is_file()]


def test_pia_sets_train_their_own_step_count(image_run):
    """image.pia.generator_steps (3 in tiny.yaml) trains the diffusion models of the PIA sets;
    the FPA subsets keep image.diffusion.steps (4), SNGAN image.sngan.steps."""

    def steps(model):
        return json.loads((image_run / "results/generators" / model / "config.json").read_text())

    for family in ("ddpm", "edm"):
        for ratio in ("0.3", "0.7"):
            assert steps(f"mnist/{family}/ratio~{ratio}/seed~0/model")["config"]["steps"] == 3
    for subset in ("attack~none/alpha~0", "attack~mi_greedy/alpha~0.5"):
        assert steps(f"cmnist/ddpm/{subset}/seed~0/model")["config"]["steps"] == 4


# -- property inference on mnist ---------------------------------------------------------------
def test_pia_table_has_a_row_per_generator_attack_ratio_and_query_count(image_run):
    table = pd.read_csv(image_run / "results/pia/mnist.csv")
    assert list(table.columns[: len(PIA_COLUMNS)]) == PIA_COLUMNS
    assert len(table) == 3 * 3 * 2 * 2
    keys = set(
        table[["generator", "attack", "true_ratio", "n_queries"]].itertuples(index=False, name=None)
    )
    assert keys == {
        (g, a, r, n)
        for g in ("ddpm", "edm", "sngan")
        for a in ("aux", "aux_corrected", "calibrated")
        for r in (0.3, 0.7)
        for n in (10, 20)
    }
    assert (table["dataset"] == "mnist").all() and (table["seed"] == 0).all()
    assert (table["repeats"] == 2).all()
    assert table["hoeffding_eps"].tolist() == pytest.approx(
        [hoeffding_eps(n) for n in table["n_queries"]]
    )
    assert table["estimate_mean"].between(0, 1).all()
    assert table["within_bound_rate"].between(0, 1).all()
    assert not table[PIA_COLUMNS].isna().any().any()
    assert (image_run / "results/pia/mnist.png").read_bytes()[:8] == PNG


def test_images_are_calibrated_on_shadow_models_of_the_test_images(image_run):
    """Shadow sets of the test images at each share (as large as its zeros allow, at most the
    sharer's 40), one shadow model per family and share, and an `aux` calibration per family."""
    shadow = image_run / "results/subsets/mnist/shadow~0.95/seed~0"
    record = json.loads((shadow / "subset.json").read_text())
    assert record["n_pool"] == 200 and record["size"] <= 40
    assert len(ImageSet.load(shadow / "images.npz")) == record["size"]
    for family in ("ddpm", "edm", "sngan"):
        fit = json.loads(
            (image_run / f"results/pia/calibration/mnist/{family}/seed~0.json").read_text()
        )
        assert fit["attack"] == "aux" and len(fit["shares"]) == 5
        assert set(fit["shadow_rows"]) == {record["size"]}
    table = pd.read_csv(image_run / "results/pia/mnist.csv")
    calibrated = table[table["attack"] == "calibrated"]
    assert calibrated["coverage"].between(0, 1).all()
    # tiny models of four steps: a raw estimate outside every shadow's band gives the
    # degenerate interval at the estimate (width 0), which the coverage then counts honestly
    assert calibrated["interval_width"].between(0, 1).all()
    assert (calibrated["interval_width"] > 0).any()


def test_sharer_set_and_discriminator(image_run):
    sharer = ImageSet.load(image_run / "results/subsets/mnist/ratio~0.3/seed~0/images.npz")
    assert len(sharer) == 40 and int((sharer.attributes["digit"] == 0).sum()) == 12
    for generator in ("ddpm", "edm", "sngan"):
        for ratio in ("0.3", "0.7"):
            folder = image_run / f"results/pia/estimates/mnist/{generator}/ratio~{ratio}/seed~0"
            record = json.loads((folder / "discriminator.json").read_text())
            assert record["tpr"] > record["fpr"]
            assert record["true_ratio"] == pytest.approx(float(ratio))
            estimates = pd.read_parquet(folder / "estimates.parquet")
            assert len(estimates) == 2 * 2 * 2  # attacks x query counts x repeats
            assert estimates["estimate"].between(0, 1).all()


def test_second_run_has_nothing_to_do(image_run):
    result = snakemake(image_run, *TARGETS, "--dry-run", "--configfile", TINY, "seed0.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Nothing to be done" in result.stdout + result.stderr


def test_a_new_ratio_reruns_only_its_jobs(image_run):
    config = tiny_config(ratios=[0.3, 0.7, 0.5])
    (image_run / "ratios.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(
        image_run, "results/pia/mnist.csv", "--dry-run", "--configfile", "ratios.yaml"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert job_counts(result.stdout + result.stderr) == {
        "image_sharer_set": 1,
        "train_generator": 3,
        "sample_images": 3,
        "estimate_property": 3,
        "pia": 1,
    }


# -- CelebA and AFAD from local folders ------------------------------------------------------
CELEBA_N, CELEBA_TRAIN = 24, 16
AFAD_AGES, AFAD_PER_CELL = (18, 25, 40, 50), 2


def celeba_attributes(i: int) -> dict[str, int]:
    """Every combination of Male and Smiling occurs in both splits (and Young varies)."""
    return {"Male": i % 2, "Smiling": (i // 2) % 2, "Young": (i // 4) % 2}


@pytest.fixture(scope="module")
def celeba_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("celeba")
    (folder / "img_align_celeba").mkdir()
    lines = [str(CELEBA_N), "Male Smiling Young "]
    partition = []
    for i in range(CELEBA_N):
        name = f"{i + 1:06d}.jpg"
        Image.new("RGB", (178, 218), (10 * i, 255 - 10 * i, 128)).save(
            folder / "img_align_celeba" / name
        )
        values = celeba_attributes(i)
        lines.append(name + "".join(f" {1 if v else -1:2d}" for v in values.values()))
        partition.append(f"{name} {0 if i < CELEBA_TRAIN else 2}")
    (folder / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    (folder / "list_eval_partition.txt").write_text("\n".join(partition) + "\n")
    return folder


@pytest.fixture(scope="module")
def afad_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("afad")
    for a, age in enumerate(AFAD_AGES):
        for gender in ("111", "112"):
            for k in range(AFAD_PER_CELL):
                # The colour tells which folder a picture came from, after JPEG and resizing.
                colour = (40 + 50 * a, 40 if gender == "111" else 200, 60 + 120 * k)
                path = folder / str(age) / gender / f"{k}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.new("RGB", (60, 80), colour).save(path)
    return folder


@pytest.fixture(scope="module")
def faces_run(tmp_path_factory, celeba_folder, afad_folder):
    workdir = tmp_path_factory.mktemp("faces")
    config = tiny_config()
    config["image_datasets"].update(
        celeba={"folder": str(celeba_folder)}, afad={"folder": str(afad_folder)}
    )
    (workdir / "faces.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(
        workdir,
        "results/data/celeba/summary.json",
        "results/data/afad/summary.json",
        "--cores",
        "2",
        "--configfile",
        "faces.yaml",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return workdir


def test_celeba_is_read_from_its_official_layout(faces_run):
    folder = faces_run / "results/data/celeba"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["n_train"] == CELEBA_TRAIN and summary["n_test"] == CELEBA_N - CELEBA_TRAIN
    assert summary["channels"] == 3 and summary["num_classes"] == 2
    assert summary["label"] == "Smiling" and summary["sensitive"] == "Male"
    for name, rows in (("train", range(CELEBA_TRAIN)), ("test", range(CELEBA_TRAIN, CELEBA_N))):
        images = ImageSet.load(folder / f"{name}.npz")
        assert images.images.shape == (len(rows), 32, 32, 3)
        expected = [celeba_attributes(i) for i in rows]
        assert images.attributes["y"].tolist() == [e["Smiling"] for e in expected]
        assert images.attributes["s"].tolist() == [e["Male"] for e in expected]
        assert images.attributes["Young"].tolist() == [e["Young"] for e in expected]
        red = images.images.reshape(len(rows), -1, 3).mean(axis=1)[:, 0]
        assert red == pytest.approx([10 * i for i in rows], abs=4)


def test_afad_is_read_from_age_and_gender_folders(faces_run):
    folder = faces_run / "results/data/afad"
    summary = json.loads((folder / "summary.json").read_text())
    n = len(AFAD_AGES) * 2 * AFAD_PER_CELL
    assert summary["n_train"] + summary["n_test"] == n
    assert summary["n_test"] == round(0.2 * n)
    assert summary["channels"] == 3 and summary["label"] == "male"
    seen = 0
    for name in ("train", "test"):
        images = ImageSet.load(folder / f"{name}.npz")
        assert images.images.shape[1:] == (32, 32, 3)
        np.testing.assert_array_equal(images.attributes["y"], images.attributes["male"])
        colour = images.images.reshape(len(images), -1, 3).mean(axis=1)
        # Green 40 marks the 111 (male) folders, 200 the 112 (female) ones.
        np.testing.assert_array_equal(images.attributes["male"], colour[:, 1] < 120)
        ages = np.asarray(AFAD_AGES)[np.rint((colour[:, 0] - 40) / 50).astype(int)]
        np.testing.assert_array_equal(images.attributes["age"], ages)
        np.testing.assert_array_equal(images.attributes["young"], ages < 30)
        seen += len(images)
    assert seen == n


def test_face_targets_schedule_the_whole_track(faces_run):
    result = snakemake(
        faces_run,
        "results/fpa/celeba.csv",
        "results/pia/celeba.csv",
        "results/pia/afad.csv",
        "--dry-run",
        "--configfile",
        "faces.yaml",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert job_counts(result.stdout + result.stderr) == {
        # fairness poisoning on celeba: 3 subsets (none, label_flip, mi_greedy) with one seed
        "image_features": 1,
        "train_mine": 1,
        "select_images": 3,
        "train_image_receiver": 3,
        "fpa": 1,
        # plus PIA: 3 generators x 2 ratios on each of celeba and afad
        "image_sharer_set": 2 + 2,
        "train_generator": 3 + 2 * 6,
        "sample_images": 3 + 2 * 6,
        "estimate_property": 2 * 6,
        "pia": 2,
    }


def test_faces_without_a_folder_are_refused(tmp_path):
    result = snakemake(tmp_path, "results/data/celeba/summary.json", "--cores", "1")
    assert result.returncode != 0
    assert "image_datasets.celeba.folder" in result.stdout + result.stderr
    assert not (tmp_path / "results/data/celeba/summary.json").exists()


@pytest.mark.parametrize("table", ["pia", "fpa"])
def test_an_unknown_dataset_is_named(tmp_path, table):
    result = snakemake(tmp_path, f"results/{table}/nosuch.csv", "--dry-run")
    assert result.returncode != 0
    assert "unknown dataset 'nosuch'" in result.stdout + result.stderr
