from diffshare.defenses.fpa_report import defense_fpa_table
from diffshare.logs import log_to
from diffshare.storage import read_json, write_csv

with log_to(snakemake.log[0]):
    table = defense_fpa_table(
        [read_json(path) for path in snakemake.input.unmitigated],
        [read_json(path) for path in snakemake.input.mitigated],
    )
    write_csv(table, snakemake.output[0])
