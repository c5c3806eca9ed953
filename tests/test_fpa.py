import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from diffshare.data.tabular import DatasetSpec, prepare
from diffshare.errors import ConfigError, DataError
from diffshare.reporting.tables import fpa_table
from diffshare.tracks.tabular import mine_row_terms, select


@pytest.fixture(scope="module")
def german(catalogue):
    train, _, schema = prepare(DatasetSpec.from_config("german", catalogue["german"], REPO))
    terms, record = mine_row_terms(
        train, schema=schema, include_sensitive=True, seed=0, steps=300, learning_rate=1e-3
    )
    return train, schema, terms, record


def test_mine_terms_cover_the_pool(german):
    train, _, terms, record = german
    assert terms.index.equals(train.index) and list(terms.columns) == ["t0", "t1"]
    assert np.isfinite(terms.to_numpy()).all()
    assert record["mi_xy_pool"] > 0 and record["n_pool"] == 700


def test_label_flip_subset_sets_labels_to_the_group(german):
    train, schema, terms, _ = german
    table, rows, record = select(
        "label_flip", train, terms, schema=schema, subset_size=300, alpha=0.4, seed=0, tolerance=0.1
    )
    flipped_part = table.iloc[-120:]
    assert (schema.labels(flipped_part) == schema.groups(flipped_part)).all()
    assert record["flipped"] == int(rows["flipped"].sum()) > 0
    assert record["mi_sy_after"] > record["mi_sy_before"]
    assert list(table.columns) == list(train.columns)


def test_greedy_subset_raises_dependence_within_tolerance(german):
    train, schema, terms, _ = german
    table, _, record = select(
        "mi_greedy", train, terms, schema=schema, subset_size=300, alpha=0.5, seed=0, tolerance=0.1
    )
    assert record["mi_sy_after"] > record["mi_sy_before"] + 0.02
    assert abs(record["mi_xy_after"] - record["mi_xy_target"]) <= record["mi_xy_tolerance"]
    assert record["flipped"] == 0 and table.index.is_unique


def test_terms_of_another_pool_are_refused(german):
    train, schema, terms, _ = german
    with pytest.raises(DataError, match="do not belong to this pool"):
        select("none", train, terms.iloc[1:], schema=schema, subset_size=10, alpha=0.0, seed=0,
               tolerance=0.1)  # fmt: skip


def test_none_attack_must_have_alpha_zero(german):
    train, schema, terms, _ = german
    with pytest.raises(ConfigError, match="alpha 0"):
        select(
            "none", train, terms, schema=schema, subset_size=10, alpha=0.2, seed=0, tolerance=0.1
        )


def test_losses_are_relative_to_the_random_subset():
    def metrics(attack, alpha, accuracy, dp):
        return {
            "dataset": "d",
            "source": f"synthetic/attack~{attack}/alpha~{alpha}",
            "classifier": "logreg",
            "seed": 0,
            "accuracy": accuracy,
            "dp_difference": dp,
            "eo_difference": 0.0,
        }

    selections = [
        {"attack": a, "alpha": al, "seed": 0, "mi_sy_after": 0.1, "mi_xy_after": 0.2, "flipped": 0}
        for a, al in [("none", 0.0), ("mi_greedy", 0.5)]
    ]
    table = fpa_table(
        [metrics("none", "0", 0.80, 0.10), metrics("mi_greedy", "0.5", 0.78, 0.25)], selections
    )
    row = table[table["attack"] == "mi_greedy"].iloc[0]
    assert row["accuracy_loss"] == pytest.approx(0.02)
    assert row["fairness_loss"] == pytest.approx(0.15)
    assert row["alpha"] == 0.5 and row["mi_sy"] == 0.1
    assert isinstance(table, pd.DataFrame)
