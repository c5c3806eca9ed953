import pandas as pd

from diffshare.defenses.pia_plot import plot_defense_pia
from diffshare.logs import log_to

# The rows of defenses skipped for a family (their reason in `skipped`) hold no figures.
with log_to(snakemake.log[0]):
    table = pd.read_csv(snakemake.input[0], keep_default_na=False, na_values=[""])
    run = table["skipped"].isna() if "skipped" in table.columns else slice(None)
    plot_defense_pia(table[run], snakemake.output[0], dataset=snakemake.wildcards.dataset)
