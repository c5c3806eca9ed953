"""The figure of the sharer's defenses: the attacker's estimate against the true share."""

from __future__ import annotations

import numpy as np
import pandas as pd

from diffshare.attacks.pia.estimate import ATTACKS
from diffshare.errors import DataError


def plot_defense_pia(table: pd.DataFrame, path: str, dataset: str = "") -> None:
    """Estimate against true ratio at the largest query count of a defense table
    (:func:`diffshare.defenses.pia.defense_table`): one panel per attack, one line per defense
    and setting (mean over seeds), the undefended ``none`` in black, and the identity line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from diffshare.storage import atomic_path

    attacks = [a for a in ATTACKS if a in set(table["attack"])]
    if not attacks:
        raise DataError("the defense table has no rows to plot")
    n = int(table["n_queries"].max())
    rows = table[table["n_queries"] == n]
    mean = rows.groupby(
        ["attack", "defense", "setting", "generator", "true_ratio"], as_index=False, sort=False
    )["estimate_mean"].mean()
    figure, axes = plt.subplots(
        1, len(attacks), figsize=(4.2 * len(attacks), 4), squeeze=False, constrained_layout=True
    )
    grid = np.linspace(0.0, 1.0, 11)
    for axis, attack in zip(axes[0], attacks, strict=True):
        axis.plot(grid, grid, color="grey", linewidth=0.8, linestyle=":", label="identity")
        for (defense, setting, generator), group in mean[mean["attack"] == attack].groupby(
            ["defense", "setting", "generator"], sort=False
        ):
            label = f"{defense} ({generator})" if defense == "none" else f"{defense} {setting}"
            style = {"color": "black", "linewidth": 2} if defense == "none" else {}
            group = group.sort_values("true_ratio")
            axis.plot(
                group["true_ratio"],
                group["estimate_mean"],
                "-o",
                markersize=4,
                label=label,
                **style,
            )
        axis.set(xlim=(0, 1), ylim=(0, 1), xlabel="true ratio", ylabel="estimate", title=attack)
        axis.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="upper left")
    figure.suptitle(f"Sharer's defenses against property inference on {dataset}: n={n}")
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120)
    plt.close(figure)
