"""COMPAS, the third tabular dataset: two races kept, label two-year recidivism, no COMPAS score
among the features, and the workflow's targets for it."""

import gzip

import pandas as pd
import pytest
import yaml

from conftest import REPO, snakemake
from diffshare.attacks.pia.property import Property, ratio_rows
from diffshare.config import schema_defaults
from diffshare.data.tabular import DatasetSpec, prepare, summarize
from diffshare.errors import DataError

RAW = REPO / "resources/data/compas/compas-two-years-deidentified.csv.gz"
FEATURES = ["age", "priors_count", "juv_fel_count", "juv_misd_count", "juv_other_count"]
FEATURES += ["sex", "age_cat", "race", "c_charge_degree"]
KEPT = {"African-American", "Caucasian"}


def defaults():
    return schema_defaults(
        yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    )


@pytest.fixture(scope="module")
def raw():
    return pd.read_csv(RAW, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def compas(catalogue):
    return prepare(DatasetSpec.from_config("compas", catalogue["compas"], REPO))


def test_only_african_american_and_caucasian_rows_are_kept(compas, raw):
    train, test, schema = compas
    assert (len(train), len(test)) == (4305, 1845)
    both = pd.concat([train, test])
    assert set(both["race"]) == KEPT and schema.categories["race"] == sorted(KEPT)
    # The other races are read as missing: exactly their rows go, no row of the two races does.
    assert sorted(both.index) == list(raw.index[raw["race"].isin(KEPT)])
    assert len(raw) - len(both) == 1064
    assert summarize(train, schema)["privileged_share"] == pytest.approx(0.401, abs=0.001)


def test_label_is_binary_and_positive_means_no_recidivism(compas, raw):
    train, test, schema = compas
    assert schema.categories["two_year_recid"] == ["no", "yes"] and schema.positive == "no"
    for table in (train, test):
        y = schema.labels(table)
        assert list(y) == list(raw.loc[table.index, "two_year_recid"] == "0")
        assert y.mean() == pytest.approx(0.534, abs=0.001)  # stratified split


def test_features_leave_out_the_scores_and_later_outcomes(compas, raw):
    train, _, schema = compas
    assert sorted(schema.feature_columns()) == sorted(FEATURES)
    assert list(train.columns) == schema.columns
    # The COMPAS scores, what happened after the screening (re-arrests, custody), and dates.
    later = ("score", "recid", "custody", "jail", "date", "r_", "vr_", "start", "end", "event")
    leaks = {c for c in raw.columns if any(word in c for word in later[:5])}
    leaks |= {c for c in raw.columns if c.startswith(later[5:])}
    assert {"decile_score", "score_text", "is_recid", "r_charge_degree", "end"} <= leaks
    assert not leaks & set(schema.feature_columns())


def test_an_altered_file_is_refused(catalogue, tmp_path):
    text = gzip.decompress(RAW.read_bytes()).decode().replace(",Caucasian,", ",Other,", 1)
    altered = tmp_path / RAW.name
    altered.write_bytes(gzip.compress(text.encode()))
    entry = {**catalogue["compas"], "files": {"data": {**catalogue["compas"]["files"]["data"]}}}
    entry["files"]["data"]["path"] = str(altered)
    with pytest.raises(DataError, match=f"{altered}.*altered or replaced"):
        prepare(DatasetSpec.from_config("compas", entry, REPO))


def test_default_property_is_the_african_american_share(compas):
    train, _, schema = compas
    prop = Property.from_config(defaults()["pia"]["properties"]["compas"])
    schema.check_property(prop.column, prop.value)
    assert prop.indicator(train).mean() == pytest.approx(0.599, abs=0.001)


def test_shipped_attack_sizes_fit_the_pool(compas):
    # The default subset sizes (Adult's) exceed COMPAS's pool; config/compas.yaml's fit it.
    train, _, _ = compas
    sizes = yaml.safe_load((REPO / "config/compas.yaml").read_text())
    assert defaults()["fpa"]["subset_size"] > len(train) >= 2 * sizes["fpa"]["subset_size"]
    has = Property.from_config(defaults()["pia"]["properties"]["compas"]).indicator(train)
    size = sizes["pia"]["subset_size"]
    for ratio in defaults()["pia"]["ratios"]:
        assert len(ratio_rows(has, ratio, size, seed=0)) == size


def test_raw_file_holds_the_published_rows(raw):
    assert raw.shape == (7214, 49) and raw["race"].isin(KEPT).sum() == 6150


SMALL = {
    "datasets": {"compas": {"max_rows": {"train": 300, "test": 200}}},
    "downstream": {"classifiers": ["logreg"]},
    "fpa": {"alphas": [0.5], "subset_size": 200},
    "pia": {"ratios": [0.3], "subset_size": 100, "queries": [20], "seeds": [0]},
}


@pytest.mark.workflow
@pytest.mark.e2e
def test_baseline_builds_and_attack_targets_schedule(tmp_path):
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(SMALL))
    target = "results/baseline/compas.csv"
    result = snakemake(tmp_path, target, "--cores", "2", "--configfile", "small.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    table = pd.read_csv(tmp_path / target)
    assert list(table["classifier"]) == ["logreg"] and (table["dataset"] == "compas").all()
    assert (table["n_train"] == 300).all() and (table["n_test"] == 200).all()
    assert table["accuracy"].between(0.5, 1.0).all() and table["dp_difference"].notna().all()
    for attack in ("fpa", "pia"):
        target = f"results/{attack}/compas.csv"
        result = snakemake(tmp_path, target, "--dry-run", "--configfile", "small.yaml")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Job stats:" in result.stdout and f"\n{attack} " in result.stdout
