"""``diffshare check``: one report of what a model's samples leak (property shares), whether they
pass the fairness audit, how close they sit to the training rows, and what the sharer's defenses
would buy; sections whose inputs are missing say what to give.

The tables are small slices of Adult, prepared as the workflow prepares them: the "samples" are
training rows, as a model that copies its data would give.
"""

import contextlib
import io
import json

import numpy as np
import pandas as pd
import pytest

from diffshare.cli import main
from diffshare.evaluation.closeness import closeness
from diffshare.reporting.risk_report import HEADINGS

SETTINGS = ["--queries", "200", "--repeats", "3"]

# scikit-learn with one thread (tests/conftest.py: one_thread)
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def files(small_adult, tmp_path_factory):
    """Samples (2,000 training rows), the sharer's training rows (the first 1,500 of them) and
    an unseen holdout (1,000 other training rows); the receiver's auxiliary table and the
    auditor's reference (halves of the test rows)."""
    train, test, _ = small_adult
    folder = tmp_path_factory.mktemp("check")
    tables = {
        "samples": train.iloc[:2000],
        "training": train.iloc[:1500],
        "holdout": train.iloc[2000:],
        "aux": test.iloc[:750],
        "reference": test.iloc[750:],
    }
    paths = {}
    for name, table in tables.items():
        paths[name] = str(folder / f"{name}.parquet")
        table.to_parquet(paths[name])
    paths["folder"] = folder
    return paths


