"""Estimates of a property's share in the sharer's data from the receiver's samples.

:func:`estimate_property` is the one skeleton of both tracks: per-sample 0/1 indicators of the
attacks that need no discriminator (``column``, ``zero_shot``), the discriminator's labels for
``aux`` (:func:`~diffshare.attacks.pia.discriminator.discriminate`), then one estimate per
attack, query count and repeat from disjoint query batches (:func:`attack_estimates`), with the
rate correction ``(p_hat - FPR) / (TPR - FPR)`` for ``aux_corrected`` (:func:`correct`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from diffshare.attacks.pia.discriminator import PropertyDiscriminator, discriminate
from diffshare.errors import ConfigError, DataError

#: Every attack, in the order tables and figures show them: ``column`` reads the samples'
#: property column (tables), ``aux`` averages a discriminator's labels, ``aux_corrected``
#: corrects that average with the discriminator's rates, ``zero_shot`` asks CLIP (images).
ATTACKS = ("column", "aux", "aux_corrected", "zero_shot")
#: The attacks that train a discriminator on auxiliary data.
DISCRIMINATOR_ATTACKS = ("aux", "aux_corrected")


class UncorrectableError(DataError):
    """The discriminator is no better than chance (TPR <= FPR): ``aux_corrected`` cannot
    correct its estimate, though the other attacks still can run."""


def check_attacks(attacks: Sequence[str], supported: Sequence[str], track: str) -> bool:
    """Raise :class:`ConfigError` naming the ``attacks`` the ``track`` does not ``support``;
    return whether any of them needs a discriminator."""
    unknown = [a for a in attacks if a not in supported]
    if unknown:
        raise ConfigError(f"unknown {track} PIA attacks {unknown}; choose from {list(supported)}")
    return any(a in DISCRIMINATOR_ATTACKS for a in attacks)


def check_sample_count(n_samples: int, n_queries: int, repeats: int, hint: str = "") -> int:
    """The samples ``repeats`` disjoint batches of ``n_queries`` need; :class:`ConfigError` for
    a count below 1, :class:`DataError` (ending in ``hint``) when ``n_samples`` are fewer."""
    if n_queries < 1 or repeats < 1:
        raise ConfigError(f"query count and repeats must be positive, got {n_queries}, {repeats}")
    needed = n_queries * repeats
    if n_samples < needed:
        raise DataError(
            f"{repeats} disjoint batches of {n_queries} queries need {needed} samples, "
            f"but there are {n_samples}{hint}"
        )
    return needed


def batch_estimates(indicator: np.ndarray, n_queries: int, repeats: int) -> np.ndarray:
    """Means of ``repeats`` disjoint, consecutive batches of ``n_queries`` values, shape
    (repeats,)."""
    values = np.asarray(indicator, dtype=np.float64)
    needed = check_sample_count(len(values), n_queries, repeats)
    return values[:needed].reshape(repeats, n_queries).mean(axis=1)


def correct(estimates: np.ndarray, tpr: float, fpr: float) -> np.ndarray:
    """``(p_hat - FPR) / (TPR - FPR)`` clipped to [0, 1]: what a discriminator with these rates
    would report on data whose true share is the result."""
    if not tpr - fpr > 0.0:
        raise UncorrectableError(
            f"the property discriminator is no better than chance (TPR {tpr:.3f} <= FPR "
            f"{fpr:.3f}); its estimate cannot be corrected"
        )
    return np.clip((np.asarray(estimates, dtype=np.float64) - fpr) / (tpr - fpr), 0.0, 1.0)


def attack_estimates(
    indicators: Mapping[str, np.ndarray],
    attacks: Sequence[str],
    queries: Sequence[int],
    repeats: int,
    rates: Mapping[str, Any],
) -> pd.DataFrame:
    """One estimate per attack, query count and repeat from per-sample property indicators
    (``indicators[attack]``; ``aux_corrected`` reads ``aux`` and corrects it with
    ``rates["tpr"]`` and ``rates["fpr"]``). Columns ``attack, n_queries, repeat, estimate``."""
    rows = []
    for attack in attacks:
        source = "aux" if attack == "aux_corrected" else attack
        if source not in indicators:
            raise DataError(f"no property indicators for attack {attack!r}")
        for n in queries:
            values = batch_estimates(indicators[source], int(n), repeats)
            if attack == "aux_corrected":
                values = correct(values, rates["tpr"], rates["fpr"])
            rows += [
                {"attack": attack, "n_queries": int(n), "repeat": r, "estimate": float(v)}
                for r, v in enumerate(values)
            ]
    return pd.DataFrame.from_records(rows)


def estimate_property(
    n_samples: int,
    attacks: Sequence[str],
    queries: Sequence[int],
    repeats: int,
    indicators: Mapping[str, np.ndarray] | None = None,
    discriminator: PropertyDiscriminator | None = None,
    *,
    seed: int = 0,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every attack's estimates of the property's share from ``n_samples`` samples.

    ``indicators``: per-sample 0/1 values (shape (n_samples,)) of the attacks that need no
    discriminator. When ``attacks`` holds ``aux`` or ``aux_corrected``, the ``discriminator`` is
    fitted, rated and applied to the samples
    (:func:`~diffshare.attacks.pia.discriminator.discriminate`, with ``seed``).

    Returns the table of :func:`attack_estimates` (columns ``attack, n_queries, repeat,
    estimate``; repeat ``r`` of ``n`` queries reads samples ``r * n`` to ``(r + 1) * n - 1``)
    and a record: ``n_samples`` and, with a discriminator, its name, TPR, FPR and row counts.
    """
    indicators = dict(indicators or {})
    record: dict[str, Any] = {"n_samples": int(n_samples)}
    if any(a in DISCRIMINATOR_ATTACKS for a in attacks):
        if discriminator is None:
            raise ConfigError(
                f"attacks {[a for a in attacks if a in DISCRIMINATOR_ATTACKS]} need a discriminator"
            )
        name = discriminator.settings.classifier
        indicators["aux"], rates = discriminate(
            discriminator.model,
            discriminator.auxiliary,
            discriminator.truth,
            discriminator.samples,
            name=name,
            holdout=discriminator.settings.holdout,
            seed=seed,
        )
        record.update(rates)
        if "aux_corrected" in attacks and not rates["tpr"] - rates["fpr"] > 0.0:
            raise UncorrectableError(
                f"discriminator {name!r} is no better than chance on the "
                f"{rates['n_auxiliary_holdout']} held-out auxiliary rows (TPR {rates['tpr']:.3f} "
                f"<= FPR {rates['fpr']:.3f}), so aux_corrected cannot correct its estimate; "
                "choose another classifier or give it more auxiliary data"
            )
    return attack_estimates(indicators, attacks, queries, repeats, record), record
