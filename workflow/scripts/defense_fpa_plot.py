import pandas as pd

from diffshare.defenses.fpa_report import plot_defense_fpa
from diffshare.logs import log_to

with log_to(snakemake.log[0]):
    plot_defense_fpa(pd.read_csv(snakemake.input[0]), snakemake.output[0])
