import numpy as np
import pytest

from diffshare.attacks.fpa.information import discrete_mutual_information
from diffshare.attacks.fpa.mine import MineEstimator
from diffshare.attacks.fpa.selection import greedy_mutual_information, label_flip, random_subset
from diffshare.errors import DataError


@pytest.fixture(scope="module")
def pool():
    """A small synthetic pool: features carry the label, the sensitive attribute is independent."""
    rng = np.random.default_rng(0)
    n = 3000
    s = rng.integers(0, 2, n)
    y = rng.integers(0, 2, n)
    x = np.column_stack([y + rng.normal(size=n), s + rng.normal(size=n), rng.normal(size=n)])
    mine = MineEstimator(steps=1500, learning_rate=1e-3, seed=0).fit(x, y)
    return s, y, x, mine


def test_greedy_selection_raises_dependence_and_keeps_the_task(pool):
    s, y, x, mine = pool
    target = mine.estimate(x, y)
    tolerance = 0.1 * target
    terms = mine.row_terms(x, y)
    selection = greedy_mutual_information(
        s, y, terms, 600, 0.5, tolerance=tolerance, target=target, seed=0
    )
    rows = selection.rows
    assert len(rows) == 600 and len(np.unique(rows)) == 600
    random = random_subset(s, y, 600)
    before = discrete_mutual_information(s[random.rows], random.labels)
    after = discrete_mutual_information(s[rows], selection.labels)
    assert after > before + 0.05
    assert abs(mine.estimate(x[rows], y[rows]) - target) <= tolerance
    assert (selection.labels == y[rows]).all()  # the greedy attack changes no label


def test_greedy_with_random_candidates_as_the_authors(pool):
    s, y, x, mine = pool
    target = mine.estimate(x, y)
    selection = greedy_mutual_information(
        s,
        y,
        mine.row_terms(x, y),
        400,
        0.3,
        tolerance=0.1 * target,
        target=target,
        candidates_per_cell=100,
    )
    assert len(np.unique(selection.rows)) == 400


def test_label_flip_sets_the_last_alpha_share_of_labels_to_s(pool):
    s, y, _, _ = pool
    selection = label_flip(s, y, 1000, 0.3, seed=4)
    assert (selection.labels[-300:] == s[selection.rows[-300:]]).all()
    assert (selection.labels[:700] == y[selection.rows[:700]]).all()
    assert selection.info["flipped"] == int(np.sum(selection.labels != y[selection.rows]))


def test_bad_alpha_and_size_are_named(pool):
    s, y, _, _ = pool
    with pytest.raises(DataError, match="alpha must be in"):
        label_flip(s, y, 100, 1.5)
    with pytest.raises(DataError, match="subset_size must be in"):
        random_subset(s, y, 10**6)
