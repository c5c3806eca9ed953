"""The receiver's audit: each statistic and test on inputs with known answers, and the command."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from threadpoolctl import threadpool_limits

from diffshare.cli import main
from diffshare.defenses.audit import (
    association_test,
    audit_samples,
    audit_summary,
    bootstrap_interval,
    classifier_two_sample_test,
    dp_gap,
    mutual_information,
    reference_rows,
    sy_table,
)
from diffshare.errors import ConfigError, DataError


@pytest.fixture(autouse=True)
def one_thread():
    """One OpenMP thread: on a small, busy machine spinning threads cost tenfold."""
    with threadpool_limits(1):
        yield


def draw_sy(rng, n, share_privileged=0.67, rates=(0.11, 0.31)):
    """(s, y) rows: s ~ Bernoulli(share), y | s ~ Bernoulli(rates[s]) (Adult-like by default)."""
    s = (rng.random(n) < share_privileged).astype(np.int8)
    y = (rng.random(n) < np.asarray(rates)[s]).astype(np.int8)
    return s, y


def draw_table(rng, n, shift=0.0, rates=(0.11, 0.31)):
    """A small mixed table with columns age, job, sex, income; ``shift`` moves age's mean by
    that many standard deviations without touching the (sex, income) association."""
    s, y = draw_sy(rng, n, rates=rates)
    table = pd.DataFrame(
        {
            "age": rng.normal(40 + 10 * shift, 10, n),
            "job": rng.choice(["a", "b", "c"], n),
            "sex": np.where(s == 1, "Male", "Female"),
            "income": np.where(y == 1, ">50K", "<=50K"),
        }
    )
    return table, s, y


# -- statistics ----------------------------------------------------------------------------


def test_mutual_information_and_gap_known_values():
    assert mutual_information(np.array([[25, 25], [25, 25]])) == pytest.approx(0.0)
    # s = y, balanced: I(S;Y) = H(S) = ln 2 nats.
    assert mutual_information(np.array([[50, 0], [0, 50]])) == pytest.approx(np.log(2))
    assert dp_gap(np.array([[80, 20], [40, 60]])) == pytest.approx(0.6 - 0.2)
    assert dp_gap(np.array([[40, 60], [80, 20]])) == pytest.approx(-0.4)


def test_sy_table_counts_and_rejects_bad_input():
    counts = sy_table([0, 0, 1, 1, 1], [0, 1, 1, 1, 0])
    assert counts.tolist() == [[1, 1], [1, 2]]
    with pytest.raises(DataError, match="only 0 and 1"):
        sy_table([0, 2, 1, 1], [0, 1, 0, 1])
    with pytest.raises(DataError, match="group s=0"):
        sy_table([0, 1, 1, 1], [0, 1, 0, 1])


def test_bootstrap_interval_covers_the_truth_and_is_seeded():
    rng = np.random.default_rng(0)
    counts = sy_table(*draw_sy(rng, 3000))
    interval = bootstrap_interval(counts, "dp_gap", n_bootstrap=500, confidence=0.95, seed=3)
    assert interval == bootstrap_interval(
        counts, "dp_gap", n_bootstrap=500, confidence=0.95, seed=3
    )
    assert interval[0] < 0.31 - 0.11 < interval[1]
    assert interval[1] - interval[0] < 0.1
    low, high = bootstrap_interval(counts, "mi_sy", n_bootstrap=500, confidence=0.95, seed=3)
    assert low < mutual_information(counts) < high
    with pytest.raises(ConfigError, match="unknown statistic"):
        bootstrap_interval(counts, "gap", n_bootstrap=10, confidence=0.9, seed=0)


# -- the association test ------------------------------------------------------------------


def test_association_test_p_values_are_uniform_when_the_gaps_are_equal():
    """At the audit's sizes (500 reference rows, thousands of samples, Adult-like rates)."""
    rng = np.random.default_rng(1)
    p_values = np.array(
        [
            association_test(sy_table(*draw_sy(rng, 4000)), sy_table(*draw_sy(rng, 500)))[1]
            for _ in range(1000)
        ]
    )
    assert stats.kstest(p_values, "uniform").pvalue > 0.01
    # False alarms at 0.05: within a binomial 99.9% band around 50 of 1000.
    assert 28 <= (p_values <= 0.05).sum() <= 76


