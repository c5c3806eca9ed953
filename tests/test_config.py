"""The config is checked when the workflow loads: a bad value stops the run, naming its key."""

import copy

import pytest
import torch
import yaml

from conftest import REPO, snakemake
from diffshare.config import dataset_config
from diffshare.errors import ConfigError
from diffshare.validation import CTGAN_DESCRIBED, check_config, ctgan_arguments


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
    with pytest.raises(ConfigError, match=r"no entry 'credit' \(known: adult, compas, german\)"):
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
        (
            {"downstream": {"params": {"mlp": {"hidden_layers": [8]}}}},
            ["'downstream.params.mlp'", "'hidden_layers'", "hidden_layer_sizes"],
        ),
        (
            {"generator": {"tvae": {"epochs": 2, "compress": [8]}}},
            ["'generator.tvae'", "'compress'", "compress_dims"],
        ),
    ],
    ids=[
        "classifier",
        "seed",
        "dataset",
        "typo",
        "pia-column",
        "pia-hidden",
        "pia-ratio",
        "classifier-argument",
        "tvae-argument",
    ],
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
@pytest.mark.skipif(torch.backends.cuda.is_built(), reason="this torch is built with CUDA")
def test_cuda_device_without_a_cuda_torch_stops_before_any_job(tmp_path):
    (tmp_path / "cuda.yaml").write_text(yaml.safe_dump({"generator": {"device": "cuda"}}))
    result = snakemake(tmp_path, "--dry-run", "--configfile", "cuda.yaml")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "config key 'generator.device' is 'cuda'" in output, output
    assert "built without CUDA" in output


def test_cuda_device_needs_a_torch_built_with_cuda(config, monkeypatch):
    config["generator"] = {"device": "cuda:1"}
    monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: False)
    with pytest.raises(ConfigError, match=r"'generator.device' is 'cuda:1', but torch .* without"):
        check_config(config)
    check_config(config, local_torch=False)  # conda or container jobs bring their own torch
    monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: True)
    check_config(config)  # a GPU may be on the machine the job runs on (a cluster node)
    for device in ("auto", "cpu"):
        config["generator"]["device"] = device
        check_config(config)


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("logreg", {"C": 0.5, "Cc": 1}, r"LogisticRegression takes no argument 'Cc'"),
        ("hgb", {"max_iters": 10}, r"HistGradientBoostingClassifier takes no argument 'max_iters'"),
        # set from the seed by the pipeline: passing it fails inside the job
        (
            "hgb",
            {"random_state": 3},
            r"HistGradientBoostingClassifier takes no argument 'random_state'",
        ),
        ("mlp", {"hidden_layer_size": [8]}, r"MLPClassifier takes no argument 'hidden_layer_size'"),
    ],
)
def test_unknown_classifier_arguments_are_named(config, name, arguments, message):
    config["downstream"] = {"params": {name: arguments}}
    with pytest.raises(ConfigError, match=rf"'downstream.params.{name}': {message}.*allowed: "):
        check_config(config)


def test_known_classifier_arguments_pass(config):
    config["downstream"] = {
        "params": {
            "logreg": {"C": 0.5, "max_iter": 100, "random_state": 0},
            "hgb": {"max_iter": 10, "learning_rate": 0.2, "max_depth": 3},
            "mlp": {"hidden_layer_sizes": [8], "alpha": 0.01, "early_stopping": True},
        }
    }
    check_config(config)


@pytest.mark.parametrize(
    ("family", "arguments", "message"),
    [
        ("ctgan", {"epochs": 2, "epoch": 3}, r"ctgan.CTGAN takes no argument 'epoch'"),
        ("tvae", {"compress_dim": [8]}, r"ctgan.TVAE takes no argument 'compress_dim'"),
    ],
)
def test_unknown_ctgan_arguments_are_named(config, family, arguments, message):
    config["generator"] = {family: arguments}
    with pytest.raises(ConfigError, match=rf"'generator.{family}': {message}.*allowed: .*epochs"):
        check_config(config)
    config["generator"] = {family: {"epochs": 2, "batch_size": 100, "embedding_dim": 16}}
    check_config(config)


def test_arguments_checked_without_ctgan_are_its_constructors():
    # A config setting only these skips importing ctgan at load (seconds).
    for family in ("ctgan", "tvae"):
        assert set(CTGAN_DESCRIBED) <= set(ctgan_arguments(family))


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
