"""The real snakemake command on the tiny config: the sharer's defenses against property
inference, results/defense/pia/adult.csv and its leakage table and figure."""

import math

import pandas as pd
import pytest
import yaml

from conftest import REPO, SHARED_SETTINGS, snakemake
from diffshare.defenses.pia_report import DEFENSE_COLUMNS, LEAKAGE_COLUMNS, PRIVACY_COLUMNS
from diffshare.storage import read_json

pytestmark = pytest.mark.workflow
TABLE = "results/defense/pia/adult.csv"
LEAKAGE = "results/defense/pia/adult_leakage.csv"
FIGURE = "results/defense/pia/adult.png"


@pytest.fixture(scope="module")
def defended(shared_tiny):
    """The tiny sweep (ratios 0.3 and 0.7, one seed, 4 x 50 served rows) with one epsilon."""
    # A copy of the shared tiny tree (tests/conftest.py), built with these settings: one epsilon,
    # one thread per job (tiny networks, and two jobs at once on two cores): the run below finds
    # the table and figure up to date.
    workdir = shared_tiny("defense_pia")
    extra = workdir / "defense.yaml"
    extra.write_text(yaml.safe_dump(SHARED_SETTINGS))
    result = snakemake(
        workdir,
        TABLE,
        FIGURE,
        "--cores",
        "2",
        "--configfile",
        str(REPO / "config/tiny.yaml"),
        str(extra),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return workdir


def test_table_has_every_defense_ratio_and_query_count(defended):
    table = pd.read_csv(defended / TABLE)
    assert list(table.columns) == DEFENSE_COLUMNS
    run = table[table["skipped"].isna()]
    runs = run.groupby(["defense", "setting", "generator"]).size().to_dict()
    # 3 attacks x 2 ratios x 2 query counts x 1 seed per defense, setting and family that runs
    assert runs == {
        ("none", "none", "tabddpm"): 12,
        ("none", "none", "gaussian_copula"): 12,
        ("rebalance", "decoy~0.5", "tabddpm"): 12,
        ("rebalance", "decoy~0.5", "gaussian_copula"): 12,
        ("decoy_sampling", "decoy~0.5", "tabddpm"): 12,
        ("dp_sgd", "epsilon~10", "tabddpm"): 12,
    }
    figures = [c for c in DEFENSE_COLUMNS[7:-1] if c not in PRIVACY_COLUMNS]
    assert run[figures].notna().all().all()
    private = run["defense"] == "dp_sgd"  # the budget split of dp_sgd rows only
    assert run.loc[private, PRIVACY_COLUMNS].notna().all().all()
    assert run.loc[~private, PRIVACY_COLUMNS].isna().all().all()
    assert (run.loc[private, "epsilon"] == 10).all()
    assert (
        run.loc[run["defense"] == "none", ["accuracy_gap_logreg", "accuracy_gap_hgb"]]
        .eq(0)
        .all()
        .all()
    )


def test_defenses_a_family_cannot_take_are_skipped_with_their_reason(defended):
    for path in (TABLE, LEAKAGE):
        table = pd.read_csv(defended / path)
        skipped = table[table["skipped"].notna()].set_index("defense")
        assert list(skipped["generator"]) == ["gaussian_copula", "gaussian_copula"]
        assert "sample-only (never saved)" in skipped.loc["decoy_sampling", "skipped"]
        assert "trains only tabddpm" in skipped.loc["dp_sgd", "skipped"]
        assert skipped[["n_queries"]].isna().all().all()  # no figures for what did not run
    # the copula's models are never saved: its samples come from one job that trains it
    models = defended / "results/defense/pia/models/adult"
    assert sorted(p.name for p in models.iterdir()) == ["tabddpm"]


def test_decoy_sampling_serves_exactly_the_decoy_share(defended):
    # 4 disjoint batches of 50 cover the 200 served rows, whose property share is exactly 0.5.
    table = pd.read_csv(defended / TABLE)
    rows = table[
        (table["defense"] == "decoy_sampling")
        & (table["attack"] == "column")
        & (table["n_queries"] == 50)
    ]
    assert rows["estimate_mean"].tolist() == [0.5, 0.5]
    leakage = pd.read_csv(defended / LEAKAGE)
    assert list(leakage.columns) == LEAKAGE_COLUMNS
    row = leakage[(leakage["defense"] == "decoy_sampling") & (leakage["attack"] == "column")]
    assert row["slope"].abs().max() < 1e-12
    assert row["slope_ci_low"].isna().all() and (row["n_seeds"] == 1).all()  # one seed


def test_rebalanced_tables_and_private_models_record_what_they_did(defended):
    base = defended / "results/defense/pia"
    for ratio in ("0.3", "0.7"):
        run = f"ratio~{ratio}/seed~0"
        record = read_json(base / f"subsets/adult/rebalance/decoy~0.5/{run}/rebalance.json")
        assert record["served_ratio"] == 0.5 and record["true_ratio"] == float(ratio)
        privacy = read_json(base / f"models/adult/tabddpm/dp_sgd/epsilon~10/{run}/privacy.json")
        assert math.isfinite(privacy["spent_epsilon"]) and privacy["spent_epsilon"] <= 10.0 * 1.01
        assert privacy["delta"] == 1e-5 and privacy["steps"] >= 1
        assert privacy["noise"] == "os_entropy"  # dp_sgd.reproducible_noise: false, the default
        assert privacy["epsilon_preprocessing"] + privacy["epsilon_training"] == 10.0
        releases = privacy["preprocessing"]["releases"]
        assert sum(r["epsilon"] for r in releases) == pytest.approx(1.0)
    assert (defended / FIGURE).stat().st_size > 10_000
