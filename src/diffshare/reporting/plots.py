"""Figures of the result tables: fairness poisoning and property inference."""

from __future__ import annotations

import numpy as np
import pandas as pd

from diffshare.attacks.pia.bounds import hoeffding_eps
from diffshare.attacks.pia.estimate import ATTACKS
from diffshare.errors import DataError
from diffshare.reporting.summary import summarise


def _interval_bars(summary: pd.DataFrame, metric: str) -> np.ndarray | None:
    """Error bars (2, n) from the t intervals of ``metric`` in a summary; None with one seed."""
    if (summary["n_seeds"] < 2).any():
        return None
    mean = summary[f"{metric}_mean"].to_numpy()
    low, high = summary[f"{metric}_ci_low"].to_numpy(), summary[f"{metric}_ci_high"].to_numpy()
    return np.vstack([mean - low, high - mean])


def plot_fpa(table: pd.DataFrame, path: str) -> None:
    """Accuracy loss and fairness loss against alpha, one line per attack and classifier: the
    mean over seeds, with its 95% t interval as error bars once there are two or more seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from diffshare.storage import atomic_path

    figure, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    attacks = table[table["attack"] != "none"]
    summary = summarise(
        attacks, ["attack", "classifier", "alpha"], ["accuracy_loss", "fairness_loss"]
    )
    for (attack, classifier), group in summary.groupby(["attack", "classifier"]):
        style = "-o" if attack == "mi_greedy" else "--s"
        for axis, column in zip(axes, ["accuracy_loss", "fairness_loss"], strict=True):
            axis.errorbar(
                group["alpha"],
                group[f"{column}_mean"],
                yerr=_interval_bars(group, column),
                fmt=style,
                capsize=3,
                label=f"{attack}, {classifier}",
            )
    for axis, title in zip(
        axes, ["Accuracy loss", "Fairness loss (DP difference gain)"], strict=True
    ):
        axis.axhline(0.0, color="grey", linewidth=0.8)
        axis.set_xlabel("poisoning ratio alpha")
        axis.set_title(title)
        axis.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    dataset = table["dataset"].iloc[0] if len(table) else ""
    figure.suptitle(f"Fairness poisoning on {dataset}: receiver classifiers trained on samples")
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120)
    plt.close(figure)


def plot_pia(table: pd.DataFrame, path: str) -> None:
    """Estimate against true ratio at the largest query count: one panel per attack, one line
    per generator (the mean over seeds; error bars: its 95% t interval over seeds, or with one
    seed the std over repeats), the identity line and the Hoeffding band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from diffshare.storage import atomic_path

    attacks = [a for a in ATTACKS if a in set(table["attack"])]
    if not attacks:
        raise DataError("the PIA table has no rows to plot")
    n = int(table["n_queries"].max())
    rows = table[table["n_queries"] == n]
    keys = ["attack", "generator", "true_ratio"]
    mean = summarise(rows, keys, ["estimate_mean"]).merge(
        rows.groupby(keys, as_index=False)["estimate_std"].mean(), on=keys
    )
    figure, axes = plt.subplots(
        1, len(attacks), figsize=(4.2 * len(attacks), 4), squeeze=False, constrained_layout=True
    )
    grid = np.linspace(0.0, 1.0, 101)
    eps = hoeffding_eps(n)
    for axis, attack in zip(axes[0], attacks, strict=True):
        axis.fill_between(
            grid, grid - eps, grid + eps, color="grey", alpha=0.2, label=f"Hoeffding band, n={n}"
        )
        axis.plot(grid, grid, color="black", linewidth=0.8, label="identity")
        for offset, (generator, group) in enumerate(
            mean[mean["attack"] == attack].groupby("generator")
        ):
            bars = _interval_bars(group, "estimate_mean")
            axis.errorbar(
                group["true_ratio"] + 0.006 * (offset - 1),
                group["estimate_mean_mean"],
                yerr=group["estimate_std"] if bars is None else bars,
                fmt="-o",
                markersize=4,
                capsize=2,
                label=generator,
            )
        axis.set(xlim=(0, 1), ylim=(0, 1), xlabel="true ratio", ylabel="estimate", title=attack)
        axis.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="upper left")
    dataset = table["dataset"].iloc[0]
    figure.suptitle(f"Property inference on {dataset}: estimates from {n} samples")
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120)
    plt.close(figure)
