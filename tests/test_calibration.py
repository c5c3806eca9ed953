"""The calibrated property-inference attack: shadow models at known shares, the fitted map,
and its prediction intervals, on a synthetic generator whose bias is known."""

import numpy as np
import pandas as pd
import pytest

from diffshare.attacks.pia.calibration import (
    CALIBRATED,
    Calibration,
    calibrate,
    check_grid,
    fit_calibration,
    shadow_size,
)
from diffshare.errors import ConfigError, DataError
from diffshare.reporting.tables import pia_table
from diffshare.validation import check_calibration

GRID = [0.05, 0.25, 0.5, 0.75, 0.95]
QUERIES = (100, 1000)
REPEATS = 10


def distorted_model(share, rng, bias=(0.15, 0.6), spread=0.02):
    """A generator that shrinks the share (raw mean 0.15 + 0.6 s) plus its own deviation."""
    return float(np.clip(bias[0] + bias[1] * share + rng.normal(0.0, spread), 0.0, 1.0))


def raw_estimates(share, rng, attack="column"):
    """Per-repeat estimates from a fresh model at ``share``: disjoint batches of its samples."""
    p = distorted_model(share, rng)
    samples = rng.random(max(QUERIES) * REPEATS) < p
    rows = []
    for n in QUERIES:
        means = samples[: n * REPEATS].reshape(REPEATS, n).mean(axis=1)
        rows += [{"attack": attack, "n_queries": n, "repeat": r, "estimate": float(v)}
                 for r, v in enumerate(means)]  # fmt: skip
    return pd.DataFrame.from_records(rows).assign(true_ratio=share)


def shadows(rng):
    return pd.concat([raw_estimates(s, rng) for s in GRID], ignore_index=True)


def test_calibration_recovers_a_known_bias():
    calibration = fit_calibration(shadows(np.random.default_rng(0)), "column")
    assert calibration.slope == pytest.approx(0.6, abs=0.08)
    assert calibration.intercept == pytest.approx(0.15, abs=0.05)
    # A raw share of 0.45 is what this generator makes of a true 0.5.
    estimate, low, high = calibration.interval(0.45, 1000, 0.05)
    assert estimate == pytest.approx(0.5, abs=0.08)
    assert low < 0.5 < high and high - low < 0.5


def test_calibrated_intervals_cover_at_the_nominal_rate():
    """Over many independent calibrations and targets, 95% intervals cover about 95%; the raw
    estimate with Hoeffding's eps covers far less (the generator's bias is outside it)."""
    rng = np.random.default_rng(1)
    covered, raw_covered, errors, raw_errors = [], [], [], []
    for _ in range(300):
        calibration = fit_calibration(shadows(rng), "column")
        share = float(rng.uniform(0.1, 0.9))
        target = raw_estimates(share, rng)
        rows = calibrate(target, calibration, 0.05)
        top = rows[rows["n_queries"] == 1000]
        covered += ((top["lower"] <= share) & (share <= top["upper"])).tolist()
        errors += (top["estimate"] - share).abs().tolist()
        raw = target[target["n_queries"] == 1000]["estimate"]
        raw_covered += ((raw - share).abs() <= np.sqrt(np.log(2 / 0.05) / 2000)).tolist()
        raw_errors += (raw - share).abs().tolist()
    assert 0.90 <= np.mean(covered) <= 0.995
    assert np.mean(raw_covered) < 0.6
    assert np.mean(errors) < np.mean(raw_errors)


def test_a_flat_response_gives_a_wide_interval():
    rng = np.random.default_rng(2)
    flat = pd.concat(
        [raw_estimates(s, rng).assign(estimate=lambda f: 0.3 + rng.normal(0, 0.01, len(f)))
         for s in GRID], ignore_index=True,
    )  # fmt: skip
    calibration = fit_calibration(flat, "column")
    _, low, high = calibration.interval(0.3, 1000, 0.05)
    assert high - low > 0.9


def test_calibrate_names_the_attack_and_keeps_the_keys():
    rng = np.random.default_rng(3)
    calibration = fit_calibration(shadows(rng), "column")
    target = raw_estimates(0.3, rng).assign(dataset="adult", generator="tabddpm", seed=0)
    rows = calibrate(target, calibration, 0.05)
    assert set(rows["attack"]) == {CALIBRATED}
    assert (rows["lower"] <= rows["estimate"]).all() and (rows["estimate"] <= rows["upper"]).all()
    assert rows[["dataset", "generator", "seed"]].drop_duplicates().shape == (1, 3)
    table = pia_table(pd.concat([target, rows], ignore_index=True), delta=0.05)
    mine = table[table["attack"] == CALIBRATED]
    assert mine["coverage"].between(0, 1).all() and (mine["interval_width"] > 0).all()
    raw = table[table["attack"] == "column"]
    assert (raw["coverage"] == raw["within_bound_rate"]).all()
    assert raw["interval_width"].to_numpy() == pytest.approx(2 * raw["hoeffding_eps"].to_numpy())