def test_association_test_flags_a_planted_association():
    rng = np.random.default_rng(2)
    poisoned = sy_table(*draw_sy(rng, 4000, rates=(0.02, 0.50)))  # gap 0.48 against 0.20
    z, p = association_test(poisoned, sy_table(*draw_sy(rng, 500)))
    assert z > 0 and p < 1e-4


# -- the distribution test -----------------------------------------------------------------


def test_two_sample_test_holds_its_level_on_one_distribution():
    rng = np.random.default_rng(3)
    p_values = []
    for seed in range(12):
        samples, _, _ = draw_table(rng, 300)
        reference, _, _ = draw_table(rng, 300)
        p_values.append(classifier_two_sample_test(samples, reference, seed=seed)["c2st_p_value"])
    # Expected 0.6 of 12 below 0.05; 3 or more happens with probability < 2%.
    assert sum(p <= 0.05 for p in p_values) <= 2
    assert np.median(p_values) > 0.2


def test_a_shift_that_leaves_s_and_y_alone_is_caught_by_the_distribution_test_only():
    rng = np.random.default_rng(4)
    samples, s, y = draw_table(rng, 2000, shift=1.0)
    reference, s_ref, y_ref = draw_table(rng, 500)
    record = audit_samples(
        samples,
        reference,
        s_samples=s,
        y_samples=y,
        s_reference=s_ref,
        y_reference=y_ref,
        n_bootstrap=200,
    )
    assert record["c2st_p_value"] < 1e-4 and record["c2st_accuracy"] > 0.6
    assert record["c2st_n_test"] == 500  # balanced: 500 of each, half held out
    assert record["association_p_value"] > 0.025
    assert record["flagged"]


def test_audit_flags_a_planted_association_and_not_an_honest_draw():
    rng = np.random.default_rng(5)
    reference, s_ref, y_ref = draw_table(rng, 500)
    honest, s, y = draw_table(rng, 2000)
    kwargs = dict(s_reference=s_ref, y_reference=y_ref, n_bootstrap=200, seed=1)
    record = audit_samples(honest, reference, s_samples=s, y_samples=y, **kwargs)
    assert not record["flagged"]
    assert min(record["association_p_value"], record["c2st_p_value"]) > 0.025
    poisoned, s, y = draw_table(rng, 2000, rates=(0.02, 0.45))
    record = audit_samples(
        poisoned, reference, s_samples=s, y_samples=y, tests=["association"], **kwargs
    )
    assert record["flagged"] and record["association_p_value"] < 1e-6
    assert np.isnan(record["c2st_p_value"])
    assert record["dp_gap_ci_low"] > record["dp_gap_reference"]
    assert record["mi_sy"] > record["mi_sy_reference"]


def test_bonferroni_flag_uses_level_over_the_number_of_tests():
    rng = np.random.default_rng(6)
    reference, s_ref, y_ref = draw_table(rng, 500)
    # A gap whose association p-value falls between level / 2 and level.
    for _ in range(200):
        samples, s, y = draw_table(rng, 2000, rates=(0.09, 0.35))
        kwargs = dict(s_samples=s, y_samples=y, s_reference=s_ref, y_reference=y_ref)
        p = association_test(sy_table(s, y), sy_table(s_ref, y_ref))[1]
        if 0.025 < p <= 0.05:
            break
    else:
        pytest.fail("no draw with an association p-value in (0.025, 0.05]")
    alone = audit_samples(samples, reference, tests=["association"], n_bootstrap=100, **kwargs)
    both = audit_samples(samples, reference, n_bootstrap=100, **kwargs)
    assert alone["flagged"]
    assert both["flagged"] == (both["c2st_p_value"] <= 0.025)


