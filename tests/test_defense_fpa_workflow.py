"""The receiver's defense in the real workflow: the audit and mitigation tables on the tiny
config (one seed, to keep the run short), recomputable from the files beside them."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, snakemake
from diffshare.defenses.audit import dp_gap, mutual_information, sy_table
from diffshare.defenses.fpa_report import AUDIT_TABLE_COLUMNS, DEFENSE_FPA_COLUMNS
from diffshare.evaluation.fairness import evaluate

pytestmark = pytest.mark.workflow
TARGETS = [
    "results/audit/adult.csv",
    "results/audit/adult_summary.csv",
    "results/defense/fpa/adult.csv",
    "results/defense/fpa/adult.png",
]
MODELS = [("label_flip", 0.5), ("mi_greedy", 0.5), ("none", 0.0)]


@pytest.fixture(scope="module")
def defended(shared_tiny):
    # A copy of the shared tiny tree (tests/conftest.py): seed 0 of the FPA sweep is built there.
    workdir = shared_tiny("defense_fpa")
    (workdir / "one_seed.yaml").write_text("run: {seeds: [0]}\n")
    result = snakemake(
        workdir,
        *TARGETS,
        "results/fpa/adult.csv",  # to compare the unmitigated rows with
        "--cores",
        "2",
        "--configfile",
        str(REPO / "config/tiny.yaml"),
        str(workdir / "one_seed.yaml"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return workdir


def test_audit_table_has_one_row_per_shared_model(defended):
    table = pd.read_csv(defended / "results/audit/adult.csv")
    assert list(table.columns[: len(AUDIT_TABLE_COLUMNS)]) == AUDIT_TABLE_COLUMNS
    assert sorted(zip(table["attack"], table["alpha"], strict=True)) == MODELS
    assert (table["n_reference"] == 100).all() and (table["n_samples"] == 400).all()
    for column in ("association_p_value", "c2st_p_value"):
        assert table[column].between(0, 1).all()
    assert table["flagged"].dtype == bool
    # flagged is the one-sided association test at level 0.05; distribution_shift the
    # two-sample test's, apart; the training rows are tiny's fpa.subset_size.
    assert (table["flagged"] == (table["association_p_value"] <= 0.05)).all()
    assert (table["distribution_shift"] == (table["c2st_p_value"] <= 0.05)).all()
    assert (table["train_rows"] == 200).all() and not table["train_rows_assumed"].any()


def test_audit_statistics_can_be_recomputed_from_the_samples(defended):
    table = pd.read_csv(defended / "results/audit/adult.csv").set_index("attack")
    schema = json.loads((defended / "results/data/adult/schema.json").read_text())
    test = pd.read_parquet(defended / "results/data/adult/test.parquet")
    reference = pd.read_parquet(defended / "results/audit/adult/seed~0/reference.parquet")
    # The reference rows are test rows, drawn without replacement.
    assert reference.index.isin(test.index).all() and reference.index.is_unique
    for attack, alpha in MODELS:
        folder = f"attack~{attack}/alpha~{alpha:g}/seed~0"
        samples = pd.read_parquet(
            defended / f"results/samples/adult/tabddpm/{folder}/samples.parquet"
        )
        s = (samples[schema["sensitive"]].astype(str) == schema["privileged"]).to_numpy()
        y = (samples[schema["label"]].astype(str) == schema["positive"]).to_numpy()
        counts = sy_table(s.astype(int), y.astype(int))
        assert table.loc[attack, "mi_sy"] == pytest.approx(mutual_information(counts))
        assert table.loc[attack, "dp_gap"] == pytest.approx(dp_gap(counts))
        assert table.loc[attack, "dp_gap_ci_low"] <= table.loc[attack, "dp_gap"]
        assert table.loc[attack, "dp_gap"] <= table.loc[attack, "dp_gap_ci_high"]


def test_audit_summary_gives_flag_rates(defended):
    summary = pd.read_csv(defended / "results/audit/adult_summary.csv")
    assert sorted(zip(summary["attack"], summary["alpha"], strict=True)) == MODELS
    assert (summary["n_seeds"] == 1).all()
    assert summary["flag_rate"].isin([0.0, 1.0]).all()


def test_defense_table_covers_every_receiver_and_mitigation(defended):
    table = pd.read_csv(defended / "results/defense/fpa/adult.csv")
    assert list(table.columns[: len(DEFENSE_FPA_COLUMNS)]) == DEFENSE_FPA_COLUMNS
    assert len(table) == 3 * 2 * 3  # shared models x classifiers x (none + two mitigations)
    assert set(table["mitigation"]) == {"none", "reweighing", "threshold_optimizer"}
    reference = table[(table["attack"] == "none") & (table["mitigation"] == "none")]
    assert (reference["accuracy_loss"] == 0).all() and (reference["fairness_loss"] == 0).all()
    unmitigated = table[table["mitigation"] == "none"]
    assert np.allclose(unmitigated["recovered"].dropna(), 0.0)
    # The unmitigated rows are the FPA sweep's receivers.
    fpa = pd.read_csv(defended / "results/fpa/adult.csv")
    keys = ["attack", "alpha", "seed", "classifier"]
    merged = unmitigated.merge(fpa, on=keys, suffixes=("", "_fpa"))
    assert len(merged) == len(unmitigated)
    assert np.allclose(merged["dp_difference"], merged["dp_difference_fpa"])


def test_mitigated_metrics_can_be_recomputed_from_saved_predictions(defended):
    table = pd.read_csv(defended / "results/defense/fpa/adult.csv")
    for row in table[table["mitigation"] != "none"].itertuples():
        folder = (
            f"results/defense/fpa/adult/attack~{row.attack}/alpha~{row.alpha:g}/seed~{row.seed}/"
            f"classifier~{row.classifier}/mitigation~{row.mitigation}"
        )
        predictions = pd.read_parquet(defended / folder / "predictions.parquet")
        recomputed = evaluate(predictions)
        assert recomputed["accuracy"] == pytest.approx(row.accuracy)
        assert recomputed["dp_difference"] == pytest.approx(row.dp_difference)
    assert (defended / "results/defense/fpa/adult.png").stat().st_size > 10_000
