from diffshare.data.schema import TableSchema
from diffshare.evaluation.fidelity import fidelity_record
from diffshare.logs import log_to
from diffshare.storage import read_json, read_parquet, write_json

with log_to(snakemake.log[0]) as log:
    record = fidelity_record(
        read_parquet(snakemake.input.train),
        read_parquet(snakemake.input.synthetic),
        TableSchema.from_dict(read_json(snakemake.input.schema)),
    )
    record = {
        "dataset": snakemake.wildcards.dataset,
        "seed": int(snakemake.wildcards.seed),
        **record,
    }
    log.info("%s", record)
    write_json(record, snakemake.output.fidelity)
