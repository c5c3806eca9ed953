"""The receiver's audit: each statistic and test on inputs with known answers, and the command."""

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from threadpoolctl import threadpool_limits

from diffshare.cli import main
from diffshare.defenses.audit import (
    AUDIT_COLUMNS,
    association_test,
    audit_samples,
    audit_summary,
    audit_table,
    bootstrap_interval,
    check_train_rows,
    classifier_two_sample_test,
    dp_gap,
    excess_p_value,
    mutual_information,
    reference_rows,
    sy_table,
)
from diffshare.errors import ConfigError, DataError

#: Adult's group shares and positive rates (privileged: Male), for simulated (s, y) tables.
SHARE, RATES = 0.67, (0.11, 0.31)


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


def p_value(samples, reference, train_rows=math.inf, tolerance=0.0):
    return association_test(samples, reference, train_rows=train_rows, tolerance=tolerance)[
        "association_p_value"
    ]


def test_association_test_p_values_are_uniform_when_the_gaps_are_equal():
    """Samples drawn from the population itself (no training rows between: train_rows=inf), at
    the audit's sizes (500 reference rows, thousands of samples, Adult-like rates): the one-sided
    p-values are uniform, and a test at 0.05 fires about 5% of the time."""
    rng = np.random.default_rng(1)
    p_values = np.array(
        [p_value(sy_table(*draw_sy(rng, 4000)), sy_table(*draw_sy(rng, 500))) for _ in range(1000)]
    )
    assert stats.kstest(p_values, "uniform").pvalue > 0.01
    # False alarms at 0.05: within a binomial 99.9% band around 50 of 1000.
    assert 28 <= (p_values <= 0.05).sum() <= 76


def test_association_test_flags_a_raised_gap_only():
    rng = np.random.default_rng(2)
    reference = sy_table(*draw_sy(rng, 500))
    raised = association_test(
        sy_table(*draw_sy(rng, 4000, rates=(0.02, 0.50))), reference, train_rows=6000
    )  # gap 0.48 against 0.20
    assert raised["association_z"] > 4 and raised["association_p_value"] < 1e-4
    assert raised["association_excess"] == pytest.approx(0.28, abs=0.08)
    # A weakened gap (0.05 against 0.20) is as far from the reference, the other way: not flagged.
    lowered = association_test(
        sy_table(*draw_sy(rng, 4000, rates=(0.20, 0.25))), reference, train_rows=6000
    )
    assert lowered["association_z"] < -3 and lowered["association_p_value"] > 0.99
    # The magnitude counts: the same rise with the groups swapped (a negative gap) is flagged.
    flipped = association_test(
        sy_table(*draw_sy(rng, 4000, rates=(0.50, 0.02))), reference, train_rows=6000
    )
    assert flipped["association_p_value"] < 1e-4
    # A tolerance as large as the rise absorbs it.
    assert p_value(sy_table(*draw_sy(rng, 4000, rates=(0.02, 0.50))), reference, 6000, 0.4) > 0.5


def test_the_training_rows_widen_the_null():
    rng = np.random.default_rng(3)
    samples, reference = sy_table(*draw_sy(rng, 10000)), sy_table(*draw_sy(rng, 8000))
    without = association_test(samples, reference, train_rows=math.inf)
    small = association_test(samples, reference, train_rows=500)
    large = association_test(samples, reference, train_rows=6000)
    assert without["association_se"] < large["association_se"] < small["association_se"]
    # Training term: the reference's rates at 6000 x its group shares.
    shares = reference.sum(axis=1) / reference.sum()
    rates = (reference[:, 1] + 1) / (reference.sum(axis=1) + 2)
    training = np.sum(rates * (1 - rates) / (6000 * shares))
    assert large["association_se"] ** 2 == pytest.approx(
        without["association_se"] ** 2 + training, rel=1e-9
    )


def honest_tables(rng, n_train, n_samples, n_reference, draws):
    """``draws`` (samples, reference) (s, y) tables of honest models: each learns its own
    training rows' group shares and rates exactly (n_train rows of the population), then draws
    n_samples rows from them; the reference is n_reference rows of the population."""

    def table(n, shares, rates):
        groups = rng.multinomial(n, shares)
        positives = rng.binomial(groups, rates)
        return np.stack([groups - positives, positives], axis=1)

    population = ([1 - SHARE, SHARE], RATES)
    pairs = []
    for _ in range(draws):
        train = table(n_train, *population)
        learnt = (train.sum(axis=1) / n_train, train[:, 1] / train.sum(axis=1))
        pairs.append((table(n_samples, *learnt), table(n_reference, *population)))
    return pairs