def check(*args, capsys):
    """``diffshare check ARGS``: (exit status, stdout, stderr)."""
    status = main(["check", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def full_report(files):
    """A check with every input, two properties and a known true share: (exit status, stdout,
    stderr, the JSON record, the HTML page)."""
    folder = files["folder"]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(
            ["check", files["samples"], "--property", "sex=Female", "--property", "race=White",
             "--aux", files["aux"], "--reference", files["reference"], "--label", "income",
             "--sensitive", "sex", "--training", files["training"], "--holdout", files["holdout"],
             "--true-share", "sex=Female:0.3", "--html", str(folder / "report.html"),
             "--json", str(folder / "report.json"), *SETTINGS]
        )  # fmt: skip
    record = json.loads((folder / "report.json").read_text())
    return status, out.getvalue(), err.getvalue(), record, (folder / "report.html").read_text()


def test_check_with_every_input_writes_every_section_to_json(full_report):
    status, _, _, record, _ = full_report
    assert status == 0
    for key in ("summary", "leakage", "audit", "closeness", "defenses"):
        assert record[key], key
    assert record["skipped"] == {}
    leaked = {(row["property"], row["attack"]): row for row in record["leakage"]}
    assert set(leaked) == {
        (prop, attack)
        for prop in ("sex=Female", "race=White")
        for attack in ("column", "aux", "aux_corrected")
    }
    female = leaked["sex=Female", "column"]
    assert female["true_share"] == 0.3
    assert female["abs_error"] == pytest.approx(abs(female["estimate"] - 0.3))
    assert leaked["race=White", "column"]["true_share"] is None
    assert record["audit"]["label"] == "income" and record["audit"]["sensitive"] == "sex"
    # The sharer's training rows are given: the audit's null counts their noise at their size.
    assert record["audit"]["train_rows"] == 1500 and not record["audit"]["train_rows_assumed"]
    assert isinstance(record["audit"]["distribution_shift"], bool)
    # Half the samples are the training rows the model "saw": closer to them than to unseen ones.
    assert record["closeness"]["share_closer_to_training"] > 0.6
    assert record["closeness"]["exact_copies"] > 0
    risks = {line["risk"] for line in record["summary"]}
    assert risks == {"property leakage", "fairness audit", "record-level closeness"}


def test_check_writes_an_html_page_with_every_section(full_report):
    _, out, err, _, page = full_report
    for key in ("summary", "leakage", "audit", "closeness", "defenses"):
        assert f"<h2>{HEADINGS[key]}</h2>" in page
    assert "wrote" in err and "report.html" in err
    assert "[" in out and "property leakage: sex=Female" in out


def test_check_reports_progress_on_stderr(full_report):
    _, out, err, _, _ = full_report
    for stage in ("property leakage: sex=Female", "fairness audit", "record-level closeness",
                  "decoy sampling: sex=Female", "rebalancing: race=White"):  # fmt: skip
        assert f"] {stage}" in err
    assert "diffshare check: [" not in out


@pytest.fixture(scope="module")
def samples_only(files):
    """A check with the samples and one property only: (exit status, record, folder)."""
    folder = files["folder"] / "samples_only"
    folder.mkdir()
    status = main(
        ["check", files["samples"], "--property", "sex=Female", "--json",
         str(folder / "report.json"), "--quiet", *SETTINGS]
    )  # fmt: skip
    return status, json.loads((folder / "report.json").read_text()), folder


def test_check_of_samples_alone_says_what_to_give_for_the_other_sections(samples_only):
    status, record, folder = samples_only
    assert status == 0
    assert record["audit"] is None and record["closeness"] is None
    assert "--reference" in record["skipped"]["audit"]
    assert "--label" in record["skipped"]["audit"] and "--sensitive" in record["skipped"]["audit"]
    assert "--training" in record["skipped"]["closeness"]
    assert "--holdout" in record["skipped"]["closeness"]
    # Decoy sampling runs on the samples alone; rebalancing needs the training rows.
    assert [row["defense"] for row in record["defenses"]] == ["decoy_sampling"]
    assert any("rebalancing" in note and "--training" in note for note in record["notes"])
    assert [row["attack"] for row in record["leakage"]] == ["column"]
    assert list(folder.iterdir()) == [folder / "report.json"]  # no page without --html


def test_decoy_sampling_serves_the_decoy_share_to_the_column_attack(samples_only):
    _, record, _ = samples_only
    (decoy,) = record["defenses"]
    assert decoy["property"] == "sex=Female" and decoy["decoy"] == 0.5
    assert "column attack" in decoy["note"]
    assert decoy["estimate_before"] == pytest.approx(record["leakage"][0]["estimate"])
    assert decoy["estimate_after"] == pytest.approx(0.5, abs=0.05)
    assert abs(decoy["estimate_before"] - 0.5) > 0.1  # the samples hold far fewer women


def test_check_format_md_prints_markdown_tables(files, capsys):
    status, out, _ = check(
        files["samples"], "--property", "sex=Female", "--format", "md", "--quiet", *SETTINGS,
        capsys=capsys,
    )  # fmt: skip
    assert status == 0
    assert f"## {HEADINGS['summary']}" in out and f"## {HEADINGS['leakage']}" in out
    assert any(line.startswith("| ---") or line.startswith("|---") for line in out.splitlines())


@pytest.mark.parametrize("option", [["--html", "report.txt"], ["--json", "report.html"]])
def test_a_bad_report_name_fails_before_any_work(files, option, tmp_path, capsys):
    missing = tmp_path / "never_read.parquet"  # reading it would fail with another message
    status, out, err = check(missing, "--property", "sex=Female", *option, capsys=capsys)
    assert status == 2
    assert option[1] in err and "never_read" not in err and "reading" not in err
    assert out == "" and not (tmp_path / option[1]).exists()


# -- record-level closeness ----------------------------------------------------------------------
def test_samples_that_are_training_rows_are_all_closer_to_the_training_rows(small_adult):
    train, test, _ = small_adult
    training = train.iloc[:1000]
    result = closeness(training, training, test.iloc[:1000])
    assert result["share_closer_to_training"] == 1.0
    assert result["exact_copies"] == result["n_samples_scored"] == 1000
    assert result["median_distance_training"] == 0.0
    assert result["p_value"] < 1e-100


def test_samples_from_the_training_distribution_are_as_close_to_unseen_rows(small_adult):
    # Training, holdout and samples: disjoint draws from one pool. Nothing is memorised, so the
    # share closer to the training rows is 0.5 but for sampling noise.
    pool = pd.concat(small_adult[:2], ignore_index=True)
    shares = []
    for seed in range(5):
        order = np.random.default_rng(seed).permutation(len(pool))
        training, holdout, samples = (pool.iloc[order[i * 1000 : (i + 1) * 1000]] for i in range(3))
        result = closeness(samples, training, holdout, seed=seed)
        assert result["ci_low"] <= 0.5 <= result["ci_high"], seed
        assert result["exact_copies"] == 0
        shares.append(result["share_closer_to_training"])
    assert 0.45 <= np.mean(shares) <= 0.55


def test_closeness_agrees_with_sdmetrics_dcr_overfitting_protection(small_adult):
    # SDMetrics' DCR metric (a Gower-like distance) counts the same share, 80 times slower.
    sdmetrics = pytest.importorskip("sdmetrics.single_table")
    train = small_adult[0]
    order = np.random.default_rng(0).permutation(len(train))
    training, holdout = train.iloc[order[:400]], train.iloc[order[400:800]]
    samples = pd.concat([training.iloc[:80], train.iloc[order[800:1120]]])  # 20% copies
    ours = closeness(samples, training, holdout)["share_closer_to_training"]
    text = {c: str for c in train.columns if not pd.api.types.is_numeric_dtype(train[c])}
    columns = {c: {"sdtype": "categorical" if c in text else "numerical"} for c in train.columns}
    breakdown = sdmetrics.DCROverfittingProtection.compute_breakdown(
        training.astype(text),
        samples.astype(text),
        holdout.astype(text),
        {"tables": {"adult": {"columns": columns}}},
        "adult",
    )
    assert ours == pytest.approx(
        breakdown["synthetic_data_percentages"]["closer_to_training"], abs=0.04
    )


def test_check_calibrates_on_request_and_states_the_cost(files, tmp_path, capsys):
    """--calibrate adds a calibrated row per family with its interval, and a note with the
    shadows' size and the seconds they took; without --label it says what to give."""
    pytest.importorskip("sdv")
    record_path = tmp_path / "report.json"
    status, _, err = check(
        files["samples"], "--property", "sex=Female", "--aux", files["aux"], "--label",
        "income", "--calibrate", "gaussian_copula", "--shares", 0.2, 0.5, 0.8,
        "--json", record_path, "--quiet", *SETTINGS, capsys=capsys,
    )  # fmt: skip
    assert status == 0, err
    record = json.loads(record_path.read_text())
    (row,) = [r for r in record["leakage"] if r["attack"] == "calibrated (gaussian_copula)"]
    assert row["ci_low"] <= row["estimate"] <= row["ci_high"] and row["calibration_seconds"] > 0
    assert any("calibrated on gaussian_copula" in n and " s" in n for n in record["notes"])
    status, _, err = check(
        files["samples"], "--property", "sex=Female", "--aux", files["aux"], "--calibrate",
        "gaussian_copula", "--json", record_path, "--quiet", *SETTINGS, capsys=capsys,
    )  # fmt: skip
    record = json.loads(record_path.read_text())
    assert status == 0 and any("not calibrated" in n and "--label" in n for n in record["notes"])
