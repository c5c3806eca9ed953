"""Claims of the paper as rows with a statistic, an interval, a test and a verdict; the
multiplicity correction; the calibrated intervals' coverage claim; the generated docs tables."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from conftest import REPO
from diffshare.errors import ConfigError, DataError
from diffshare.reporting.claims import (
    CLAIM_COLUMNS,
    adjust,
    benjamini_hochberg,
    claims_table,
    correct,
    fpa_claims,
    holm,
    pia_claims,
    verdict,
)
from diffshare.reporting.claims_correction_table import (
    correction_markdown,
    critical_t,
    main,
    read_claims,
    seeds_markdown,
    seeds_needed,
    sign_test_seeds,
    verdict_changes,
)


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


# -- the multiplicity correction -----------------------------------------------------------------
P = [0.04, 0.001, 0.012, 0.035, 0.5]


def test_holm_against_a_hand_computation():
    # m = 5; sorted: 0.001, 0.012, 0.035, 0.04, 0.5 (indices 1, 2, 3, 0, 4).
    # times m - i + 1 = 5, 4, 3, 2, 1: 0.005, 0.048, 0.105, 0.08, 0.5.
    # running maximum (step-down: never below an earlier one): 0.005, 0.048, 0.105, 0.105, 0.5.
    # back in the input's order: 0.04 -> 0.105, 0.001 -> 0.005, 0.012 -> 0.048, 0.035 -> 0.105.
    assert holm(P) == pytest.approx([0.105, 0.005, 0.048, 0.105, 0.5])
    # 0.6 * 2 = 1.2, capped at 1; 0.7 * 1 = 0.7, raised to the running maximum 1.
    assert holm([0.7, 0.6]) == pytest.approx([1.0, 1.0])


def test_benjamini_hochberg_against_a_hand_computation():
    # m = 5; sorted: 0.001, 0.012, 0.035, 0.04, 0.5, ranks i = 1..5.
    # times m / i = 5, 2.5, 5/3, 1.25, 1: 0.005, 0.03, 0.058333, 0.05, 0.5.
    # running minimum from the largest down (step-up): 0.5, 0.05, 0.05, 0.03, 0.005.
    # back in the input's order: 0.04 -> 0.05, 0.001 -> 0.005, 0.012 -> 0.03, 0.035 -> 0.05.
    assert benjamini_hochberg(P) == pytest.approx([0.05, 0.005, 0.03, 0.05, 0.5])
    # 0.6 * 2 / 1 = 1.2 and 0.7 * 2 / 2 = 0.7: the running minimum gives both 0.7.
    assert benjamini_hochberg([0.7, 0.6]) == pytest.approx([0.7, 0.7])
    # Ties get one value: 0.01 * 3 / 1 = 0.03, 0.02 * 3 / 2 = 0.03, 0.02 * 3 / 3 = 0.02; the
    # running minimum from the largest down gives all three 0.02.
    assert benjamini_hochberg([0.02, 0.01, 0.02]) == pytest.approx([0.02, 0.02, 0.02])


def test_adjust_skips_missing_p_values_and_none_keeps_them():
    # NaN is no test: the family is the two others (0.01 * 2, 0.03 * 1 -> max(0.02, 0.03)).
    adjusted = adjust([0.01, math.nan, 0.03], "holm")
    assert adjusted[0] == pytest.approx(0.02) and adjusted[2] == pytest.approx(0.03)
    assert math.isnan(adjusted[1])
    assert adjust(P, "none") == pytest.approx(P)


def claims_frame(rows):
    columns = ["claim", "p_value", "p_value_against", "n_seeds"]
    return pd.DataFrame.from_records(rows, columns=columns)


MIXED = claims_frame(
    [
        ("a", 0.01, 0.99, 5),
        ("a", 0.02, 0.98, 5),
        ("a", 0.001, 0.999, 1),  # one seed: in no family, inconclusive
        ("b", 0.03, 0.97, 3),
        ("b", 0.9, 0.04, 3),
        ("c", 0.3, 0.7, 3),
    ]
)


def test_none_reproduces_the_uncorrected_verdicts():
    corrected = correct(MIXED, 0.05, "none")
    expected = [verdict(n, p, q, 0.05) for _, p, q, n in MIXED.itertuples(index=False)]
    assert corrected["verdict"].tolist() == expected
    assert expected == ["holds", "holds", "inconclusive", "holds", "fails", "inconclusive"]
    tested = MIXED["n_seeds"] >= 2
    assert (corrected.loc[tested, "p_adjusted"] == MIXED.loc[tested, "p_value"]).all()
    assert corrected["p_value"].equals(MIXED["p_value"])  # the raw p-values stay


def test_families_are_claim_ids_and_directions():
    corrected = correct(MIXED, 0.05, "holm")
    # "a" (two rows with two or more seeds): 0.01 * 2 = 0.02, 0.02 * 1 -> max(0.02, 0.02).
    assert corrected["p_adjusted"][:2].tolist() == pytest.approx([0.02, 0.02])
    assert math.isnan(corrected["p_adjusted"][2]) and math.isnan(corrected["p_adjusted_against"][2])
    # "b": claim direction 0.03 * 2 = 0.06, 0.9 -> 0.9; against: 0.04 * 2 = 0.08, 0.97 -> 0.97.
    assert corrected["p_adjusted"][3:5].tolist() == pytest.approx([0.06, 0.9])
    assert corrected["p_adjusted_against"][3:5].tolist() == pytest.approx([0.97, 0.08])
    # "c" alone: unchanged. A whole-table family would have multiplied by 5.
    assert corrected["p_adjusted"][5] == pytest.approx(0.3)
    assert corrected["verdict"].tolist() == [
        "holds", "holds", "inconclusive", "inconclusive", "inconclusive", "inconclusive"
    ]  # fmt: skip


def test_verdicts_use_the_adjusted_p_values():
    # Five alphas, every one of five seeds in favour: each sign test has p = 2^-5 = 0.03125.
    # none: 0.03125 < 0.05 holds; holm: 5 * 0.03125 = 0.156 for all (inconclusive); bh: the
    # largest rank gives 5 / 5 * 0.03125 and the running minimum gives it to all (holds).
    records = [
        {**record, "alpha": alpha}
        for alpha in (0.1, 0.2, 0.3, 0.4, 0.5)
        for record in selections(range(5))
    ]
    table = fpa_table(range(5), 0.01, 0.08)
    for correction, expected, p in (
        ("none", "holds", 0.5**5),
        ("holm", "inconclusive", 5 * 0.5**5),
        ("bh", "holds", 0.5**5),
    ):
        rows = [
            r
            for r in fpa_claims(table, records, correction=correction)
            if r["claim"] == "greedy_keeps_mi_xy"
        ]
        assert len(rows) == 5
        assert {r["verdict"] for r in rows} == {expected}, correction
        assert [r["p_adjusted"] for r in rows] == pytest.approx([p] * 5)
        assert [r["p_value"] for r in rows] == pytest.approx([0.5**5] * 5)


def test_claims_table_keeps_raw_and_adds_adjusted_p_values():
    rows = fpa_claims(fpa_table(range(5), 0.01, 0.08), selections(range(5)), correction="none")
    table = claims_table(rows, "adult", 0.05, "holm")
    assert list(table.columns) == CLAIM_COLUMNS
    dp = table[table["claim"] == "fpa_raises_dp_gap"]  # two rows: mi_greedy and label_flip
    assert len(dp) == 2
    assert (dp["p_adjusted"] >= dp["p_value"]).all() and dp["p_adjusted"].max() <= 1
    assert table["interval_width"].isna().all()  # only pia_calibrated_covers has one


@pytest.mark.parametrize("bad", ["bonferroni", "Holm", ""])
def test_a_bad_correction_is_a_config_error_naming_it(bad):
    with pytest.raises(ConfigError, match=f"claims.correction .*got {bad!r}"):
        correct(MIXED, 0.05, bad)
    with pytest.raises(ConfigError, match=repr(bad)):
        fpa_claims(fpa_table(range(2), 0.01, 0.08), selections(range(2)), correction=bad)
    with pytest.raises(ConfigError, match=repr(bad)):
        pia_claims(pia_table(range(2), {"tabddpm": 0.02}), 0.05, correction=bad)
    with pytest.raises(ConfigError, match=repr(bad)):
        claims_table([], "adult", 0.05, bad)


def test_correct_names_missing_columns():
    with pytest.raises(DataError, match=r"\['n_seeds'\]"):
        correct(MIXED.drop(columns="n_seeds"), 0.05, "holm")


# -- pia_calibrated_covers -----------------------------------------------------------------------
def calibrated_table(seeds, coverage, width=0.2, ratios=(0.1, 0.5, 0.9)):
    """Raw ``column`` rows and ``calibrated`` rows whose coverage is ``coverage[generator](seed,
    ratio)``, at the largest query count (and a smaller one that the claim must ignore)."""
    rows = []
    for seed in seeds:
        for ratio in ratios:
            for generator, share in coverage.items():
                for n, attack in ((1000, "column"), (1000, "calibrated"), (100, "calibrated")):
                    covered = share(seed, ratio) if n == 1000 else 0.0
                    rows.append(
                        {"generator": generator, "attack": attack, "true_ratio": ratio,
                         "n_queries": n, "seed": seed, "abs_error": 0.02,
                         "within_bound_rate": 1.0, "repeats": 10, "coverage": covered,
                         "interval_width": width + 0.01 * seed}
                    )  # fmt: skip
    return pd.DataFrame(rows)


def covers(rows):
    return {r["generator"]: r for r in rows if r["claim"] == "pia_calibrated_covers"}


def test_calibrated_coverage_per_seed_holds_fails_or_is_inconclusive():
    table = calibrated_table(
        range(4),
        {
            "tabddpm": lambda seed, ratio: 0.95 + 0.01 * (seed % 2),  # 0.95, 0.96, ...
            "ctgan": lambda seed, ratio: 0.6 + 0.1 * ratio + 0.01 * seed,
            "tvae": lambda seed, ratio: (0.7, 1.0, 0.8, 1.0)[seed],
        },
    )
    rows = covers(pia_claims(table, delta=0.05, correction="none"))
    tabddpm = rows["tabddpm"]
    assert tabddpm["estimate"] == pytest.approx(0.955) and tabddpm["n_seeds"] == 4
    assert tabddpm["interval_width"] == pytest.approx(0.2 + 0.01 * 1.5)  # mean over seeds
    # The unit is the seed: the t test of the four per-seed means against 0.90 and 0.95.
    per_seed = [0.95, 0.96, 0.95, 0.96]
    assert tabddpm["p_value"] == pytest.approx(
        stats.ttest_1samp(per_seed, 0.90, alternative="greater").pvalue
    )
    assert tabddpm["p_value_against"] == pytest.approx(
        stats.ttest_1samp(per_seed, 0.95, alternative="less").pvalue
    )
    assert tabddpm["verdict"] == "holds"
    assert rows["ctgan"]["estimate"] == pytest.approx(0.65 + 0.015)
    assert rows["ctgan"]["verdict"] == "fails"
    assert rows["tvae"]["verdict"] == "inconclusive"  # mean 0.875, spread too wide for 4 seeds
    assert "> 0.9; against: < 0.95" in tabddpm["test"]


def test_calibrated_coverage_without_spread_is_the_t_tests_limit():
    table = calibrated_table(
        range(3),
        {"tabddpm": lambda s, r: 1.0, "ctgan": lambda s, r: 0.8, "tvae": lambda s, r: 0.92},
    )
    rows = covers(pia_claims(table, delta=0.05))
    every = rows["tabddpm"]  # every interval covers, at every seed: above 0.90 for certain
    assert (every["p_value"], every["p_value_against"]) == (0.0, 1.0)
    assert every["ci_low"] == every["ci_high"] == every["estimate"] == 1.0
    assert (every["p_adjusted"], every["p_adjusted_against"]) == (0.0, 1.0)
    assert every["verdict"] == "holds"
    low = rows["ctgan"]  # 0.8 at every seed: below 0.90 and 0.95
    assert (low["p_value"], low["p_value_against"]) == (1.0, 0.0) and low["verdict"] == "fails"
    # 0.92 at every seed: above 0.90 and below 0.95 at once; holds is tested first.
    between = rows["tvae"]
    assert (between["p_value"], between["p_value_against"]) == (0.0, 0.0)
    assert between["verdict"] == "holds"
    assert not any(math.isnan(r[k]) for r in rows.values() for k in ("p_value", "p_adjusted"))


def test_calibrated_coverage_follows_delta():
    table = calibrated_table(range(3), {"tabddpm": lambda s, r: 0.87})
    (row,) = covers(pia_claims(table, delta=0.1)).values()  # nominal 0.9, at least 0.85
    assert row["verdict"] == "holds" and "> 0.85; against: < 0.9" in row["test"]


def test_calibrated_coverage_with_one_seed_is_inconclusive():
    rows = covers(pia_claims(calibrated_table([0], {"tabddpm": lambda s, r: 1.0}), 0.05))
    assert rows["tabddpm"]["verdict"] == "inconclusive" and rows["tabddpm"]["n_seeds"] == 1
    assert math.isnan(rows["tabddpm"]["p_adjusted"]) and math.isnan(rows["tabddpm"]["ci_low"])


def test_hoeffding_claim_leaves_out_the_calibrated_rows():
    rows = pia_claims(calibrated_table(range(3), {"tabddpm": lambda s, r: 1.0}), 0.05)
    hoeffding = [r for r in rows if r["claim"] == "pia_within_hoeffding"]
    assert [r["attack"] for r in hoeffding] == ["column"]
    table = claims_table(rows, "adult")
    assert list(table.columns) == CLAIM_COLUMNS
    assert table.loc[table["claim"] == "pia_calibrated_covers", "interval_width"].notna().all()
    assert table.loc[table["claim"] != "pia_calibrated_covers", "interval_width"].isna().all()


def test_calibrated_rows_need_coverage_and_width():
    table = calibrated_table(range(3), {"tabddpm": lambda s, r: 1.0})
    with pytest.raises(DataError, match=r"calibrated rows lack the columns \['coverage'\]"):
        pia_claims(table.drop(columns="coverage"), 0.05)
    table.loc[(table["attack"] == "calibrated") & (table["seed"] == 1), "interval_width"] = np.nan
    table.loc[table["n_queries"] == 100, "interval_width"] = 0.1  # only the largest count counts
    with pytest.raises(DataError, match="calibrated rows of tabddpm at 1000 queries"):
        pia_claims(table, 0.05)


# -- the generated docs tables -------------------------------------------------------------------
def test_verdict_changes_counts_per_claim():
    counts = verdict_changes(MIXED).set_index("claim")
    assert counts.loc["a", "rows"] == 3 and counts.loc["all", "rows"] == 6
    assert (counts.loc["b", "none_holds"], counts.loc["b", "none_fails"]) == (1, 1)
    assert counts.loc["b", "holm_inconclusive"] == 2 and counts.loc["b", "changed_holm"] == 2
    # "b" under bh too: 0.03 * 2 / 1 = 0.06 and 0.04 * 2 / 1 = 0.08, neither below 0.05.
    assert counts.loc["b", "bh_inconclusive"] == 2
    assert counts.loc["all", "changed_holm"] == 2 and counts.loc["all", "changed_bh"] == 2


def test_seeds_needed_by_formula():
    # Holm over a 60-row table: the strongest row needs p <= 0.05 / 60, t >= 7.5 at 5 seeds.
    assert critical_t(5, 60) == pytest.approx(stats.t.ppf(1 - 0.05 / 60, 4))
    assert 7.5 < critical_t(5, 60) < 7.6
    for effect, m in ((1.0, 5), (2.0, 20), (3.0, 60)):
        n = seeds_needed(effect, m)
        assert effect * math.sqrt(n) >= critical_t(n, m)
        assert n == 2 or effect * math.sqrt(n - 1) < critical_t(n - 1, m)
    # All seeds in favour: p = 2^-n <= 0.05 / m. m = 1: 2^-5 = 0.031 (2^-4 = 0.0625 is not);
    # m = 5: 2^-7 = 0.0078 <= 0.01 (2^-6 = 0.0156 is not).
    assert (sign_test_seeds(1), sign_test_seeds(5)) == (5, 7)


def test_the_seeds_table_in_the_docs_is_generated():
    # Regenerate: python -m diffshare.reporting.claims_correction_table --seeds
    assert seeds_markdown() in (REPO / "docs/claims.md").read_text()


def test_the_recorded_correction_table_is_generated():
    recorded = sorted((REPO / "docs/recorded").glob("*/claims_*.csv"))
    assert recorded
    tables = {path.relative_to(REPO).as_posix(): read_claims(path) for path in recorded}
    assert (REPO / "docs/recorded/claims-correction.md").read_text() == correction_markdown(tables)


def test_the_correction_table_cli(tmp_path, capsys):
    path = tmp_path / "claims.csv"
    MIXED.assign(verdict=correct(MIXED, 0.05, "none")["verdict"]).to_csv(path, index=False)
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "| `b` | 2 | 1 / 1 / 0 | 0 / 0 / 2 | 0 / 0 / 2 | 2 | 2 |" in out
    assert "agrees at every row with: `none`." in out
    (tmp_path / "bad.csv").write_text("claim,p_value\nx,0.1\n")
    with pytest.raises(DataError, match=r"bad.csv is not a claims table.*'p_value_against'"):
        main([str(tmp_path / "bad.csv")])