def test_the_calibration_round_trips_through_json():
    calibration = fit_calibration(shadows(np.random.default_rng(4)), "column")
    assert Calibration.from_dict(calibration.to_dict()) == calibration
    with pytest.raises(DataError, match="500 queries"):
        calibration.interval(0.4, 500, 0.05)


def test_shadow_size_is_bounded_by_the_auxiliary_data():
    has = np.r_[np.ones(4913), np.zeros(11368)]
    size = shadow_size(has, [0.1, 0.5, 0.9], 6000)
    assert size < 6000 and round(0.9 * size) <= 4913
    assert round(0.9 * (size + 30)) > 4913
    assert shadow_size(has, GRID[:3], 6000) == 6000
    with pytest.raises(DataError, match="ten-row"):
        shadow_size(np.r_[np.ones(3), np.zeros(100)], [0.5, 0.9, 0.95], 100)


def test_bad_calibration_settings_are_named():
    with pytest.raises(ConfigError, match="three distinct"):
        check_grid([0.2, 0.8])
    with pytest.raises(ConfigError, match=r"\[1.5\]"):
        check_grid([0.2, 0.5, 1.5])
    with pytest.raises(ConfigError, match="list 'aux' in pia.attacks"):
        check_calibration(
            {"attacks": ["column", "calibrated"], "calibration": {"attack": "aux", "shares": GRID}},
            "pia",
        )
    with pytest.raises(DataError, match="three or more shares"):
        fit_calibration(shadows(np.random.default_rng(5)).query("true_ratio < 0.3"), "column")
    with pytest.raises(DataError, match="no shadow estimates of attack 'aux'"):
        fit_calibration(shadows(np.random.default_rng(5)), "aux")


# -- the rendered page ----------------------------------------------------------------------------
def synthetic_pia(seeds=(0, 1, 2)):
    """A results/pia-like table of two families, raw and calibrated, from the synthetic model."""
    rng = np.random.default_rng(7)
    frames = []
    for seed in seeds:
        calibration = fit_calibration(shadows(rng), "column")
        for share in (0.1, 0.5, 0.9):
            target = raw_estimates(share, rng).assign(dataset="d", seed=seed)
            for generator in ("diffusion", "gan"):
                rows = target.assign(generator=generator)
                frames += [rows, calibrate(rows, calibration, 0.05)]
    return pia_table(pd.concat(frames, ignore_index=True), delta=0.05)


def test_calibration_page_is_rendered_from_the_table():
    from diffshare.reporting.calibration_report import calibration_markdown, calibration_summary

    table = synthetic_pia()
    summary, n = calibration_summary(table)
    assert n == 1000 and list(summary["generator"]) == ["diffusion", "gan"]
    top = table[(table["n_queries"] == 1000) & (table["attack"] == CALIBRATED)]
    diffusion = top[top["generator"] == "diffusion"]
    assert summary["coverage"].iloc[0] == pytest.approx(diffusion["coverage"].mean())
    assert summary["best_raw"].iloc[0] == "column" and summary["seeds"].iloc[0] == 3
    page = calibration_markdown(table, None, ["pia.csv"])
    assert "| diffusion | 3 |" in page and "Hoeffding column" in page


def test_recorded_calibration_pages_are_what_their_tables_render():
    """Every docs/recorded/*/calibration.md is the renderer's output from the CSVs beside it."""
    from conftest import REPO
    from diffshare.reporting.calibration_report import calibration_markdown

    for page in sorted((REPO / "docs/recorded").glob("*/calibration.md")):
        folder = page.parent
        sensitivity = next(iter(folder.glob("pia_calibration_*.csv")), folder / "none.csv")
        (pia,) = [
            p
            for p in folder.glob("pia_*.csv")
            if not {"calibration", "summary"} & set(p.stem.split("_"))
        ]
        sources = [str(p.relative_to(REPO)) for p in (pia, sensitivity) if p.exists()]
        expected = calibration_markdown(
            pd.read_csv(pia), pd.read_csv(sensitivity) if sensitivity.exists() else None, sources
        )
        assert page.read_text() == expected, f"{page} differs from its tables: re-render it"
