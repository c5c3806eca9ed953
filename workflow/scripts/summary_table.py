import pandas as pd

from diffshare.logs import log_to
from diffshare.reporting.summary import fpa_summary, pia_summary
from diffshare.storage import write_csv

# results/{fpa,pia}/{dataset}_summary.csv: means and 95% t intervals over seeds.
with log_to(snakemake.log[0]) as log:
    table = pd.read_csv(snakemake.input[0])
    summary = {"fpa": fpa_summary, "pia": pia_summary}[snakemake.params.table](table)
    log.info("%d rows from %d seeds", len(summary), table["seed"].nunique())
    write_csv(summary, snakemake.output[0])
