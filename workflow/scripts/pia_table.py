import pandas as pd

from diffshare.logs import log_to
from diffshare.reporting.tables import generator_comparison, pia_table
from diffshare.storage import read_parquet, write_csv

with log_to(snakemake.log[0]) as log:
    estimates = pd.concat([read_parquet(path) for path in snakemake.input], ignore_index=True)
    table = pia_table(estimates, delta=snakemake.params.delta)
    comparison = generator_comparison(table, snakemake.params.reference)
    log.info("abs_error at the largest query count:\n%s", comparison.to_string())
    write_csv(table, snakemake.output[0])
