from diffshare.logs import log_to
from diffshare.reporting.tables import BASELINE_COLUMNS, collect
from diffshare.storage import write_csv

with log_to(snakemake.log[0]):
    write_csv(collect(snakemake.input, BASELINE_COLUMNS), snakemake.output[0])
