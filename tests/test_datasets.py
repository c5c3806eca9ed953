import gzip
import shutil

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, write_gz
from diffshare.data.schema import TableSchema
from diffshare.data.tabular import MISSING_CATEGORY, DatasetSpec, prepare, summarize
from diffshare.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def adult(catalogue):
    return prepare(DatasetSpec.from_config("adult", catalogue["adult"], base_dir=REPO))


def test_adult_drops_rows_with_missing_values(adult):
    train, test, _ = adult
    assert (len(train), len(test)) == (30162, 15060)


def test_adult_keeps_missing_values_as_a_category(catalogue):
    entry = {**catalogue["adult"], "drop_missing": False}
    train, test, schema = prepare(DatasetSpec.from_config("adult", entry, base_dir=REPO))
    assert (len(train), len(test)) == (32561, 16281)
    assert MISSING_CATEGORY in train["workclass"].cat.categories
    assert (train["workclass"] == MISSING_CATEGORY).sum() == 1836
    assert not train[schema.columns].isna().any().any()


def test_adult_labels_are_binary_with_about_a_quarter_positive(adult):
    train, test, schema = adult
    assert list(train["income"].cat.categories) == ["<=50K", ">50K"]  # test's "." is gone
    assert summarize(train, schema)["positive_share"] == pytest.approx(0.249, abs=0.005)
    assert summarize(test, schema)["positive_share"] == pytest.approx(0.246, abs=0.005)
    assert summarize(train, schema)["privileged_share"] == pytest.approx(0.676, abs=0.005)


def test_adult_tables_are_typed_with_shared_categories(adult):
    train, test, schema = adult
    assert train.index.name == "row_id" and test.index.is_unique
    for column in schema.numeric:
        assert train[column].dtype == np.int64
    for column in [*schema.categorical, schema.label]:
        assert isinstance(train[column].dtype, pd.CategoricalDtype)
        assert train[column].dtype == test[column].dtype
        assert schema.categories[column] == list(train[column].cat.categories)
    assert train.loc[0, "age"] == 39 and train.loc[0, "native_country"] == "United-States"


def test_german_derives_sex_and_splits_stratified(catalogue):
    train, test, schema = prepare(DatasetSpec.from_config("german", catalogue["german"], REPO))
    assert (len(train), len(test)) == (700, 300)
    assert "personal_status" not in train.columns
    assert int((pd.concat([train, test])["sex"] == "female").sum()) == 310  # A92 rows
    assert schema.labels(train).mean() == pytest.approx(0.7)
    assert schema.labels(test).mean() == pytest.approx(0.7)
    assert set(train.index).isdisjoint(test.index)


def test_altered_file_fails_its_checksum_naming_the_file(catalogue, tmp_path):
    altered = tmp_path / "adult.data.gz"
    text = gzip.decompress((REPO / "resources/data/adult/adult.data.gz").read_bytes())
    altered.write_bytes(gzip.compress(text.replace(b"39, State-gov", b"40, State-gov", 1)))
    shutil.copy(REPO / "resources/data/adult/adult.test.gz", tmp_path / "adult.test.gz")
    entry = dict(catalogue["adult"])
    entry["files"] = {
        "train": {**entry["files"]["train"], "path": str(altered)},
        "test": {**entry["files"]["test"], "path": str(tmp_path / "adult.test.gz")},
    }
    with pytest.raises(DataError, match=r"adult\.data\.gz has SHA-256 .* expected 5b0026"):
        prepare(DatasetSpec.from_config("adult", entry))


def test_missing_file_is_named(catalogue, tmp_path):
    entry = dict(catalogue["adult"])
    entry["files"] = {**entry["files"], "train": {"path": str(tmp_path / "nowhere.csv")}}
    with pytest.raises(DataError, match="data file not found: .*nowhere.csv"):
        prepare(DatasetSpec.from_config("adult", entry))


def small_entry(tmp_path, text, **overrides):
    """A catalogue entry for a tiny header-less CSV with one numeric and two categorical columns."""
    sha = write_gz(tmp_path / "tiny.csv.gz", text)
    entry = {
        "files": {"data": {"path": str(tmp_path / "tiny.csv.gz"), "sha256": sha}},
        "columns": ["size", "colour", "group", "outcome"],
        "numeric": ["size"],
        "categorical": ["colour", "group"],
        "label": {"column": "outcome", "positive": "yes"},
        "sensitive": {"column": "group", "privileged": "a"},
        "split": {"test_fraction": 0.5, "seed": 0},
    }
    entry.update(overrides)
    return entry


TINY = "".join(
    f"{size}, {colour}, {group}, {outcome}\n"
    for size, colour, group, outcome in [
        (1.5, "red", "a", "yes"),
        (2, "blue", "b", "no"),
        (3, "red", "b", "yes"),
        (4, "?", "a", "no"),
        (5, "blue", "a", "yes"),
        (6, "red", "b", "no"),
        (7, "blue", "a", "yes"),
        (8, "red", "b", "no"),
        (9, "blue", "b", "yes"),
    ]
)


