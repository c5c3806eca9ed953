"""Tables and the figure of the receiver's defense against fairness poisoning:
results/audit/{dataset}.csv (one audit per shared model) and results/defense/fpa/{dataset}.csv
(one row per shared model, classifier and mitigation)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from diffshare.defenses.audit import AUDIT_COLUMNS
from diffshare.errors import DataError
from diffshare.reporting.tables import add_losses

#: Leading columns of results/audit/{dataset}.csv, in order.
AUDIT_TABLE_COLUMNS = ["dataset", "attack", "alpha", "seed", *AUDIT_COLUMNS]

#: Leading columns of results/defense/fpa/{dataset}.csv, in order.
DEFENSE_FPA_COLUMNS = [
    "dataset",
    "attack",
    "alpha",
    "seed",
    "classifier",
    "mitigation",
    "accuracy",
    "dp_difference",
    "eo_difference",
    "accuracy_loss",
    "fairness_loss",
    "recovered",
]


def audit_table(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The audit records (each with ``dataset, attack, alpha, seed`` and the audit's columns) as
    one table sorted by attack, alpha and seed."""
    table = pd.DataFrame.from_records(list(records))
    if table.empty:
        raise DataError("no audit records to collect")
    missing = [c for c in AUDIT_TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"audit records lack the fields {missing}")
    table["alpha"] = table["alpha"].astype(float)
    for column in ("flagged", "train_rows_assumed"):
        table[column] = table[column].astype(bool)
    # True/False, or null where the distribution test was left out: a nullable boolean.
    table["distribution_shift"] = table["distribution_shift"].astype("boolean")
    flags = ("flagged", "train_rows_assumed", "distribution_shift")
    for column in AUDIT_COLUMNS:  # a test left out is null in every record: NaN here
        if column not in flags and table[column].dtype == object:
            table[column] = pd.to_numeric(table[column], errors="raise").astype(float)
    table = table[AUDIT_TABLE_COLUMNS + [c for c in table.columns if c not in AUDIT_TABLE_COLUMNS]]
    return table.sort_values(["attack", "alpha", "seed"], kind="stable").reset_index(drop=True)


def _attack_and_alpha(source: str) -> tuple[str, float]:
    fields = dict(part.split("~", 1) for part in source.split("/")[1:])
    return fields["attack"], float(fields["alpha"])


def defense_fpa_table(
    unmitigated: Iterable[Mapping[str, Any]], mitigated: Iterable[Mapping[str, Any]]
) -> pd.DataFrame:
    """One row per attack, alpha, seed, classifier and mitigation (``none`` included).

    ``unmitigated`` are the FPA sweep's receiver metrics (``source`` =
    ``synthetic/attack~A/alpha~X``), ``mitigated`` the mitigations' (with ``attack``, ``alpha``
    and ``mitigation``). Against the unmitigated receiver on the unpoisoned model (attack
    ``none``) of the same seed and classifier: ``accuracy_loss`` = its accuracy - accuracy,
    ``fairness_loss`` = dp_difference - its dp_difference. ``recovered`` = 1 - fairness_loss /
    fairness_loss(unmitigated, same model and classifier): 1 when a mitigation removes all the
    fairness the attack cost, 0 when none of it, above 1 when it ends fairer than the
    unpoisoned receiver; empty (NaN) where the attack cost no fairness (unmitigated
    fairness_loss <= 0: nothing to recover), which includes every ``none`` model.
    """
    base = pd.DataFrame.from_records(list(unmitigated))
    if base.empty:
        raise DataError("no unmitigated receiver metrics")
    pairs = base["source"].map(_attack_and_alpha)
    base["attack"] = pairs.map(lambda pair: pair[0])
    base["alpha"] = pairs.map(lambda pair: pair[1])
    base["mitigation"] = "none"
    table = pd.DataFrame.from_records(list(mitigated))
    table = pd.concat([base, table], ignore_index=True) if not table.empty else base
    table["alpha"] = table["alpha"].astype(float)
    keys = ["attack", "alpha", "seed", "classifier", "mitigation"]
    if table.duplicated(keys).any():
        raise DataError(f"more than one row per {keys}")
    table = add_losses(table, base[base["attack"] == "none"], "unpoisoned ('none') receiver")
    model = ["attack", "alpha", "seed", "classifier"]
    unmitigated_loss = table[table["mitigation"] == "none"].set_index(model)["fairness_loss"]
    lost = unmitigated_loss.reindex(pd.MultiIndex.from_frame(table[model])).to_numpy()
    if np.isnan(lost).any():
        raise DataError("a mitigated receiver has no unmitigated counterpart")
    with np.errstate(divide="ignore", invalid="ignore"):
        recovered = 1.0 - table["fairness_loss"].to_numpy() / lost
    table["recovered"] = np.where(lost > 0, recovered, np.nan)
    table = table[DEFENSE_FPA_COLUMNS + [c for c in table.columns if c not in DEFENSE_FPA_COLUMNS]]
    order = {name: rank for rank, name in enumerate(["none", *sorted(set(table["mitigation"]))])}
    table = table.assign(_order=table["mitigation"].map(order))
    table = table.sort_values(["attack", "classifier", "_order", "seed", "alpha"], kind="stable")
    return table.drop(columns="_order").reset_index(drop=True)


def plot_defense_fpa(table: pd.DataFrame, path: str) -> None:
    """Per classifier (rows): accuracy loss and fairness loss against alpha, one line per
    mitigation (colour) and attack (line style), the mean over seeds, from the unpoisoned model
    at alpha 0."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from diffshare.storage import atomic_path

    # Every attack's line starts at alpha 0 from the unpoisoned model (attack `none`).
    unpoisoned = table[table["attack"] == "none"]
    attacks = pd.concat(
        [table[table["attack"] != "none"]]
        + [unpoisoned.assign(attack=attack) for attack in set(table["attack"]) - {"none"}],
        ignore_index=True,
    )
    classifiers = sorted(set(table["classifier"]))
    mitigations = list(dict.fromkeys(table["mitigation"]))
    colours = dict(zip(mitigations, plt.cm.tab10.colors, strict=False))
    figure, axes = plt.subplots(
        len(classifiers),
        2,
        figsize=(11, 3.6 * len(classifiers)),
        squeeze=False,
        constrained_layout=True,
    )
    means = (
        attacks.groupby(["classifier", "mitigation", "attack", "alpha"])[
            ["accuracy_loss", "fairness_loss"]
        ]
        .mean()
        .reset_index()
    )
    for row, classifier in enumerate(classifiers):
        for (mitigation, attack), group in means[means["classifier"] == classifier].groupby(
            ["mitigation", "attack"], sort=False
        ):
            for axis, column in zip(axes[row], ["accuracy_loss", "fairness_loss"], strict=True):
                axis.plot(
                    group["alpha"],
                    group[column],
                    "-o" if attack == "mi_greedy" else "--s",
                    color=colours[mitigation],
                    label=f"{mitigation}, {attack}",
                )
        for axis, title in zip(
            axes[row], ["Accuracy loss", "Fairness loss (DP difference gain)"], strict=True
        ):
            axis.axhline(0.0, color="grey", linewidth=0.8)
            axis.set_xlabel("poisoning ratio alpha")
            axis.set_title(f"{title}: {classifier}")
            axis.grid(alpha=0.3)
        axes[row][1].legend(fontsize=7)
    dataset = table["dataset"].iloc[0] if len(table) else ""
    figure.suptitle(
        f"Receiver's mitigations on {dataset}: losses against the unmitigated, unpoisoned receiver"
    )
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120)
    plt.close(figure)
