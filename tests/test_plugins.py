"""Generator plugins: registration by entry point and by `module:Class`, refusal at load naming
what is missing, the plugin behind the built-in interface, and the config keys that take a
plugin family by name."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffshare.cli import main
from diffshare.data.images import ImageSet
from diffshare.data.schema import TableSchema
from diffshare.defenses.pia import skip_reason
from diffshare.errors import ConfigError, DataError, DiffshareError
from diffshare.generators import (
    generator_family,
    load_generator,
    make_generator,
    registered_families,
)
from diffshare.generators.image_sampling import sample_images
from diffshare.reporting.claims import pia_claims
from diffshare.validation import check_generators

PLUGINS = {
    "columns": "plugin_examples:IndependentColumns",
    "saved_columns": "plugin_examples:SavedColumns",
}
SCHEMA = TableSchema(
    numeric=["age"],
    categorical=["sex"],
    label="income",
    positive=">50K",
    sensitive="sex",
    privileged="Male",
    categories={"sex": ["Female", "Male", "Other"], "income": ["<=50K", ">50K"]},
)


@pytest.fixture
def table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 300
    return pd.DataFrame(
        {
            "age": rng.integers(17, 90, n),
            # "Other" is declared but has no row (libraries that know no categories must cope)
            "sex": pd.Categorical(rng.choice(["Female", "Male"], n), ["Female", "Male", "Other"]),
            "income": pd.Categorical(rng.choice(["<=50K", ">50K"], n), ["<=50K", ">50K"]),
        }
    )


def write_entry_point(folder, name: str, value: str) -> None:
    """An installed distribution (as pip writes its metadata) declaring one entry point of
    group diffshare.generators."""
    info = folder / "example_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: example-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[diffshare.generators]\n{name} = {value}\n")


def test_a_config_plugin_registers_with_its_declarations():
    families = registered_families(PLUGINS)
    columns, saved = families["columns"], families["saved_columns"]
    assert (columns.modality, columns.diffusion, columns.persistence) == (
        "table",
        False,
        "sample_only",
    )
    assert (saved.diffusion, saved.persistence) == (True, "safe")
    assert columns.source == "config key 'generator.plugins.columns'"
    assert {"tabddpm", "ctgan", "tvae", "gaussian_copula", "ddpm", "edm", "sngan"} <= set(families)


def test_an_entry_point_plugin_registers_without_config(tmp_path, monkeypatch):
    write_entry_point(tmp_path, "marginals", "plugin_examples:IndependentColumns")
    monkeypatch.syspath_prepend(str(tmp_path))
    family = generator_family("marginals")
    assert family.plugin and family.persistence == "sample_only"
    assert "entry point 'marginals'" in family.source


def test_families_lists_plugins_of_both_kinds(tmp_path, monkeypatch, capsys):
    write_entry_point(tmp_path, "marginals", "plugin_examples:IndependentColumns")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["families", "--plugin", "saved_columns=plugin_examples:SavedColumns"]) == 0
    out = capsys.readouterr().out
    assert "marginals" in out and "saved_columns" in out and "sample_only" in out


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_module_xyz:Thing", "cannot import module 'no_such_module_xyz'"),
        ("plugin_examples:Missing", "has no attribute 'Missing'"),
        ("plugin_examples", "must name a class as 'module:Class'"),
        ("plugin_examples:NoSample", "lacks the method sample"),
        ("plugin_examples:SCHEMA_LIKE", "has no attribute"),
    ],
)
def test_a_broken_config_plugin_is_refused_naming_its_key(spec, message):
    with pytest.raises(ConfigError, match="generator.plugins.broken") as error:
        registered_families({"broken": spec})
    assert message in str(error.value)


def test_a_broken_entry_point_is_refused_naming_it(tmp_path, monkeypatch):
    write_entry_point(tmp_path, "half_done", "plugin_examples:NoSample")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match=r"entry point 'half_done'.*lacks the method sample"):
        registered_families()


def test_declarations_are_checked(monkeypatch):
    import plugin_examples

    monkeypatch.setattr(plugin_examples.IndependentColumns, "persistence", "pickle")
    with pytest.raises(ConfigError, match="persistence = 'safe' or 'sample_only'"):
        registered_families({"columns": PLUGINS["columns"]})
    monkeypatch.setattr(plugin_examples.IndependentColumns, "persistence", "sample_only")
    monkeypatch.setattr(plugin_examples.IndependentColumns, "modality", "audio")
    with pytest.raises(ConfigError, match="modality = 'table' or 'image', got 'audio'"):
        registered_families({"columns": PLUGINS["columns"]})


def test_a_plugin_cannot_take_a_built_in_name_or_a_bad_one():
    with pytest.raises(ConfigError, match="family name 'ctgan' is taken"):
        registered_families({"ctgan": PLUGINS["columns"]})
    with pytest.raises(ConfigError, match="path segment"):
        registered_families({"my-family": PLUGINS["columns"]})


def test_a_safe_plugin_saves_and_loads_through_the_registry(table, tmp_path):
    model = make_generator("saved_columns", {}, seed=0, plugins=PLUGINS).fit(table, SCHEMA)
    assert model.model.label_ == "income"  # a fit with two parameters gets the schema
    model.save(tmp_path / "model")
    loaded = load_generator(tmp_path / "model", "saved_columns", plugins=PLUGINS)
    first, again = model.sample(50, seed=3), loaded.sample(50, seed=3)
    pd.testing.assert_frame_equal(first, again)
    # the training table's dtypes and declared categories come back on the samples
    assert list(first.columns) == ["age", "sex", "income"]
    assert first["age"].dtype == np.int64
    assert list(first["sex"].cat.categories) == ["Female", "Male", "Other"]
    with pytest.raises(DataError, match="names family .saved_columns."):
        load_generator(
            tmp_path / "model", "columns_other", plugins={"columns_other": PLUGINS["saved_columns"]}
        )


def test_a_sample_only_plugin_is_never_saved_nor_loaded(table, tmp_path):
    model = make_generator("columns", {"smoothing": 0.1}, seed=0, plugins=PLUGINS)
    model.fit(table, SCHEMA)  # a fit with one parameter gets the table alone
    assert len(model.sample(20, seed=0)) == 20
    with pytest.raises(DiffshareError, match="sample-only"):
        model.save(tmp_path / "model")
    assert not (tmp_path / "model").exists()
    with pytest.raises(DataError, match="sample-only"):
        load_generator(tmp_path, "columns", plugins=PLUGINS)


def test_plugin_settings_the_class_refuses_are_named():
    with pytest.raises(ConfigError, match="generator.plugin_settings.columns"):
        make_generator("columns", {"no_such_setting": 1}, seed=0, plugins=PLUGINS)


def test_rows_the_training_table_could_not_hold_are_refused(table, monkeypatch):
    model = make_generator("columns", {}, seed=0, plugins=PLUGINS).fit(table, SCHEMA)
    model.model.columns_["sex"] = ["Unknown"]
    with pytest.raises(DiffshareError, match=r"columns sampled unknown 'sex' values \['Unknown'\]"):
        model.sample(5, seed=0)


def test_an_image_plugin_samples_with_and_without_classes(tmp_path):
    images = np.zeros((40, 8, 8, 1), dtype=np.uint8)
    labels = np.arange(40) % 2
    images[labels == 1] = 200
    plugins = {"means": "plugin_examples:MeanImages"}
    model = make_generator("means", {"noise": 1.0}, seed=0, plugins=plugins, num_classes=2)
    model.fit(images, labels)
    model.save(tmp_path / "model")
    loaded = load_generator(tmp_path / "model", "means", plugins=plugins)
    drawn, record = sample_images(loaded, 10, conditional=True, samplers={}, seed=0)
    assert record["family"] == "means"
    assert np.all(drawn.images[drawn.attributes["y"] == 1] > 150)
    assert np.all(drawn.images[drawn.attributes["y"] == 0] < 50)
    unconditional, _ = sample_images(loaded, 6, conditional=False, samplers={}, seed=0)
    assert isinstance(unconditional, ImageSet) and len(unconditional) == 6


def config(**sections) -> dict:
    base = {
        "generator": {"plugins": {}, "plugin_settings": {}},
        "fpa": {"generator": "tabddpm"},
        "pia": {"generators": ["tabddpm"]},
        "defense": {"pia": {"generators": ["tabddpm"]}},
        "image": {"fpa": {"generator": "edm"}, "pia": {"generators": ["ddpm"]}},
    }
    for key, value in sections.items():
        section, _, name = key.partition("__")
        base[section] = {**base[section], name: value}
    return base


def test_config_keys_take_plugin_families_by_name():
    check_generators(
        config(
            generator__plugins=PLUGINS,
            generator__plugin_settings={"columns": {}, "gaussian_copula": {}},
            pia__generators=["tabddpm", "columns", "gaussian_copula"],
            fpa__generator="saved_columns",
        )
    )


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        (
            {"pia__generators": ["tabddpm", "nope"]},
            "'pia.generators': unknown generator family 'nope'",
        ),
        (
            {"defense__pia": {"generators": ["ddpm"]}},
            "'defense.pia.generators': 'ddpm' is an image family",
        ),
        ({"fpa__generator": "sngan"}, "'fpa.generator': 'sngan' is an image family"),
        ({"image__fpa": {"generator": "sngan"}}, "'sngan' draws no classes"),
        ({"generator__plugin_settings": {"tabddpm": {}}}, "'tabddpm' is not a plugin family"),
    ],
)
def test_config_keys_refuse_what_they_cannot_take(sections, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        check_generators(config(**sections))


def test_defenses_a_family_cannot_take_have_a_reason():
    assert skip_reason("dp_sgd", "tabddpm", "safe") is None
    assert "only tabddpm" in skip_reason("dp_sgd", "ctgan", "safe")
    assert "sample-only" in skip_reason("decoy_sampling", "gaussian_copula", "sample_only")
    assert skip_reason("rebalance", "gaussian_copula", "sample_only") is None


def test_claims_compare_a_plugin_by_its_diffusion_flag():
    rows = []
    for seed in range(3):
        for ratio in (0.3, 0.7):
            for generator, error in (("mine", 0.01), ("ctgan", 0.1)):
                rows.append(
                    {"generator": generator, "attack": "column", "true_ratio": ratio,
                     "n_queries": 100, "seed": seed, "abs_error": error + 0.001 * seed,
                     "within_bound_rate": 1.0, "repeats": 10}
                )  # fmt: skip
    table = pd.DataFrame(rows)
    claims = pia_claims(table, 0.05, diffusion={"mine": True, "ctgan": False})
    compared = [c for c in claims if c["claim"] == "diffusion_leaks_more"]
    assert [(c["generator"], c["baseline"], c["verdict"]) for c in compared] == [
        ("mine", "ctgan", "holds")
    ]
    with pytest.raises(DataError, match=r"\['mine'\] are not registered"):
        pia_claims(table, 0.05, diffusion={"ctgan": False})


# -- the workflow takes plugin families by name (dry runs: what would run) -----------------------
def dry_run(tmp_path, settings: dict, *targets: str):
    import shutil

    import yaml

    from conftest import REPO, snakemake

    shutil.copy(REPO / "tests" / "plugin_examples.py", tmp_path / "plugin_examples.py")
    (tmp_path / "plugins.yaml").write_text(yaml.safe_dump(settings))
    return snakemake(
        tmp_path,
        *targets,
        "-n",
        "--configfile",
        str(REPO / "config" / "tiny.yaml"),
        "plugins.yaml",
    )


def test_a_plugin_family_can_be_the_shared_model_the_sharer_poisons(tmp_path):
    settings = {"generator": {"plugins": {"marginals": PLUGINS["columns"]}}}
    settings["fpa"] = {"generator": "marginals"}
    result = dry_run(tmp_path, settings, "results/fpa/adult.csv")
    assert result.returncode == 0, result.stderr
    rules = result.stdout + result.stderr
    # every FPA subset's model is a sample-only plugin: trained and sampled in one job each
    assert "rule train_sample_generator:" in rules and "rule sample_generator:" not in rules


def test_the_workflow_refuses_an_unknown_or_broken_family_at_load(tmp_path):
    result = dry_run(
        tmp_path, {"pia": {"generators": ["tabddpm", "nope"]}}, "results/pia/adult.csv"
    )
    assert result.returncode != 0
    assert "'pia.generators': unknown generator family 'nope'" in result.stdout + result.stderr
    broken = {"generator": {"plugins": {"half": "plugin_examples:NoSample"}}}
    result = dry_run(tmp_path, broken, "results/pia/adult.csv")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "generator.plugins.half" in output and "lacks the method sample" in output
