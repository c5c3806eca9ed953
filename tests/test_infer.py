"""``diffshare infer``: property inference on a file of samples, a folder of images or samples
drawn from a saved model, as the workflow's estimator computes it, and refused with a message
naming the file, column or value at fault (exit status 2, no traceback).

The tables are small slices of Adult, prepared as the workflow prepares them; the images are
drawn here (bright squares on a dark ground, or none); the diffusers pipeline is built tiny and
saved offline.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from diffshare.attacks.pia.property import Property
from diffshare.cli import main
from diffshare.tracks.tabular import estimate_property

QUERIES, REPEATS, SEED = 400, 5, 3
ATTACKS = ["column", "aux", "aux_corrected"]

# scikit-learn with one thread (tests/conftest.py: one_thread)
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def files(small_adult, tmp_path_factory):
    """The training rows as the samples (Parquet and a CSV copy), the test rows as the
    receiver's auxiliary table, and broken files."""
    train, test, _ = small_adult
    folder = tmp_path_factory.mktemp("tables")
    paths = {name: folder / name for name in ("samples.parquet", "samples.csv", "aux.parquet")}
    train.to_parquet(paths["samples.parquet"])
    train.to_csv(paths["samples.csv"], index=False)
    test.to_parquet(paths["aux.parquet"])
    paths["aux_without_sex.parquet"] = folder / "aux_without_sex.parquet"
    test.drop(columns="sex").to_parquet(paths["aux_without_sex.parquet"])
    paths["empty.csv"] = folder / "empty.csv"
    paths["empty.csv"].write_bytes(b"")
    paths["header_only.csv"] = folder / "header_only.csv"
    paths["header_only.csv"].write_text(",".join(train.columns) + "\n")
    paths["corrupt.parquet"] = folder / "corrupt.parquet"
    paths["corrupt.parquet"].write_bytes(np.random.default_rng(0).bytes(2000))
    paths["samples.xlsx"] = folder / "samples.xlsx"
    paths["samples.xlsx"].write_bytes(b"not a table")
    return {name: str(path) for name, path in paths.items()}


def infer(*args, capsys):
    """``diffshare infer ARGS --quiet``: (exit status, stdout, stderr)."""
    status = main(["infer", *map(str, args), "--quiet"])
    out, err = capsys.readouterr()
    return status, out, err


# -- tables ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def workflow_estimates(small_adult, files):
    """The mean over repeats of each attack's estimate, as the workflow's job computes it."""
    _, _, schema = small_adult
    samples, auxiliary = pd.read_parquet(files["samples.parquet"]), small_adult[1]
    estimates, _ = estimate_property(
        samples,
        auxiliary,
        Property("sex", "Female"),
        schema=schema,
        attacks=ATTACKS,
        queries=[QUERIES],
        repeats=REPEATS,
        discriminator={"classifier": "hgb", "holdout": 0.5},
        seed=SEED,
    )
    assert set(estimates["attack"]) == set(ATTACKS)
    assert (estimates.groupby("attack").size() == REPEATS).all()
    return estimates.groupby("attack")["estimate"].mean()


@pytest.mark.parametrize("samples", ["samples.parquet", "samples.csv"])
def test_infer_gives_the_workflows_estimates_from_parquet_and_from_csv(
    files, workflow_estimates, samples, tmp_path, capsys
):
    # A CSV loses the prepared category dtypes; the categories read back from the rows must
    # encode the discriminator's inputs as the prepared schema does.
    output = tmp_path / "out.csv"
    status, _, err = infer(
        files[samples], "--property", "sex=Female", "--aux", files["aux.parquet"],
        "--queries", QUERIES, "--repeats", REPEATS, "--seed", SEED, "--output", output,
        capsys=capsys,
    )  # fmt: skip
    assert status == 0, err
    rows = pd.read_csv(output).set_index("attack")
    assert list(rows.index) == ATTACKS
    for attack in ATTACKS:
        assert rows.loc[attack, "estimate"] == pytest.approx(workflow_estimates[attack], abs=1e-12)