def test_a_new_dataset_needs_only_a_config_entry(tmp_path):
    train, test, schema = prepare(DatasetSpec.from_config("tiny", small_entry(tmp_path, TINY)))
    assert len(train) + len(test) == 8  # the row with "?" is dropped
    assert train["size"].dtype == np.float64  # 1.5 is not an integer
    assert 3 not in train.index.union(test.index)  # row_id is the raw row number
    assert schema == TableSchema.from_dict(schema.to_dict())


def test_non_number_in_numeric_column_is_named(tmp_path):
    entry = small_entry(tmp_path, TINY.replace("5, blue", "five, blue"))
    with pytest.raises(DataError, match=r"numeric column 'size' holds the non-number 'five'"):
        prepare(DatasetSpec.from_config("tiny", entry))


def test_wrong_field_count_is_reported(tmp_path):
    entry = small_entry(tmp_path, TINY, columns=["size", "colour", "group"])
    with pytest.raises((ConfigError, DataError), match="outcome|fields"):
        prepare(DatasetSpec.from_config("tiny", entry))


def test_label_with_more_than_two_values_is_refused(tmp_path):
    entry = small_entry(tmp_path, TINY.replace("9, blue, b, yes", "9, blue, b, maybe"))
    with pytest.raises(DataError, match=r"exactly two values, found \['maybe', 'no', 'yes'\]"):
        prepare(DatasetSpec.from_config("tiny", entry))


def test_unmapped_value_of_derived_column_is_named(tmp_path):
    entry = small_entry(
        tmp_path,
        TINY,
        categorical=["colour", "shade"],
        sensitive={"column": "shade", "privileged": "warm"},
        derive={"shade": {"from": "colour", "map": {"red": "warm"}}},
    )
    with pytest.raises(DataError, match=r"values \['blue'\] of column 'colour'"):
        prepare(DatasetSpec.from_config("tiny", entry))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"categorical": ["colour"]}, "sensitive column 'group' must be one of"),
        ({"numeric": ["size", "outcome"]}, "label column 'outcome' must not be listed"),
        ({"numeric": ["size", "colour"]}, r"\['colour'\] are both numeric and categorical"),
        ({"numeric": ["size", "weight"]}, r"columns \['weight'\] are neither"),
        ({"split": {"test_fraction": 1.5}}, "test_fraction must be in"),
    ],
)
def test_inconsistent_description_is_refused(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message):
        DatasetSpec.from_config("tiny", small_entry(tmp_path, TINY, **override))


def test_max_rows_subsamples_reproducibly(catalogue):
    entry = {**catalogue["german"], "max_rows": {"train": 100, "test": 50}}
    first = prepare(DatasetSpec.from_config("german", entry, REPO))
    second = prepare(DatasetSpec.from_config("german", entry, REPO))
    assert (len(first[0]), len(first[1])) == (100, 50)
    pd.testing.assert_frame_equal(first[0], second[0])


@pytest.mark.parametrize("text", ["", "\n\n"])
def test_an_empty_data_file_is_named(tmp_path, text):
    with pytest.raises(DataError, match=r"tiny\.csv\.gz is empty: it holds no rows"):
        prepare(DatasetSpec.from_config("tiny", small_entry(tmp_path, text)))


def test_a_row_with_a_missing_field_names_its_line(tmp_path):
    """Row 5 lacks a field: reported with its line and the fields it lacks, not as a label
    value ''."""
    entry = small_entry(tmp_path, TINY.replace("5, blue, a, yes", "5, blue, a"))
    message = r"tiny\.csv\.gz, line 5: 3 fields where 4 are expected; 'outcome' is missing"
    with pytest.raises(DataError, match=message):
        prepare(DatasetSpec.from_config("tiny", entry))


def test_line_numbers_count_skipped_header_and_blank_lines(tmp_path):
    text = "a comment line\nsize,colour,group,outcome\n\n" + TINY.replace(", ", ",")
    text = text.replace("5,blue,a,yes", "5,a")
    entry = small_entry(tmp_path, text, header=True, columns=[])
    entry["files"]["data"]["skip_rows"] = 1
    message = r"line 8: 2 fields where 4 are expected; 'group', 'outcome' are missing"
    with pytest.raises(DataError, match=message):
        prepare(DatasetSpec.from_config("tiny", entry))


def test_an_empty_field_names_its_line_and_column(tmp_path):
    entry = small_entry(tmp_path, TINY.replace("5, blue, a, yes", "5, , a, yes"))
    with pytest.raises(DataError, match=r"tiny\.csv\.gz, line 5: the 'colour' field is empty"):
        prepare(DatasetSpec.from_config("tiny", entry))
