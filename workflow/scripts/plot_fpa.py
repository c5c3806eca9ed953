import pandas as pd

from diffshare.logs import log_to
from diffshare.reporting.plots import plot_fpa

with log_to(snakemake.log[0]):
    plot_fpa(pd.read_csv(snakemake.input[0]), snakemake.output[0])
