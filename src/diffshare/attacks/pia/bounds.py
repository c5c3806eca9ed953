"""Hoeffding's bound on the error of a share estimated from ``n`` samples (Theorem 1)."""

from __future__ import annotations

import math

from diffshare.errors import ConfigError


def hoeffding_eps(n_queries: int, delta: float = 0.05) -> float:
    """The smallest eps with ``2 exp(-2 n eps^2) <= delta``: ``sqrt(ln(2 / delta) / (2 n))``."""
    if int(n_queries) < 1:
        raise ConfigError(f"the query count must be at least 1, got {n_queries}")
    if not 0.0 < delta < 1.0:
        raise ConfigError(f"delta must be in (0, 1), got {delta}")
    return math.sqrt(math.log(2.0 / delta) / (2.0 * int(n_queries)))


def hoeffding_queries(eps: float, delta: float = 0.05) -> int:
    """The fewest queries whose Hoeffding bound at ``delta`` is at most ``eps``."""
    if eps <= 0.0:
        raise ConfigError(f"eps must be positive, got {eps}")
    if not 0.0 < delta < 1.0:
        raise ConfigError(f"delta must be in (0, 1), got {delta}")
    return math.ceil(math.log(2.0 / delta) / (2.0 * eps * eps))