def test_infer_rows_carry_interval_hoeffding_bound_and_error_against_the_true_share(
    files, tmp_path, capsys
):
    output = tmp_path / "out.csv"
    common = [files["samples.parquet"], "--property", "sex=Female", "--aux", files["aux.parquet"],
              "--queries", 300, "--repeats", 4]  # fmt: skip
    status, out, _ = infer(*common, "--true-share", 0.32, "--output", output, capsys=capsys)
    assert status == 0
    rows = pd.read_csv(output)
    assert list(rows.columns) == [
        "property", "attack", "estimate", "ci_low", "ci_high", "hoeffding_eps", "n_queries",
        "repeats", "true_share", "abs_error", "tpr", "fpr",
    ]  # fmt: skip
    assert (rows["property"] == "sex=Female").all()
    assert ((0 <= rows["ci_low"]) & (rows["ci_low"] <= rows["estimate"])).all()
    assert ((rows["estimate"] <= rows["ci_high"]) & (rows["ci_high"] <= 1)).all()
    assert rows["hoeffding_eps"].to_numpy() == pytest.approx(math.sqrt(math.log(2 / 0.05) / 600))
    assert (rows["n_queries"] == 300).all() and (rows["repeats"] == 4).all()
    assert (rows["true_share"] == 0.32).all()
    assert rows["abs_error"].to_numpy() == pytest.approx((rows["estimate"] - 0.32).abs())
    discriminated = rows.set_index("attack").loc[["aux", "aux_corrected"]]
    assert discriminated["tpr"].between(0, 1).all() and discriminated["fpr"].between(0, 1).all()
    assert "sex=Female" in out and "aux_corrected" in out

    status, out, _ = infer(*common, "--output", tmp_path / "out.json", capsys=capsys)
    assert status == 0 and "None" not in out  # an unknown true share prints empty
    records = json.loads((tmp_path / "out.json").read_text())
    assert isinstance(records, list) and [r["attack"] for r in records] == ATTACKS
    assert all(r["true_share"] is None and r["abs_error"] is None for r in records)
    assert records[0]["tpr"] is None and records[1]["tpr"] is not None


