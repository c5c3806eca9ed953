"""Claims of the paper as rows with a statistic, an interval, a test and a verdict."""

import pandas as pd
import pytest

from diffshare.reporting.claims import CLAIM_COLUMNS, claims_table, fpa_claims, pia_claims, verdict


def fpa_table(seeds, greedy_loss, flip_loss, fairness=0.2):
    rows = []
    for seed in seeds:
        for attack, loss in (("none", 0.0), ("mi_greedy", greedy_loss), ("label_flip", flip_loss)):
            rows.append(
                {
                    "attack": attack,
                    "alpha": 0.0 if attack == "none" else 0.5,
                    "seed": seed,
                    "classifier": "logreg",
                    "accuracy_loss": 0.0 if attack == "none" else loss + 0.001 * seed,
                    "fairness_loss": 0.0 if attack == "none" else fairness + 0.01 * seed,
                }
            )
    return pd.DataFrame(rows)


def selections(seeds, greedy_within=True, flip_within=False):
    records = []
    for seed in seeds:
        for attack, within in (("mi_greedy", greedy_within), ("label_flip", flip_within)):
            after = 0.50 if within else 0.20
            records.append(
                {
                    "attack": attack,
                    "alpha": 0.5,
                    "seed": seed,
                    "mi_xy_after": after,
                    "mi_xy_target": 0.5,
                    "mi_xy_tolerance": 0.05,
                }  # fmt: skip
            )
    return records


def by_claim(rows):
    return {row["claim"]: row for row in rows if row.get("attack") in (None, "mi_greedy")}


def test_verdict_needs_two_seeds():
    assert verdict(1, 0.0, 1.0, 0.05) == "inconclusive"
    assert verdict(5, 0.01, 0.99, 0.05) == "holds"
    assert verdict(5, 0.99, 0.01, 0.05) == "fails"
    assert verdict(5, 0.3, 0.7, 0.05) == "inconclusive"


def test_five_seeds_of_a_clear_effect_hold():
    rows = by_claim(fpa_claims(fpa_table(range(5), 0.01, 0.08), selections(range(5))))
    assert rows["fpa_raises_dp_gap"]["verdict"] == "holds"
    assert rows["greedy_accuracy_loss_small"]["verdict"] == "holds"
    assert rows["greedy_cheaper_than_label_flip"]["verdict"] == "holds"
    cheaper = rows["greedy_cheaper_than_label_flip"]
    assert cheaper["estimate"] == pytest.approx(0.07)  # paired: flip minus greedy, per seed
    assert cheaper["ci_low"] == pytest.approx(0.07) == cheaper["ci_high"]  # no spread
    keeps = rows["greedy_keeps_mi_xy"]
    assert keeps["estimate"] == 1.0 and keeps["p_value"] == pytest.approx(0.5**5)
    assert keeps["verdict"] == "holds"


def test_the_opposite_effect_fails():
    rows = by_claim(
        fpa_claims(fpa_table(range(5), 0.12, 0.02, fairness=-0.1), selections(range(5), False))
    )
    assert rows["fpa_raises_dp_gap"]["verdict"] == "fails"
    assert rows["greedy_accuracy_loss_small"]["verdict"] == "fails"
    assert rows["greedy_cheaper_than_label_flip"]["verdict"] == "fails"
    assert rows["greedy_keeps_mi_xy"]["verdict"] == "fails"


def test_one_seed_is_inconclusive_with_empty_intervals():
    rows = fpa_claims(fpa_table([0], 0.01, 0.08), selections([0]))
    assert {row["verdict"] for row in rows} == {"inconclusive"}
    table = claims_table(rows, "adult")
    assert list(table.columns) == CLAIM_COLUMNS
    t_rows = table[table["claim"] != "greedy_keeps_mi_xy"]
    assert t_rows["ci_low"].isna().all() and t_rows["p_value"].isna().all()


def pia_table(seeds, errors):
    rows = []
    for seed in seeds:
        for ratio in (0.1, 0.5, 0.9):
            for generator, error in errors.items():
                rows.append(
                    {
                        "generator": generator,
                        "attack": "column",
                        "true_ratio": ratio,
                        "n_queries": 1000,
                        "seed": seed,
                        "abs_error": error + 0.001 * seed,
                        "within_bound_rate": 1.0 if error < 0.04 else 0.3,
                        "repeats": 10,
                    }  # fmt: skip
                )
    return pd.DataFrame(rows)


def test_pia_claims():
    rows = pia_claims(pia_table(range(3), {"tabddpm": 0.02, "ctgan": 0.06}), delta=0.05)
    within = {r["generator"]: r for r in rows if r["claim"] == "pia_within_hoeffding"}
    assert within["tabddpm"]["estimate"] == 1.0
    assert within["tabddpm"]["p_value"] == pytest.approx(0.95**90)  # all 90 repeats within
    assert within["tabddpm"]["verdict"] == "holds"
    assert within["ctgan"]["verdict"] == "fails"
    (leak,) = [r for r in rows if r["claim"] == "diffusion_leaks_more"]
    assert (leak["generator"], leak["baseline"]) == ("tabddpm", "ctgan")
    assert leak["estimate"] == pytest.approx(0.04) and leak["verdict"] == "holds"
    assert leak["n_seeds"] == 3


def test_pia_claims_with_one_seed_are_inconclusive():
    rows = pia_claims(pia_table([0], {"tabddpm": 0.02, "ctgan": 0.06}), delta=0.05)
    assert {row["verdict"] for row in rows} == {"inconclusive"}
