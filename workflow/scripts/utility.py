from diffshare.io import write_csv
from diffshare.logs import log_to
from diffshare.results import utility_table

with log_to(snakemake.log[0]):
    table = utility_table(snakemake.input.real, snakemake.input.synthetic, snakemake.input.fidelity)
    write_csv(table, snakemake.output[0])
