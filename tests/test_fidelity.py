import pandas as pd
import pytest

from diffshare.data.schema import TableSchema
from diffshare.evaluation.fidelity import column_distances, fidelity_record

SCHEMA = TableSchema(
    numeric=["x"], categorical=["g"], label="y", positive="yes", sensitive="g", privileged="a"
)


def table(x, g, y):
    return pd.DataFrame({"x": x, "g": pd.Categorical(g), "y": pd.Categorical(y)})


def test_distances_are_ks_for_numbers_and_total_variation_for_categories():
    real = table([1, 2, 3, 4], ["a", "a", "b", "b"], ["yes", "no", "yes", "no"])
    synthetic = table([5, 6, 7, 8], ["a", "a", "a", "b"], ["yes", "yes", "yes", "yes"])
    distances = column_distances(real, synthetic, SCHEMA)
    assert distances["x"] == pytest.approx(1.0)  # disjoint supports
    assert distances["g"] == pytest.approx(0.25)  # 0.5 * (|0.5-0.75| + |0.5-0.25|)
    assert distances["y"] == pytest.approx(0.5)
    assert column_distances(real, real, SCHEMA) == {"x": 0.0, "g": 0.0, "y": 0.0}


def test_fidelity_record_reports_group_and_label_shares():
    real = table([1, 2, 3, 4], ["a", "a", "b", "b"], ["yes", "no", "yes", "no"])
    synthetic = table([1, 2, 3], ["a", "a", "a"], ["no", "no", "yes"])
    record = fidelity_record(real, synthetic, SCHEMA)
    assert record["sensitive_share_real"] == 0.5 and record["sensitive_share_synthetic"] == 1.0
    assert record["positive_share_synthetic"] == pytest.approx(1 / 3)
    assert record["marginal_distance"] == pytest.approx(
        sum(record["column_distances"].values()) / 3
    )
