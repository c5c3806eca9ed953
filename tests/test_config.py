"""The config is checked when the workflow loads: a bad value stops the run, naming its key."""

import copy

import pytest
import yaml

from conftest import REPO, snakemake
from diffshare.config import dataset_config
from diffshare.errors import ConfigError
from diffshare.validation import check_config


@pytest.fixture
def config(catalogue):
    return {"datasets": copy.deepcopy(catalogue), "run": {"datasets": ["adult"], "seeds": [0]}}


def test_shipped_config_passes(config):
    check_config(config)


def test_unknown_dataset_in_run_list_is_named(config):
    config["run"]["datasets"] = ["adult", "adlut"]
    with pytest.raises(ConfigError, match=r"'run.datasets\[1\]': unknown dataset 'adlut'"):
        check_config(config)


def test_inconsistent_catalogue_entry_is_named(config):
    config["datasets"]["german"]["sensitive"]["column"] = "age"
    with pytest.raises(ConfigError, match=r"dataset 'german': sensitive column 'age'"):
        check_config(config)


def test_pia_property_must_name_a_dataset_and_a_categorical_column(config):
    config["pia"] = {"properties": {"credit": {"column": "sex", "value": "F"}}}
    with pytest.raises(ConfigError, match=r"'pia.properties.credit': unknown dataset 'credit'"):
        check_config(config)
    config["pia"] = {"properties": {"german": {"column": "credit", "value": "good"}}}
    check_config(config)  # the label is a valid property
    config["pia"]["hide_property"] = True
    with pytest.raises(ConfigError, match="cannot hide the label column 'credit'"):
        check_config(config)


@pytest.mark.workflow
def test_dataset_without_a_property_is_named(tmp_path, catalogue):
    # A new catalogue entry has no PIA property until the config gives it one.
    entry = copy.deepcopy(catalogue["german"])
    for item in entry["files"].values():
        item["path"] = str(REPO / item["path"])
    (tmp_path / "new.yaml").write_text(yaml.safe_dump({"datasets": {"credit": entry}}))
    result = snakemake(tmp_path, "--dry-run", "results/pia/credit.csv", "--configfile", "new.yaml")
    assert result.returncode != 0
    assert "no property to infer for dataset 'credit'" in result.stdout + result.stderr


def test_dataset_lookup_lists_the_known_names(config):
    with pytest.raises(ConfigError, match=r"no entry 'credit' \(known: adult, german\)"):
        dataset_config(config, "credit")


@pytest.mark.workflow
@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            {"downstream": {"classifiers": ["logreg", "svm"]}},
            ["'svm' is not one of", "classifiers"],
        ),
        ({"run": {"seeds": [0, 0.5]}}, ["0.5 is not of type 'integer'", "seeds"]),
        ({"run": {"datasets": ["credit"]}}, ["unknown dataset 'credit'", "run.datasets[0]"]),
        ({"downstream": {"use_sensitve": False}}, ["'use_sensitve' was unexpected"]),
        (
            {"pia": {"properties": {"adult": {"column": "age", "value": 30}}}},
            ["pia.properties.adult", "column 'age' must be a categorical column or the label"],
        ),
        (
            {"pia": {"hide_property": True}},
            ["'pia.attacks' lists 'column', but pia.hide_property is true"],
        ),
        ({"pia": {"ratios": [0.5, 1.2]}}, ["1.2 is greater than the maximum of 1", "ratios"]),
    ],
    ids=["classifier", "seed", "dataset", "typo", "pia-column", "pia-hidden", "pia-ratio"],
)
def test_bad_config_stops_before_any_job(tmp_path, override, expected):
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(override))
    result = snakemake(tmp_path, "--dry-run", "--configfile", "bad.yaml")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for fragment in expected:
        assert fragment in output, output
    assert not (tmp_path / "results").exists()


@pytest.mark.workflow
def test_unknown_dataset_target_is_named(tmp_path):
    result = snakemake(tmp_path, "--dry-run", "results/baseline/credit.csv")
    assert result.returncode != 0
    assert "unknown dataset 'credit'" in result.stdout + result.stderr


def test_schema_describes_every_setting():
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())

    def undescribed(node, path):
        for key, child in (node.get("properties") or {}).items():
            if "description" not in child and "$ref" not in child:
                yield f"{path}.{key}"
            yield from undescribed(child, f"{path}.{key}")

    nodes = [("config", schema), *((f"$defs.{k}", v) for k, v in schema["$defs"].items())]
    assert [p for name, node in nodes for p in undescribed(node, name)] == []


def test_canonical_params_ignore_key_order():
    from diffshare.config import canonical

    first = {"b": [{"y": 1, "x": 2}], "a": {"d": 1, "c": 2}}
    second = {"a": {"c": 2, "d": 1}, "b": [{"x": 2, "y": 1}]}
    assert repr(canonical(first)) == repr(canonical(second))