@pytest.mark.parametrize("n_reference", [500, 2000, 8000])
def test_false_alarms_hold_the_level_only_with_the_training_term(n_reference):
    """Adult's sizes: 6,000 training rows, 10,000 samples, the benchmark's reference sizes. An
    honest model's gap carries its training rows' noise; at 8,000 reference rows a null without
    it is too narrow by about a third of its width, and the one-sided test at 0.05 then fires
    on about one honest model in ten."""
    rng = np.random.default_rng(n_reference)
    pairs = honest_tables(rng, n_train=6000, n_samples=10000, n_reference=n_reference, draws=1000)
    level, draws = 0.05, len(pairs)
    margin = 2.33 * math.sqrt(level * (1 - level) / draws)  # binomial, one-sided 99%
    with_term = np.mean([p_value(s, r, train_rows=6000) <= level for s, r in pairs])
    assert with_term <= level + margin
    if n_reference == 8000:
        without = np.mean([p_value(s, r, train_rows=math.inf) <= level for s, r in pairs])
        assert without > level + margin


def test_the_magnitude_test_holds_its_level_near_a_zero_gap():
    """Both gaps 0 (the images' colour-label gap is near 0) and the samples' side noisier than the
    reference's: |g_s| - |g_r| is then mostly |g_s|, whose normal tail at 1.645 sd is twice the
    level; the least-favourable p-value keeps it at the level, over all gaps or (Berger-Boos)
    over those the reference's interval allows. Far from 0 it is the normal tail."""
    rng = np.random.default_rng(5)
    a, b, draws, level = 0.99, 0.01, 2000, 0.05
    g_s, g_r = rng.normal(0, math.sqrt(a), draws), rng.normal(0, math.sqrt(b), draws)
    excess = np.abs(g_s) - np.abs(g_r)
    margin = 2.33 * math.sqrt(level * (1 - level) / draws)
    assert np.mean(stats.norm.sf(excess) <= level) > level + margin
    assert np.mean([excess_p_value(t, a, b) <= level for t in excess]) <= level + margin
    bounded = [excess_p_value(t, a, b, reference_gap=r) for t, r in zip(excess, g_r, strict=True)]
    assert np.mean(np.array(bounded) <= level) <= level + margin
    # Equal variances: the far-from-zero case is the worst; the p-value is the normal tail, and
    # with the reference's gap clearly away from 0, that tail (plus Berger and Boos's 1e-9).
    assert excess_p_value(1.0, 0.5, 0.5) == pytest.approx(stats.norm.sf(1.0), rel=1e-6)
    assert excess_p_value(1.0, 0.5, 0.5, reference_gap=30.0) == pytest.approx(
        stats.norm.sf(1.0), rel=1e-3
    )
    # Samples' noise dominant, reference gap far from 0: as powerful as the normal tail.
    assert excess_p_value(1.645, 0.99, 0.01) > 0.08  # over every gap: the m = 0 case
    assert excess_p_value(1.645, 0.99, 0.01, reference_gap=5.0) < 0.051


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


def test_a_shift_that_leaves_s_and_y_alone_is_a_distribution_shift_not_a_flag():
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
        train_rows=2000,
        n_bootstrap=200,
    )
    assert list(record) == AUDIT_COLUMNS
    assert record["c2st_p_value"] < 1e-4 and record["c2st_accuracy"] > 0.6
    assert record["c2st_n_test"] == 500  # balanced: 500 of each, half held out
    assert record["distribution_shift"] is True
    assert record["association_p_value"] > 0.05 and record["flagged"] is False
    assert record["train_rows"] == 2000 and record["train_rows_assumed"] is False


def test_audit_flags_a_planted_association_and_not_an_honest_draw():
    rng = np.random.default_rng(5)
    reference, s_ref, y_ref = draw_table(rng, 500)
    honest, s, y = draw_table(rng, 2000)
    kwargs = dict(s_reference=s_ref, y_reference=y_ref, n_bootstrap=200, seed=1)
    record = audit_samples(honest, reference, s_samples=s, y_samples=y, **kwargs)
    assert not record["flagged"] and not record["distribution_shift"]
    assert min(record["association_p_value"], record["c2st_p_value"]) > 0.05
    poisoned, s, y = draw_table(rng, 2000, rates=(0.02, 0.45))
    record = audit_samples(
        poisoned, reference, s_samples=s, y_samples=y, tests=["association"], **kwargs
    )
    # train_rows not given: assumed 500, the reference's rows, which widens the null.
    assert record["flagged"] and record["association_p_value"] < 1e-4
    assert np.isnan(record["c2st_p_value"]) and record["distribution_shift"] is None
    assert record["dp_gap_ci_low"] > record["dp_gap_reference"]
    assert record["mi_sy"] > record["mi_sy_reference"]


