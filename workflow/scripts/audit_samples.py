from threadpoolctl import threadpool_limits

from diffshare.data.schema import TableSchema
from diffshare.defenses.audit import audit_record, audit_table
from diffshare.logs import log_to
from diffshare.storage import read_json, read_parquet, write_json

# One thread per job: OpenMP threads spinning on a busy machine cost more than they gain on
# these small fits, and the workflow runs many such jobs side by side.
with log_to(snakemake.log[0]) as log, threadpool_limits(snakemake.threads):
    schema = TableSchema.from_dict(read_json(snakemake.input.schema))
    samples = read_parquet(snakemake.input.samples)
    reference = read_parquet(snakemake.input.reference)
    record = audit_table(
        samples,
        reference,
        schema,
        **snakemake.params.audit,
        train_rows=snakemake.params.train_rows,
        seed=int(snakemake.wildcards.seed),
    )
    record = audit_record(record, **dict(snakemake.wildcards.items()))
    log.info("%s", record)
    write_json(record, snakemake.output.record)
