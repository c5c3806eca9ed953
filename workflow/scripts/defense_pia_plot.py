import pandas as pd

from diffshare.defenses.pia_plot import plot_defense_pia
from diffshare.logs import log_to

with log_to(snakemake.log[0]):
    plot_defense_pia(
        pd.read_csv(snakemake.input[0]), snakemake.output[0], dataset=snakemake.wildcards.dataset
    )
