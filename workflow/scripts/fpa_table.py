from diffshare.logs import log_to
from diffshare.reporting.tables import fpa_table
from diffshare.storage import read_json, write_csv

with log_to(snakemake.log[0]):
    table = fpa_table(
        [read_json(path) for path in snakemake.input.metrics],
        [read_json(path) for path in snakemake.input.selections],
    )
    write_csv(table, snakemake.output[0])