def test_infer_help_says_the_interval_is_sampling_noise_only():
    # The installed entry point, as a user runs it.
    executable = Path(sys.executable).parent / "diffshare"
    result = subprocess.run(
        [str(executable), "infer", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert "sampling noise" in " ".join(result.stdout.split())


def test_without_aux_only_the_column_attack_runs(files, tmp_path, capsys):
    output = tmp_path / "out.csv"
    status, _, _ = infer(
        files["samples.parquet"], "--property", "sex=Female", "--queries", 300, "--repeats", 3,
        "--output", output, capsys=capsys,
    )  # fmt: skip
    assert status == 0
    rows = pd.read_csv(output)
    assert list(rows["attack"]) == ["column"]
    assert rows["tpr"].isna().all()


def test_the_aux_attacks_without_aux_are_refused_naming_aux(files, capsys):
    status, _, err = infer(
        files["samples.parquet"], "--property", "sex=Female", "--attacks", "aux", "aux_corrected",
        "--queries", 300, "--repeats", 3, capsys=capsys,
    )  # fmt: skip
    assert status == 2
    assert "--aux" in err and "Traceback" not in err


BAD_INPUTS = {
    "no such file": (["missing.csv", "--property", "sex=Female"], ["missing.csv", "no such file"]),
    "an empty csv": (["empty.csv", "--property", "sex=Female"], ["empty.csv", "empty (0 bytes)"]),
    "a csv with a header only": (
        ["header_only.csv", "--property", "sex=Female"], ["header_only.csv", "no rows"]
    ),
    "a corrupt parquet file": (
        ["corrupt.parquet", "--property", "sex=Female"],
        ["corrupt.parquet", "not a readable Parquet file"],
    ),
    "an unknown suffix": (["samples.xlsx", "--property", "sex=Female"], ["samples.xlsx", ".xlsx"]),
    "no such property column in the samples": (
        ["samples.parquet", "--property", "sexe=Female"], ["'sexe'", "samples"]
    ),
    "no such property column in the samples or aux": (
        ["samples.parquet", "--property", "sexe=Female", "--aux", "aux.parquet"], ["'sexe'"]
    ),
    "a value in neither samples nor aux": (
        ["samples.parquet", "--property", "sex=Nobody", "--aux", "aux.parquet"],
        ["'Nobody'", "'sex'", "Female", "Male"],
    ),
    "too few samples for queries times repeats": (
        ["samples.parquet", "--property", "sex=Female", "--queries", "1000", "--repeats", "10"],
        ["need 10000 samples", "3000"],
    ),
    "an aux table without the property column": (
        ["samples.parquet", "--property", "sex=Female", "--aux", "aux_without_sex.parquet"],
        ["auxiliary", "'sex'"],
    ),
    "a property without '='": (["samples.parquet", "--property", "sexFemale"], ["'sexFemale'"]),
    "--model without --n": (
        ["--model", "models", "--family", "ddpm", "--property", "sex=Female"], ["--n"]
    ),
    "both samples and --model": (
        ["samples.parquet", "--model", "models", "--family", "ddpm", "--n", "10",
         "--property", "sex=Female"],
        ["SAMPLES", "--model"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_a_bad_input_exits_2_with_a_message_naming_it(files, case, tmp_path, capsys):
    args, expected = BAD_INPUTS[case]
    known = {**files, "missing.csv": str(tmp_path / "missing.csv"), "models": str(tmp_path)}
    args = [known.get(arg, arg) for arg in args]
    if "--queries" not in args:
        args += ["--queries", "300", "--repeats", "3"]
    status, out, err = infer(*args, capsys=capsys)
    assert status == 2
    assert err.startswith("diffshare infer: error: ") and "Traceback" not in err
    for text in expected:
        assert text in err
    assert out == ""


@pytest.mark.parametrize("bad", ["empty.csv", "corrupt.parquet"])
def test_audit_of_an_unreadable_file_exits_2_naming_it(files, bad, capsys):
    status = main(
        ["audit", files[bad], "--reference", files["aux.parquet"], "--label", "income",
         "--sensitive", "sex"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("diffshare audit: error: ") and bad in err and "Traceback" not in err


# -- images ---------------------------------------------------------------------------------------
def squares(kinds, seed, size=16):
    """uint8 (n, size, size, 1) grey images on a dark noisy ground; kind 1 carries a bright
    square of half the side at a random place."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 60, size=(len(kinds), size, size, 1), dtype=np.uint8)
    for image, kind in zip(images, kinds, strict=True):
        if kind:
            row, column = rng.integers(0, size // 2 + 1, size=2)
            image[row : row + size // 2, column : column + size // 2] = rng.integers(200, 256)
    return images


TRUE_SHARE, N_SAMPLES = 0.3, 400


@pytest.fixture(scope="module")
def image_files(tmp_path_factory):
    """Samples (400, a share of 0.3 of kind 1) and labelled auxiliary images (200, half of each
    kind), as .npz sets and as folders of PNGs (the auxiliary one with labels.csv)."""
    folder = tmp_path_factory.mktemp("images")
    kinds = np.random.default_rng(0).permutation(
        np.repeat([1, 0], [int(TRUE_SHARE * N_SAMPLES), N_SAMPLES - int(TRUE_SHARE * N_SAMPLES)])
    )
    samples = squares(kinds, seed=1)
    aux_kinds = np.arange(200) % 2
    auxiliary = squares(aux_kinds, seed=2)
    np.savez(folder / "samples.npz", images=samples)
    np.savez(folder / "aux.npz", images=auxiliary, attr_kind=aux_kinds)
    for name, images in (("samples", samples), ("aux", auxiliary)):
        (folder / name).mkdir()
        for i, image in enumerate(images):
            Image.fromarray(image[..., 0], mode="L").save(folder / name / f"{i:04d}.png")
    pd.DataFrame({"file": [f"{i:04d}.png" for i in range(200)], "kind": aux_kinds}).to_csv(
        folder / "aux" / "labels.csv", index=False
    )
    return {name: str(folder / name) for name in ("samples.npz", "aux.npz", "samples", "aux")}


IMAGE_SETTINGS = ["--property", "kind=1", "--classifier", "cnn", "--device", "cpu",
                  "--queries", "100", "--repeats", "4"]  # fmt: skip


@pytest.mark.parametrize(("samples", "aux"), [("samples.npz", "aux.npz"), ("samples", "aux")])
def test_infer_on_images_estimates_the_share_of_a_visible_kind(
    image_files, samples, aux, tmp_path, capsys
):
    output = tmp_path / "out.csv"
    status, _, err = infer(
        image_files[samples], "--aux", image_files[aux], *IMAGE_SETTINGS, "--output", output,
        capsys=capsys,
    )  # fmt: skip
    assert status == 0, err
    rows = pd.read_csv(output).set_index("attack")
    assert list(rows.index) == ["aux", "aux_corrected"]
    assert rows["estimate"].to_numpy() == pytest.approx(TRUE_SHARE, abs=0.1)


def test_an_image_folder_with_an_unreadable_file_exits_2_naming_it(tmp_path, capsys):
    folder = tmp_path / "samples"
    folder.mkdir()
    for i, image in enumerate(squares([0, 1], seed=0)):
        Image.fromarray(image[..., 0], mode="L").save(folder / f"{i}.png")
    (folder / "notes.png").write_text("not an image")
    status, _, err = infer(folder, *IMAGE_SETTINGS, "--aux", folder, capsys=capsys)
    assert status == 2
    assert "notes.png" in err and "not a readable image" in err and "Traceback" not in err


def test_images_without_aux_are_refused_naming_aux(image_files, capsys):
    status, _, err = infer(image_files["samples.npz"], *IMAGE_SETTINGS, capsys=capsys)
    assert status == 2
    assert "--aux" in err and "Traceback" not in err


def test_infer_draws_samples_from_a_saved_diffusers_pipeline(tmp_path, capsys):
    from test_diffusers_pipeline import save_ddpm

    save_ddpm(tmp_path / "pipeline")
    aux_kinds = np.arange(100) % 2
    np.savez(tmp_path / "aux.npz", images=squares(aux_kinds, seed=3, size=8), attr_kind=aux_kinds)
    output = tmp_path / "out.csv"
    status, _, err = infer(
        "--model", tmp_path / "pipeline", "--family", "diffusers", "--n", 40, "--property",
        "kind=1", "--aux", tmp_path / "aux.npz", "--queries", 20, "--repeats", 2,
        "--device", "cpu", "--output", output, capsys=capsys,
    )  # fmt: skip
    assert status == 0, err
    rows = pd.read_csv(output)
    assert list(rows["attack"]) == ["aux", "aux_corrected"]
    assert (rows["n_queries"] == 20).all() and rows["estimate"].between(0, 1).all()


def test_families_lists_the_built_in_families_and_how_they_persist(capsys):
    assert main(["families"]) == 0
    lines = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()}
    assert {"tabddpm", "gaussian_copula", "ddpm"} <= set(lines)
    assert "sample_only" in lines["gaussian_copula"]
    assert "table" in lines["tabddpm"] and "image" in lines["ddpm"]


def test_infer_draws_samples_from_a_saved_plugin_model(small_adult, tmp_path, capsys):
    from diffshare.generators import make_generator

    train, test, schema = small_adult
    plugin = "saved_columns=plugin_examples:SavedColumns"
    model = make_generator(
        "saved_columns", {}, seed=0, plugins={"saved_columns": plugin.split("=")[1]}
    )
    model.fit(train, schema).save(tmp_path / "model")
    status, out, err = infer(
        "--model", tmp_path / "model", "--family", "saved_columns", "--plugin", plugin,
        "--n", 800, "--property", "sex=Female", "--queries", 200, "--repeats", 4,
        "--true-share", (train["sex"] == "Female").mean(), capsys=capsys,
    )  # fmt: skip
    assert status == 0, err
    row = out.splitlines()[1].split()
    # column attack on 800 rows drawn column by column from the training values
    assert row[1] == "column" and abs(float(row[9])) < 0.06


# -- calibration ----------------------------------------------------------------------------------
def test_infer_calibrates_on_shadow_models_and_spans_the_families(
    files, tmp_path, capsys, monkeypatch
):
    """--calibrate trains one shadow per share on the auxiliary rows, per family: each family's
    row has a prediction interval around its estimate, the cost in seconds and the shadows'
    size; with two families a last row spans both."""
    pytest.importorskip("sdv")
    from diffshare import inference

    monkeypatch.setitem(inference.SHADOW_SETTINGS, "tabddpm", {"steps": 40, "hidden_dims": [32]})
    out = tmp_path / "calibrated.csv"
    status, _, err = infer(
        files["samples.parquet"], "--property", "sex=Female", "--aux", files["aux.parquet"],
        "--attacks", "column", "--queries", 100, "--repeats", 3,
        "--calibrate", "gaussian_copula", "tabddpm", "--label", "income",
        "--shares", 0.2, 0.5, 0.8, "--shadow-rows", 400, "--true-share", 0.33,
        "--output", out, capsys=capsys,
    )  # fmt: skip
    assert status == 0, err
    rows = pd.read_csv(out).set_index("attack")
    calibrated = ["calibrated (gaussian_copula)", "calibrated (tabddpm)", "calibrated (any family)"]
    assert list(rows.index) == ["column", *calibrated]
    mine = rows.loc[calibrated]
    assert (mine["ci_low"] <= mine["estimate"]).all()
    assert (mine["estimate"] <= mine["ci_high"]).all()
    assert (mine["shadow_rows"] == 400).all() and (mine["calibration_seconds"] > 0).all()
    assert mine.loc["calibrated (any family)", "ci_low"] == mine["ci_low"].min()
    assert mine.loc["calibrated (any family)", "ci_high"] == mine["ci_high"].max()
    assert mine["abs_error"].notna().all()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--calibrate", "sngan", "--label", "income"], "not a table family"),
        (["--calibrate", "tabddpm"], "--label"),
        (["--calibrate", "tabddpm", "--label", "sex"], "property's column"),
        (["--calibrate", "tabddpm", "--label", "nope"], "'nope' is not a column"),
        (["--calibrate", "tabddpm", "--label", "income", "--shares", 0.2, 0.8], "three distinct"),
    ],
)
def test_bad_calibration_options_exit_2_naming_them(files, extra, message, capsys):
    status, _, err = infer(
        files["samples.parquet"], "--property", "sex=Female", "--aux", files["aux.parquet"],
        "--attacks", "column", "--queries", 100, "--repeats", 2, *extra, capsys=capsys,
    )  # fmt: skip
    assert status == 2 and message in err
