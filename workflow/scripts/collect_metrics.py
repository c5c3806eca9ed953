from diffshare.io import write_csv
from diffshare.logs import log_to
from diffshare.results import BASELINE_COLUMNS, collect

with log_to(snakemake.log[0]):
    write_csv(collect(snakemake.input, BASELINE_COLUMNS), snakemake.output[0])