def test_without_train_rows_the_audit_assumes_few_and_says_so():
    rng = np.random.default_rng(6)
    reference, s_ref, y_ref = draw_table(rng, 300)
    samples, s, y = draw_table(rng, 2000)
    kwargs = dict(s_samples=s, y_samples=y, s_reference=s_ref, y_reference=y_ref)
    assumed = audit_samples(samples, reference, tests=["association"], n_bootstrap=100, **kwargs)
    assert assumed["train_rows"] == 300 and assumed["train_rows_assumed"] is True
    given = audit_samples(
        samples, reference, tests=["association"], n_bootstrap=100, train_rows=300, **kwargs
    )
    assert given["train_rows_assumed"] is False
    assert given["association_p_value"] == assumed["association_p_value"]


def test_flagged_is_the_association_test_alone():
    rng = np.random.default_rng(6)
    reference, s_ref, y_ref = draw_table(rng, 500)
    # A gap whose association p-value falls between level / 2 and level, in a table whose ages
    # are shifted (the two-sample test rejects): flagged at the level, no Bonferroni.
    for _ in range(200):
        samples, s, y = draw_table(rng, 2000, shift=1.0, rates=(0.09, 0.35))
        kwargs = dict(s_samples=s, y_samples=y, s_reference=s_ref, y_reference=y_ref)
        p = p_value(sy_table(s, y), sy_table(s_ref, y_ref), train_rows=6000)
        if 0.025 < p <= 0.05:
            break
    else:
        pytest.fail("no draw with an association p-value in (0.025, 0.05]")
    alone = audit_samples(samples, reference, tests=["association"], train_rows=6000, **kwargs)
    both = audit_samples(samples, reference, train_rows=6000, n_bootstrap=100, **kwargs)
    assert alone["flagged"] and both["flagged"] and both["distribution_shift"]
    assert both["association_p_value"] == pytest.approx(p)


def test_audit_rejects_bad_settings():
    rng = np.random.default_rng(7)
    table, s, y = draw_table(rng, 100)
    kwargs = dict(s_samples=s, y_samples=y, s_reference=s, y_reference=y)
    with pytest.raises(ConfigError, match="level"):
        audit_samples(table, table, level=1.5, **kwargs)
    with pytest.raises(ConfigError, match="defense.audit.tests"):
        audit_samples(table, table, tests=["mmd"], **kwargs)
    with pytest.raises(ConfigError, match=r"\['distribution'\] must hold association"):
        audit_samples(table, table, tests=["distribution"], **kwargs)
    with pytest.raises(ConfigError, match="tolerance must be a number >= 0, got -0.1"):
        audit_samples(table, table, tests=["association"], tolerance=-0.1, **kwargs)
    for bad in (0, -3, 2.5, "many", True):
        with pytest.raises(ConfigError, match=f"positive whole number of rows, got {bad!r}"):
            audit_samples(table, table, train_rows=bad, **kwargs)
    assert check_train_rows("600") == 600 and check_train_rows(600.0) == 600
    with pytest.raises(ConfigError, match="reference_size is 600"):
        reference_rows(500, 600, seed=0)
    rows = reference_rows(1000, 50, seed=3)
    assert len(set(rows)) == 50 and (rows == reference_rows(1000, 50, seed=3)).all()


def test_summary_counts_flags_and_shifts_per_attack_and_alpha():
    table = pd.DataFrame(
        {
            "attack": ["none", "none", "mi_greedy", "mi_greedy"],
            "alpha": [0.0, 0.0, 0.5, 0.5],
            "seed": [0, 1, 0, 1],
            "flagged": [False, False, True, False],
            "distribution_shift": pd.array([False, True, None, None], dtype="boolean"),
            "mi_sy": 0.01,
            "dp_gap": 0.2,
            "dp_gap_reference": 0.2,
            "association_excess": 0.0,
            "c2st_accuracy": 0.5,
        }
    )
    summary = audit_summary(table).set_index("attack")
    assert summary.loc["none", "n_seeds"] == 2 and summary.loc["none", "flag_rate"] == 0.0
    assert summary.loc["mi_greedy", "flag_rate"] == 0.5
    assert summary.loc["none", "distribution_shift_rate"] == 0.5
    assert np.isnan(summary.loc["mi_greedy", "distribution_shift_rate"])
    assert "association_reject_rate" not in summary.columns


