from diffshare.defenses.audit import audit_summary
from diffshare.defenses.fpa_report import audit_table
from diffshare.logs import log_to
from diffshare.storage import read_json, write_csv

with log_to(snakemake.log[0]):
    table = audit_table(read_json(path) for path in snakemake.input.records)
    write_csv(table, snakemake.output.table)
    write_csv(audit_summary(table), snakemake.output.summary)
