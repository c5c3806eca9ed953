import numpy as np
import pytest
from scipy import integrate, stats
from sklearn.metrics import mutual_info_score

from diffshare.attacks.fpa.information import DonskerVaradhanSums, discrete_mutual_information
from diffshare.attacks.fpa.mine import MineEstimator
from diffshare.errors import DataError


def test_discrete_mutual_information_matches_scikit_learn():
    rng = np.random.default_rng(0)
    s = rng.integers(0, 2, 2000)
    y = (rng.random(2000) < 0.2 + 0.5 * s).astype(int)
    assert discrete_mutual_information(s, y) == pytest.approx(mutual_info_score(s, y))
    assert discrete_mutual_information(s, s) == pytest.approx(mutual_info_score(s, s))
    assert discrete_mutual_information(s, np.zeros_like(s)) == 0.0


def gaussian_mixture_mutual_information(mu: float) -> float:
    """I(X;Y) in nats for Y ~ Bernoulli(1/2), X | Y ~ N(+-mu, 1), by numerical integration."""

    def density(x):
        return 0.5 * stats.norm.pdf(x, -mu, 1) + 0.5 * stats.norm.pdf(x, mu, 1)

    def conditional_entropy(x):
        p = np.clip(0.5 * stats.norm.pdf(x, mu, 1) / density(x), 1e-15, 1 - 1e-15)
        return -(p * np.log(p) + (1 - p) * np.log(1 - p))

    return np.log(2) - integrate.quad(lambda x: density(x) * conditional_entropy(x), -12, 12)[0]


@pytest.mark.parametrize("mu", [0.5, 1.0])
def test_mine_recovers_a_known_mutual_information(mu):
    rng = np.random.default_rng(1)
    n = 5000
    y = rng.integers(0, 2, n)
    informative = rng.normal(size=n) + mu * (2 * y - 1)
    x = np.column_stack([informative, rng.normal(size=(n, 3))])  # plus three noise features
    estimator = MineEstimator(steps=3000, learning_rate=1e-3, seed=0).fit(x, y)
    truth = gaussian_mixture_mutual_information(mu)
    assert estimator.estimate(x, y) == pytest.approx(truth, abs=0.03)


def test_running_sums_score_an_added_row_exactly():
    rng = np.random.default_rng(2)
    t, e0, e1 = rng.normal(size=50), np.exp(rng.normal(size=50)), np.exp(rng.normal(size=50))
    y = rng.integers(0, 2, 50)
    sums = DonskerVaradhanSums.of(t[:40], e0[:40], e1[:40], y[:40])
    scored = sums.with_rows(t[40:], e0[40:], e1[40:], y[40:])
    for k, j in enumerate(range(40, 50)):
        rows = np.r_[np.arange(40), j]
        assert scored[k] == pytest.approx(
            DonskerVaradhanSums.of(t[rows], e0[rows], e1[rows], y[rows]).value()
        )


def test_mine_refuses_a_non_binary_label():
    with pytest.raises(DataError, match="binary label"):
        MineEstimator(steps=1).fit(np.zeros((3, 2)), np.array([0, 1, 2]))
