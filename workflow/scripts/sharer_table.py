from diffshare.attacks.pia.property import Property
from diffshare.data.tabular import TableSchema
from diffshare.logs import log_to
from diffshare.storage import read_json, read_parquet, write_json, write_parquet
from diffshare.tracks.tabular import sharer_table

with log_to(snakemake.log[0]) as log:
    settings = snakemake.params.pia
    table, schema, record = sharer_table(
        read_parquet(snakemake.input.train),
        TableSchema.from_dict(read_json(snakemake.input.schema)),
        Property.from_config(settings["property"]),
        ratio=float(snakemake.wildcards.ratio),
        size=settings["subset_size"],
        seed=int(snakemake.wildcards.seed),
        hide_property=settings["hide_property"],
    )
    record = {"dataset": snakemake.wildcards.dataset, **record}
    log.info("%s", record)
    write_parquet(table, snakemake.output.table)
    write_json(schema.to_dict(), snakemake.output.schema)
    write_json(record, snakemake.output.record)