# -- tables that look like a generator's ---------------------------------------------------


def relabel(table, schema, group, to, share, rng):
    """``table`` with ``share`` of the rows of sensitive ``group`` (1: privileged) whose label is
    not ``to`` relabelled ``to`` (1: positive)."""
    table = table.copy()
    s, y = schema.groups(table), schema.labels(table)
    rows = np.flatnonzero((s == group) & (y != to))
    chosen = rng.choice(rows, int(share * len(rows)), replace=False)
    values = sorted(set(table[schema.label].astype(str)))
    value = schema.positive if to == 1 else next(v for v in values if v != schema.positive)
    table[schema.label] = table[schema.label].astype(object)
    table.loc[table.index[chosen], schema.label] = value
    return table


def imperfect_copy(train, schema, n, rng):
    """A faithful but imperfect "generator": ``n`` rows drawn with replacement from its training
    rows (duplicates), numeric columns jittered by a tenth of their spread."""
    samples = train.iloc[rng.integers(0, len(train), n)].reset_index(drop=True)
    for column in schema.numeric:
        values = samples[column].astype(float)
        samples[column] = values + rng.normal(0, 0.1 * values.std(), n)
    return samples


@pytest.fixture(scope="module")
def adult_audit(small_adult):
    """Audit a table against the whole test split of the small Adult fixture (1,500 reference
    rows, a large reference for 3,000 training rows), as the workflow does."""
    train, test, schema = small_adult

    def run(samples, **options):
        return audit_table(
            samples,
            test,
            schema,
            train_rows=len(train),
            n_bootstrap=100,
            seed=0,
            **options,
        )

    return train, schema, run


def test_a_faithful_but_imperfect_table_is_not_flagged(adult_audit):
    """Its rows differ from real ones (duplicates, jitter), which the two-sample test sees and
    the old Bonferroni rule flagged; its S-Y gap is the training rows', which is no poisoning."""
    train, schema, run = adult_audit
    record = run(imperfect_copy(train, schema, 3000, np.random.default_rng(10)))
    assert record["distribution_shift"] and record["c2st_p_value"] < 1e-3
    assert not record["flagged"] and record["association_p_value"] > 0.05


def test_a_lowered_gap_is_not_flagged_and_a_raised_one_is(adult_audit):
    train, schema, run = adult_audit
    rng = np.random.default_rng(11)
    honest = imperfect_copy(train, schema, 3000, rng)
    # Half the privileged group's positives relabelled negative: the gap shrinks (as an honest
    # copula's does), which a two-sided test flagged.
    lowered = run(relabel(honest, schema, 1, 0, 0.5, rng), tests=["association"])
    assert lowered["dp_gap"] < lowered["dp_gap_reference"] - 0.08
    assert lowered["association_z"] < -3 and not lowered["flagged"]
    # A fifth of the privileged negatives relabelled positive: the gap rises by about 0.14.
    raised = run(relabel(honest, schema, 1, 1, 0.2, rng), tests=["association"])
    assert raised["dp_gap"] > raised["dp_gap_reference"] + 0.08
    assert raised["flagged"] and raised["association_p_value"] < 1e-3


def test_a_faithful_generator_at_a_large_reference_is_not_flagged():
    """A synthetic population; the model learns 6,000 training rows, S-Y faithfully but the
    ages a little off (a third of a standard deviation higher, jittered), and draws 10,000
    samples; the receiver holds 8,000 reference rows."""
    rng = np.random.default_rng(12)
    population, s_pop, y_pop = draw_table(rng, 40000)
    rows = rng.permutation(len(population))
    train, reference = rows[:6000], rows[6000:14000]
    drawn = rng.choice(train, 10000)
    samples = population.iloc[drawn].reset_index(drop=True)
    samples["age"] += 3 + rng.normal(0, 2, len(samples))
    record = audit_samples(
        samples,
        population.iloc[reference],
        s_samples=s_pop[drawn],
        y_samples=y_pop[drawn],
        s_reference=s_pop[reference],
        y_reference=y_pop[reference],
        train_rows=6000,
        n_bootstrap=100,
    )
    assert record["distribution_shift"]
    assert not record["flagged"]


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
    out = capsys.readouterr().out
    assert "verdict: FLAGGED (one-sided association test at level 0.05" in out
    assert "distribution_shift: " in out and "not a verdict" in out
    assert "train_rows: assumed 300 (the smaller of the samples' and the reference's" in out
    record = json.loads(output.read_text())
    assert record["flagged"] is True and record["dp_gap"] > 0.3
    assert record["n_samples"] == 600 and record["n_reference"] == 300
    assert record["train_rows"] == 300 and record["train_rows_assumed"] is True