def test_audit_rejects_bad_settings():
    rng = np.random.default_rng(7)
    table, s, y = draw_table(rng, 100)
    kwargs = dict(s_samples=s, y_samples=y, s_reference=s, y_reference=y)
    with pytest.raises(ConfigError, match="level"):
        audit_samples(table, table, level=1.5, **kwargs)
    with pytest.raises(ConfigError, match="defense.audit.tests"):
        audit_samples(table, table, tests=["mmd"], **kwargs)
    with pytest.raises(ConfigError, match="reference_size is 600"):
        reference_rows(500, 600, seed=0)
    rows = reference_rows(1000, 50, seed=3)
    assert len(set(rows)) == 50 and (rows == reference_rows(1000, 50, seed=3)).all()


def test_summary_counts_flags_per_attack_and_alpha():
    table = pd.DataFrame(
        {
            "attack": ["none", "none", "mi_greedy", "mi_greedy"],
            "alpha": [0.0, 0.0, 0.5, 0.5],
            "seed": [0, 1, 0, 1],
            "flagged": [False, False, True, False],
            "association_p_value": [0.5, 0.3, 0.001, 0.04],
            "c2st_p_value": [0.9, 0.01, 0.2, 0.03],
            "mi_sy": 0.01,
            "dp_gap": 0.2,
            "dp_gap_reference": 0.2,
            "c2st_accuracy": 0.5,
        }
    )
    summary = audit_summary(table).set_index("attack")
    assert summary.loc["none", "n_seeds"] == 2 and summary.loc["none", "flag_rate"] == 0.0
    assert summary.loc["mi_greedy", "flag_rate"] == 0.5
    assert summary.loc["mi_greedy", "association_reject_rate"] == 0.5
    assert summary.loc["none", "c2st_reject_rate"] == 0.5


# -- the command ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("audit_cli")
    rng = np.random.default_rng(8)
    draw_table(rng, 600, rates=(0.02, 0.45))[0].to_csv(folder / "samples.csv", index=False)
    draw_table(rng, 300)[0].to_parquet(folder / "reference.parquet")
    return folder


def test_cli_audits_a_csv_against_a_parquet_file(files, capsys):
    output = files / "audit.json"
    code = main(
        [
            "audit",
            str(files / "samples.csv"),
            "--reference",
            str(files / "reference.parquet"),
            "--label",
            "income",
            "--sensitive",
            "sex",
            "--positive",
            ">50K",
            "--privileged",
            "Male",
            "--bootstrap",
            "200",
            "--output",
            str(output),
        ]
    )
    assert code == 0
    assert "flagged" in capsys.readouterr().out
    record = json.loads(output.read_text())
    assert record["flagged"] is True and record["dp_gap"] > 0.3
    assert record["n_samples"] == 600 and record["n_reference"] == 300


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--label", "incom", "--sensitive", "sex"], "no label column 'incom'"),
        (["--label", "income", "--sensitive", "job"], "'job' must be binary; it holds 3"),
        (["--label", "income", "--sensitive", "sex", "--privileged", "M"], "never holds 'M'"),
    ],
)
def test_cli_names_the_bad_column(files, capsys, args, message):
    base = ["audit", str(files / "samples.csv"), "--reference", str(files / "reference.parquet")]
    assert main(base + args) == 2
    assert message in capsys.readouterr().err


def test_cli_is_installed_with_help():
    result = subprocess.run(
        [sys.executable, "-m", "diffshare.cli", "audit", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "--reference" in result.stdout


def test_an_audit_record_names_its_model_and_is_plain_json():
    from diffshare.defenses.audit import audit_record

    record = audit_record(
        {"mi_sy": np.float64(0.25), "c2st_p": float("nan")},
        dataset="adult",
        attack="mi_greedy",
        alpha="0.2",
        seed="3",
    )
    assert record == {
        "dataset": "adult",
        "attack": "mi_greedy",
        "alpha": 0.2,
        "seed": 3,
        "mi_sy": 0.25,
        "c2st_p": None,
    }
    assert type(record["mi_sy"]) is float
