"""The real snakemake command on the tiny config: outputs, recomputable metrics, and caching."""

import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, snakemake
from diffshare.attacks.pia.bounds import hoeffding_eps
from diffshare.evaluation.fairness import evaluate
from diffshare.reporting.benchmarks import BENCHMARK_COLUMNS
from diffshare.reporting.claims import CLAIM_COLUMNS
from diffshare.reporting.tables import BASELINE_COLUMNS, FPA_COLUMNS, PIA_COLUMNS, UTILITY_COLUMNS

pytestmark = pytest.mark.workflow
TARGET = "results/baseline/adult.csv"


def job_counts(output: str) -> dict[str, int]:
    """Rule -> job count from the 'Job stats' table snakemake prints."""
    table = output.split("Job stats:", 1)[1]
    return {
        m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"
    }


# A third seed of the tiny sweep: MINE, three subsets (none, label_flip and mi_greedy at alpha
# 0.5), their shared models and samples, and two classifiers on each.
SEED_2_JOBS = {
    "train_mine": 1,
    "select_subset": 3,
    "train_generator": 3,
    "sample_generator": 3,
    "train_classifier": 6,
}


def build_tiny(workdir, *targets):
    """Build ``targets`` with the tiny config in ``workdir``; fail with snakemake's output."""
    result = snakemake(
        workdir, *targets, "--cores", "2", "--configfile", str(REPO / "config/tiny.yaml")
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return workdir


@pytest.fixture(scope="module")
def tiny_run(shared_tiny):
    # A copy of the shared tiny tree (tests/conftest.py): both sweeps' jobs and the baseline,
    # utility and PIA tables are built there, the FPA table is not (the partial report below
    # needs it missing); the builds below run what the copy lacks.
    return build_tiny(shared_tiny("tiny"), TARGET)


def test_baseline_table_has_a_row_per_classifier_and_seed(tiny_run):
    table = pd.read_csv(tiny_run / TARGET)
    assert list(table.columns[: len(BASELINE_COLUMNS)]) == BASELINE_COLUMNS
    assert sorted(zip(table["classifier"], table["seed"], strict=True)) == [
        ("hgb", 0),
        ("hgb", 1),
        ("logreg", 0),
        ("logreg", 1),
    ]
    assert (table["dataset"] == "adult").all() and (table["source"] == "real").all()
    assert (table["n_train"] == 400).all() and (table["n_test"] == 300).all()
    assert table["accuracy"].between(0.7, 1.0).all()
    assert table["dp_difference"].between(0.0, 1.0).all()
    assert not table[BASELINE_COLUMNS].isna().any().any()


def test_metrics_can_be_recomputed_from_saved_predictions(tiny_run):
    table = pd.read_csv(tiny_run / TARGET)
    for row in table.itertuples():
        folder = (
            tiny_run / f"results/downstream/adult/real/classifier~{row.classifier}/seed~{row.seed}"
        )
        predictions = pd.read_parquet(folder / "predictions.parquet")
        assert list(predictions.columns) == ["y_true", "y_pred", "y_score", "s"]
        recomputed = evaluate(predictions)
        assert recomputed["accuracy"] == pytest.approx(row.accuracy)
        assert recomputed["dp_difference"] == pytest.approx(row.dp_difference)
        assert recomputed["eo_difference"] == pytest.approx(row.eo_difference)


def test_prepared_tables_and_logs_are_written(tiny_run):
    train = pd.read_parquet(tiny_run / "results/data/adult/train.parquet")
    assert len(train) == 400 and train.index.name == "row_id"
    assert isinstance(train["sex"].dtype, pd.CategoricalDtype)
    assert "dropped 2399 rows" in (tiny_run / "logs/data/adult.log").read_text()


def test_second_run_has_nothing_to_do(tiny_run):
    result = snakemake(
        tiny_run, TARGET, "--dry-run", "--configfile", str(REPO / "config/tiny.yaml")
    )
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


def test_changing_one_classifier_reruns_only_its_jobs(tiny_run):
    config = yaml.safe_load((REPO / "config/tiny.yaml").read_text())
    config["downstream"]["params"] = {"logreg": {"C": 0.5}}
    (tiny_run / "changed.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(tiny_run, TARGET, "--dry-run", "--configfile", "changed.yaml")
    assert result.returncode == 0, result.stderr
    assert job_counts(result.stdout + result.stderr) == {
        "baseline": 1,
        "train_classifier": 2,
    }


def report_paths(html):
    """The result files a Snakemake report holds."""
    return set(re.findall(r'"(results/[^"]+)": \{"name"', html))


def test_report_without_targets_holds_what_is_built(tiny_run):
    # Before the sweeps are built: the default target's other tables and figures are missing.
    result = snakemake(
        tiny_run, "--report", "partial.html", "--configfile", str(REPO / "config/tiny.yaml")
    )
    assert result.returncode == 0, result.stdout + result.stderr
    held = report_paths((tiny_run / "partial.html").read_text())
    assert TARGET in held
    missing = [p for p in ("results/fpa/adult.csv", "results/pia/adult.png") if p not in held]
    assert missing and not any((tiny_run / path).exists() for path in missing)
    assert "not built yet: " in result.stderr and "results/fpa/adult.csv" in result.stderr


def test_report_of_nothing_built_says_what_to_build(tmp_path):
    result = snakemake(
        tmp_path, "--report", "report.html", "--configfile", str(REPO / "config/tiny.yaml")
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "nothing to report yet" in output
    assert f"snakemake --report results/report.html {TARGET}" in output
    assert not (tmp_path / "report.html").exists()


@pytest.fixture(scope="module")
def tiny_utility(tiny_run):
    return build_tiny(tiny_run, "results/utility/adult.csv")


def test_utility_table_compares_real_and_synthetic_training(tiny_utility):
    table = pd.read_csv(tiny_utility / "results/utility/adult.csv")
    assert list(table.columns[: len(UTILITY_COLUMNS)]) == UTILITY_COLUMNS
    assert len(table) == 4  # two classifiers, two seeds
    assert (table["n_train_synthetic"] == 400).all() and (table["n_train_real"] == 400).all()
    assert table["accuracy_gap"].to_numpy() == pytest.approx(
        (table["accuracy_real"] - table["accuracy_synthetic"]).to_numpy()
    )
    assert table["marginal_distance"].between(0, 1).all()
    assert not table[UTILITY_COLUMNS].isna().any().any()


def test_shared_model_is_saved_without_pickle_and_checkpoint_removed(tiny_utility):
    model = tiny_utility / "results/generators/adult/tabddpm/full/seed~0/model"
    assert sorted(p.name for p in model.iterdir() if not p.name.startswith(".snakemake")) == [
        "config.json",
        "model.safetensors",
        "transforms.npz",
    ]
    assert not list((tiny_utility / "results/checkpoints").rglob("*.pt"))
    samples = pd.read_parquet(
        tiny_utility / "results/samples/adult/tabddpm/full/seed~0/samples.parquet"
    )
    real = pd.read_parquet(tiny_utility / "results/data/adult/train.parquet")
    assert list(samples.columns) == list(real.columns)
    assert (samples.dtypes == real.dtypes).all()
    assert (
        "step 150/150"
        in (tiny_utility / "logs/generators/adult/tabddpm/full/seed~0/train.log").read_text()
    )


@pytest.fixture(scope="module")
def tiny_fpa(tiny_run):
    return build_tiny(tiny_run, "results/fpa/adult.csv", "results/fpa/adult.png")


def test_fpa_table_has_a_row_per_attack_alpha_seed_and_classifier(tiny_fpa):
    table = pd.read_csv(tiny_fpa / "results/fpa/adult.csv")
    assert list(table.columns[: len(FPA_COLUMNS)]) == FPA_COLUMNS
    assert sorted(set(zip(table["attack"], table["alpha"], strict=True))) == [
        ("label_flip", 0.5),
        ("mi_greedy", 0.5),
        ("none", 0.0),
    ]
    assert len(table) == 3 * 2 * 2  # subsets x classifiers x seeds
    reference = table[table["attack"] == "none"]
    assert (reference["accuracy_loss"] == 0).all() and (reference["fairness_loss"] == 0).all()
    assert not table[FPA_COLUMNS].isna().any().any()
    assert (tiny_fpa / "results/fpa/adult.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_subset_files_record_the_selection(tiny_fpa):
    folder = tiny_fpa / "results/subsets/adult/attack~label_flip/alpha~0.5/seed~0"
    rows = pd.read_parquet(folder / "rows.parquet")
    record = yaml.safe_load((folder / "selection.json").read_text())
    assert len(rows) == 200 and rows.index.name == "row_id"
    assert record["flipped"] == int(rows["flipped"].sum())
    for key in ("mi_sy_before", "mi_sy_after", "mi_xy_before", "mi_xy_after", "seconds"):
        assert key in record


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"fpa": {"alphas": [0.5, 0.3]}},
            {
                "select_subset": 4,
                "train_generator": 4,
                "sample_generator": 4,
                "train_classifier": 8,
                "fpa": 1,
            },
        ),
        ({"run": {"seeds": [0, 1, 2]}}, {**SEED_2_JOBS, "fpa": 1}),
    ],
    ids=["new-alpha", "new-seed"],
)
def test_sweep_extension_reruns_only_the_new_jobs(tiny_fpa, change, expected):
    config = yaml.safe_load((REPO / "config/tiny.yaml").read_text())
    for key, value in change.items():
        config[key].update(value)
    (tiny_fpa / "extended.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(
        tiny_fpa, "results/fpa/adult.csv", "--dry-run", "--configfile", "extended.yaml"
    )
    assert result.returncode == 0, result.stderr
    assert job_counts(result.stdout + result.stderr) == expected