def test_cli_takes_the_training_rows(files, capsys):
    args = ["audit", str(files / "samples.csv"), "--reference", str(files / "reference.parquet")]
    args += ["--label", "income", "--sensitive", "sex", "--positive", ">50K"]
    args += ["--privileged", "Male", "--tests", "association", "--bootstrap", "100"]
    assert main([*args, "--train-rows", "6000"]) == 0
    out = capsys.readouterr().out
    assert "train_rows: assumed" not in out and "distribution_shift:" not in out
    assert main([*args, "--tests", "distribution"]) == 2
    assert "must hold association" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["0", "-5", "1.5", "many", "1e400"])
def test_cli_names_a_bad_train_rows_value(files, capsys, bad):
    args = ["audit", str(files / "samples.csv"), "--reference", str(files / "reference.parquet")]
    args += ["--label", "income", "--sensitive", "sex", f"--train-rows={bad}"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"--train-rows must be a positive whole number of rows, got '{bad}'" in err


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


# -- the false-alarm benchmark -------------------------------------------------------------


def load_benchmark():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "audit_false_alarms.py"
    spec = importlib.util.spec_from_file_location("audit_false_alarms", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_false_alarm_benchmark_runs_on_a_small_sweep(tmp_path, capsys):
    """A fake sweep laid out as the workflow writes it: two unpoisoned seeds, one poisoned."""
    rng = np.random.default_rng(13)
    data = tmp_path / "results/data/adult"
    data.mkdir(parents=True)
    draw_table(rng, 3000)[0].to_parquet(data / "test.parquet")
    schema = {
        "numeric": ["age"],
        "categorical": ["job", "sex"],
        "label": "income",
        "positive": ">50K",
        "sensitive": "sex",
        "privileged": "Male",
        "categories": {"job": ["a", "b", "c"], "sex": ["Female", "Male"]},
    }
    (data / "schema.json").write_text(json.dumps(schema))
    models = {("none", "0", 0): RATES, ("none", "0", 1): RATES, ("mi_greedy", "0.5", 0): (0, 0.5)}
    for (attack, alpha, seed), rates in models.items():
        folder = tmp_path / f"results/samples/adult/tabddpm/attack~{attack}/alpha~{alpha}"
        (folder / f"seed~{seed}").mkdir(parents=True)
        draw_table(rng, 1000, rates=rates)[0].to_parquet(folder / f"seed~{seed}/samples.parquet")
    out, records = tmp_path / "summary.csv", tmp_path / "records.csv"
    code = load_benchmark().main(
        ["--results", str(tmp_path / "results"), "--sizes", "200", "5000", "--draws", "3"]
        + ["--bootstrap", "100", "--train-rows", "1000", "--out", str(out)]
        + ["--records", str(records)]
    )
    assert code == 0
    captured = capsys.readouterr()
    assert "skipping reference size 5000: the test split has 3000 rows" in captured.err
    summary = pd.read_csv(out)
    assert list(summary.columns) == load_benchmark().COLUMNS
    summary = summary.set_index("attack")
    assert summary.loc["none", "audits"] == 6 and summary.loc["none", "seeds"] == 2
    assert summary.loc["mi_greedy", "rate"] == 1.0 and summary.loc["mi_greedy", "audits"] == 3
    none = summary.loc["none"]
    assert 0 <= none["rate"] <= none["rate_upper"] <= 1 and none["level"] == 0.05
    assert 0 <= none["distribution_shift_rate"] <= 1
    table = pd.read_csv(records)
    assert len(table) == 9 and (table["train_rows"] == 1000).all()
    assert (table["size"] == 200).all() and table["n_reference"].eq(200).all()
    # Three different references per seed, the same for both attacks at seed 0.
    dp = table.set_index(["attack", "seed", "draw"])["dp_gap_reference"]
    assert dp.loc["none", 0].nunique() == 3
    assert (dp.loc["none", 0].to_numpy() == dp.loc["mi_greedy", 0].to_numpy()).all()
    assert "tabddpm" in captured.out
