from diffshare.logs import log_to
from diffshare.reporting.tables import utility_table
from diffshare.storage import write_csv

with log_to(snakemake.log[0]):
    table = utility_table(snakemake.input.real, snakemake.input.synthetic, snakemake.input.fidelity)
    write_csv(table, snakemake.output[0])
