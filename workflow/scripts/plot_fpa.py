import pandas as pd

from diffshare.fpa import plot_fpa
from diffshare.logs import log_to

with log_to(snakemake.log[0]):
    plot_fpa(pd.read_csv(snakemake.input[0]), snakemake.output[0])