@pytest.fixture(scope="module")
def tiny_pia(tiny_run):
    return build_tiny(tiny_run, "results/pia/adult.csv", "results/pia/adult.png")


def test_pia_table_has_a_row_per_generator_attack_ratio_and_query_count(tiny_pia):
    table = pd.read_csv(tiny_pia / "results/pia/adult.csv")
    assert list(table.columns[: len(PIA_COLUMNS)]) == PIA_COLUMNS
    assert len(table) == 3 * 4 * 2 * 2  # generators x attacks x ratios x query counts (1 seed)
    assert set(table["attack"]) == {"column", "aux", "aux_corrected", "calibrated"}
    assert set(table["generator"]) == {"tabddpm", "ctgan", "tvae"}
    assert set(table["true_ratio"]) == {0.3, 0.7} and set(table["n_queries"]) == {20, 50}
    assert table["hoeffding_eps"].tolist() == pytest.approx(
        [hoeffding_eps(n) for n in table["n_queries"]]
    )
    assert table["estimate_mean"].between(0, 1).all() and (table["repeats"] == 4).all()
    assert table["within_bound_rate"].between(0, 1).all()
    assert not table[PIA_COLUMNS].isna().any().any()
    assert (tiny_pia / "results/pia/adult.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pia_stages_write_exact_subsets_and_enough_samples(tiny_pia):
    subset = tiny_pia / "results/subsets/adult/ratio~0.3/seed~0"
    table = pd.read_parquet(subset / "table.parquet")
    assert len(table) == 100 and (table["sex"] == "Female").sum() == 30
    assert yaml.safe_load((subset / "subset.json").read_text())["true_ratio"] == 0.3
    model = tiny_pia / "results/generators/adult/ctgan/ratio~0.3/seed~0/model"
    saved = {p.name for p in model.iterdir() if not p.name.startswith(".snakemake")}
    assert saved == {"config.json", "network.safetensors", "transformer.safetensors"}  # no pickle
    for generator in ("tabddpm", "ctgan", "tvae"):
        samples = tiny_pia / f"results/samples/adult/{generator}/ratio~0.7/seed~0/samples.parquet"
        assert len(pd.read_parquet(samples)) == 50 * 4  # largest query count x repeats


def test_calibrated_rows_come_from_shadow_models_of_each_family(tiny_pia):
    """One shadow set per share of the auxiliary data, one shadow model per family and share,
    one calibration per family and seed; the calibrated rows' intervals are their own (not
    Hoeffding's) and every target is also calibrated with every other family's shadows."""
    shadow = tiny_pia / "results/subsets/adult/shadow~0.05/seed~0"
    record = yaml.safe_load((shadow / "subset.json").read_text())
    table = pd.read_parquet(shadow / "table.parquet")
    assert len(table) == record["size"] <= 100 and record["n_pool"] == 300  # the test split
    for family in ("tabddpm", "ctgan", "tvae"):
        calibration = json.loads(
            (tiny_pia / f"results/pia/calibration/adult/{family}/seed~0.json").read_text()
        )
        assert calibration["shares"] == pytest.approx([0.05, 0.25, 0.5, 0.75, 0.95], abs=0.01)
        assert calibration["attack"] == "column" and set(calibration["sampling_var"]) == {
            "20",
            "50",
        }
    pia = pd.read_csv(tiny_pia / "results/pia/adult.csv")
    calibrated = pia[pia["attack"] == "calibrated"]
    assert calibrated["coverage"].between(0, 1).all()
    assert not np.allclose(calibrated["interval_width"], 2 * calibrated["hoeffding_eps"])
    raw = pia[pia["attack"] != "calibrated"]
    assert (raw["coverage"] == raw["within_bound_rate"]).all()
    build_tiny(tiny_pia, "results/pia/calibration/adult.csv")
    sensitivity = pd.read_csv(tiny_pia / "results/pia/calibration/adult.csv")
    assert set(sensitivity["calibrated_with"]) == {"tabddpm", "ctgan", "tvae", "any family"}
    assert len(sensitivity) == 3 * 4 * 2  # targets x calibrations x query counts (1 seed)


def test_new_ratio_reruns_only_its_jobs(tiny_pia):
    config = yaml.safe_load((REPO / "config/tiny.yaml").read_text())
    config["pia"]["ratios"] = [0.3, 0.7, 0.5]
    (tiny_pia / "ratios.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(
        tiny_pia, "results/pia/adult.csv", "--dry-run", "--configfile", "ratios.yaml"
    )
    assert result.returncode == 0, result.stderr
    assert job_counts(result.stdout + result.stderr) == {
        "sharer_table": 1,
        "train_generator": 3,  # tabddpm, ctgan and tvae: one rule for every family
        "sample_generator": 3,
        "estimate_property": 3,
        "pia": 1,
    }


@pytest.mark.e2e
def test_hidden_property_never_reaches_the_shared_model(tmp_path):
    config = yaml.safe_load((REPO / "config/tiny.yaml").read_text())
    config["pia"].update(
        hide_property=True, attacks=["aux", "aux_corrected"], generators=["tvae"], ratios=[0.3]
    )
    (tmp_path / "hidden.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(
        tmp_path, "results/pia/adult.csv", "--cores", "2", "--configfile", "hidden.yaml"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for path in (
        "results/subsets/adult/ratio~0.3/seed~0/table.parquet",
        "results/samples/adult/tvae/ratio~0.3/seed~0/samples.parquet",
    ):
        assert "sex" not in pd.read_parquet(tmp_path / path).columns
    table = pd.read_csv(tmp_path / "results/pia/adult.csv")
    assert set(table["attack"]) == {"aux", "aux_corrected"} and len(table) == 2 * 2


@pytest.fixture(scope="module")
def tiny_all(tiny_run, tiny_utility, tiny_fpa, tiny_pia):
    """Every default target of the tiny config, built by the fixtures above."""
    return tiny_run


def test_benchmarks_table_gathers_every_benchmarked_job(tiny_all):
    build_tiny(tiny_all, "results/benchmarks.csv")
    table = pd.read_csv(tiny_all / "results/benchmarks.csv")
    assert list(table.columns) == BENCHMARK_COLUMNS
    counts = table["rule"].value_counts()
    # tiny: 2 seeds x (full + 3 FPA subsets) diffusion models, plus the three families per PIA
    # ratio (1 seed); the shared tree (tests/conftest.py) also holds the undefended estimates of
    # SDV's copula, which test_defense_pia_workflow.py defends: one job per ratio trains and
    # samples it, and no model is saved
    # and the calibrated attack's shadow models: three families x five shadow shares (1 seed)
    assert counts["train_generator"] == 2 * 4 + 3 * 2 + 3 * 5
    assert counts["estimate_shadow"] == 3 * 5
    assert counts["train_sample_generator"] == 2
    assert counts["estimate_property"] == 4 * 2
    assert (table["seconds"] > 0).all()
    assert "adult/tabddpm/full/seed~0" in set(table["wildcards"])


def test_report_holds_the_figures_and_tables(tiny_all):
    result = snakemake(
        tiny_all,
        "--report",
        "report.html",
        "--configfile",
        str(REPO / "config/tiny.yaml"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERROR" not in result.stderr  # a caption that is not valid reStructuredText
    html = (tiny_all / "report.html").read_text()
    for path in (
        "results/fpa/adult.png",
        "results/fpa/adult.csv",
        "results/pia/adult.png",
        "results/pia/adult.csv",
    ):
        assert f'"{path}": {{"name"' in html, path
    assert html.count("iVBORw0KGgo") >= 2  # both figures embedded (base64 of the PNG header)
    for caption in ("Fairness poisoning on adult", "Property inference on adult"):
        assert caption in html


# -- summaries over seeds and the claims report (after every test above: these change seeds) --
CLAIM_TARGETS = (
    "results/claims/adult.csv",
    "results/fpa/adult_summary.csv",
    "results/pia/adult_summary.csv",
)
FPA_CLAIMS = {
    "fpa_raises_dp_gap",
    "greedy_accuracy_loss_small",
    "greedy_cheaper_than_label_flip",
    "greedy_keeps_mi_xy",
}
PIA_CLAIMS = {"pia_within_hoeffding", "diffusion_leaks_more", "pia_calibrated_covers"}
VERDICTS = {"holds", "fails", "inconclusive"}


def run(workdir, *args):
    result = snakemake(workdir, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def claims_run(tiny_all):
    """The claims and summaries of the tiny default targets (two FPA seeds, one PIA seed)."""
    build_tiny(tiny_all, *CLAIM_TARGETS)
    return tiny_all


def test_summary_targets_resolve_to_the_summary_rules_only(tmp_path):
    """results/fpa/adult_summary.csv is never taken for the table of a dataset "adult_summary":
    the plan has no input-function error to print, and asks for the seed tables."""
    result = snakemake(
        tmp_path,
        "results/fpa/adult_summary.csv",
        "results/pia/adult_summary.csv",
        "--dry-run",
        "--configfile",
        str(REPO / "config/tiny.yaml"),
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Exception" not in output and "adult_summary'" not in output
    for rule in ("fpa_summary", "pia_summary", "fpa", "pia"):
        assert re.search(rf"^{rule}\s+1$", output, re.M), rule


def test_claims_report_two_fpa_seeds_and_one_pia_seed(claims_run):
    claims = pd.read_csv(claims_run / "results/claims/adult.csv")
    assert list(claims.columns) == CLAIM_COLUMNS
    assert set(claims["claim"]) == FPA_CLAIMS | PIA_CLAIMS
    assert set(claims["verdict"]) <= VERDICTS and (claims["dataset"] == "adult").all()
    fpa = claims[claims["claim"].isin(FPA_CLAIMS)]
    assert (fpa["n_seeds"] == 2).all()
    t_tested = fpa[fpa["claim"] != "greedy_keeps_mi_xy"]
    assert t_tested[["ci_low", "ci_high", "p_value"]].notna().all().all()
    pia = claims[claims["claim"].isin(PIA_CLAIMS)]
    assert (pia["n_seeds"] == 1).all() and (pia["verdict"] == "inconclusive").all()
    leaks = pia[pia["claim"] == "diffusion_leaks_more"]
    pairs = set(zip(leaks["generator"], leaks["baseline"], strict=True))
    assert pairs == {("tabddpm", "ctgan"), ("tabddpm", "tvae")}


def test_summaries_over_seeds(claims_run):
    fpa = pd.read_csv(claims_run / "results/fpa/adult_summary.csv")
    assert (fpa["n_seeds"] == 2).all() and len(fpa) == 3 * 2  # (none, 2 attacks) x classifiers
    assert fpa[["fairness_loss_ci_low", "accuracy_loss_ci_high"]].notna().all().all()
    table = pd.read_csv(claims_run / "results/fpa/adult.csv")
    means = table.groupby(["attack", "alpha", "classifier"])["fairness_loss"].mean()
    summary = fpa.set_index(["attack", "alpha", "classifier"])["fairness_loss_mean"]
    pd.testing.assert_series_equal(summary.sort_index(), means.sort_index(), check_names=False)
    pia = pd.read_csv(claims_run / "results/pia/adult_summary.csv")
    assert (pia["n_seeds"] == 1).all() and pia["abs_error_ci_low"].isna().all()
    assert pia["within_bound_rate"].between(0, 1).all()


def test_one_seed_gives_inconclusive_claims(claims_run):
    (claims_run / "one.yaml").write_text(yaml.safe_dump({"run": {"seeds": [0]}}))
    output = run(
        claims_run,
        *CLAIM_TARGETS,
        "--cores",
        "2",
        "--configfile",
        str(REPO / "config/tiny.yaml"),
        "one.yaml",
    )
    # The seed-0 jobs exist: only the tables that gather them are rebuilt.
    assert set(job_counts(output)) <= {"fpa", "fpa_summary", "claims"}
    claims = pd.read_csv(claims_run / "results/claims/adult.csv")
    assert (claims["n_seeds"] == 1).all() and (claims["verdict"] == "inconclusive").all()
    # The FPA intervals are over seeds: none with one. (The PIA claims pool repeats, or pair
    # seeds and ratios, so they keep an interval; their verdicts still wait for two seeds.)
    over_seeds = claims["claim"].isin(FPA_CLAIMS - {"greedy_keeps_mi_xy"})
    assert claims.loc[over_seeds, "ci_low"].isna().all()


def test_a_new_seed_reruns_only_its_jobs_and_the_aggregations(claims_run):
    (claims_run / "three.yaml").write_text(yaml.safe_dump({"run": {"seeds": [0, 1, 2]}}))
    output = run(
        claims_run,
        *CLAIM_TARGETS,
        "--dry-run",
        "--configfile",
        str(REPO / "config/tiny.yaml"),
        "three.yaml",
    )
    # The third seed's jobs, then the tables that gather the seeds.
    assert job_counts(output) == {**SEED_2_JOBS, "fpa": 1, "fpa_summary": 1, "claims": 1}


def test_paper_config_schedules_five_fpa_and_three_pia_seeds(tmp_path):
    output = run(
        tmp_path,
        "results/claims/adult.csv",
        "--dry-run",
        "--configfile",
        str(REPO / "config/paper.yaml"),
    )
    counts = job_counts(output)
    assert counts["train_mine"] == 5
    # 5 seeds x 11 FPA subsets of tabddpm, plus 3 seeds x 5 ratios x 3 families, plus as many
    # shadow models (3 seeds x 5 shadow shares x 3 families) for the calibrated attack
    assert counts["train_generator"] == 5 * 11 + 3 * 5 * 3 + 3 * 5 * 3
    assert counts["estimate_property"] == 3 * 5 * 3
    assert counts["estimate_shadow"] == 3 * 5 * 3 and counts["calibrate_property"] == 3 * 3
    assert counts["claims"] == 1
